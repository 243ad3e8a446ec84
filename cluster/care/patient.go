package care

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Patients: identity comes second. An attendance may start with no name
// (someone collapsed at the door); a patient record is created or found
// later and linked to it. Matching only proposes candidates with reasons
// (routing.Match); nothing is ever merged automatically.
const (
	KindPatientCreate     cluster.Kind = "patient.create"
	KindAttendancePatient cluster.Kind = "attendance.patient" // link an attendance to a patient record
)

// Key layout (see keys.go):
//
//	p/<id>                           PatientRecord
//	px/nhs/<nhs number>/<id>         by NHS number
//	px/dob/<date of birth>/<id>      by date of birth   } blocking keys for
//	px/fam/<normalised surname>/<id> by surname         } candidate matching
//	px/pc/<postcode, no space>/<id>  by postcode        }
const (
	prefixPatient  = "p/"
	prefixPatNHS   = "px/nhs/"
	prefixPatDOB   = "px/dob/"
	prefixPatFam   = "px/fam/"
	prefixPatPcode = "px/pc/"
)

// patientSexes are the sexes a patient record takes.
var patientSexes = map[string]bool{"": true, "female": true, "male": true, "other": true, "unknown": true}

// PatientRecord is a person known to the centre.
type PatientRecord struct {
	ID           string        `json:"id"`
	NHSNumber    string        `json:"nhs_number,omitempty"` // 10 digits, Modulus 11 valid
	GivenName    string        `json:"given_name"`
	FamilyName   string        `json:"family_name"`
	DateOfBirth  string        `json:"date_of_birth"` // YYYY-MM-DD
	Sex          string        `json:"sex,omitempty"`
	Postcode     string        `json:"postcode,omitempty"`
	Phone        string        `json:"phone,omitempty"`
	NoFixedAbode bool          `json:"no_fixed_abode,omitempty"`
	GPPractice   string        `json:"gp_practice,omitempty"` // ODS code of the registered practice; "" none known
	CreatedAt    time.Time     `json:"created_at"`
	CreatedBy    cluster.Actor `json:"created_by"`
	CreatedIndex uint64        `json:"created_index"`
	UpdatedIndex uint64        `json:"updated_index"`
}

func (p *PatientRecord) person() routing.Person {
	return routing.Person{ID: p.ID, NHSNumber: p.NHSNumber, GivenName: p.GivenName, FamilyName: p.FamilyName,
		DateOfBirth: p.DateOfBirth, Postcode: p.Postcode}
}

// PatientCreate is the payload of KindPatientCreate (the POST body).
// ConfirmNew creates the record even when likely matches exist (the
// caller has looked at them and this is someone else).
type PatientCreate struct {
	NHSNumber    string `json:"nhs_number,omitempty"`
	GivenName    string `json:"given_name"`
	FamilyName   string `json:"family_name"`
	DateOfBirth  string `json:"date_of_birth"`
	Sex          string `json:"sex,omitempty"`
	Postcode     string `json:"postcode,omitempty"`
	Phone        string `json:"phone,omitempty"`
	NoFixedAbode bool   `json:"no_fixed_abode,omitempty"`
	GPPractice   string `json:"gp_practice,omitempty"`
	ConfirmNew   bool   `json:"confirm_new,omitempty"`
}

// AttendancePatient is the payload of KindAttendancePatient.
type AttendancePatient struct {
	AttendanceID string `json:"attendance_id"`
	PatientID    string `json:"patient_id"`
}

var (
	phonePattern = regexp.MustCompile(`^\+?[0-9 ()-]{6,20}$`)
	odsPattern   = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)
)

// likelyMatchScore is the routing.Match score from which a new record is
// refused unless confirmed: date of birth and surname, or more.
const likelyMatchScore = 70

// validateDOB checks a date of birth field (pure).
func validateDOB(f map[string]string, field, dob string, now time.Time, required bool) {
	switch {
	case dob == "" && required:
		f[field] = "required"
	case dob == "":
	case !directory.DatePattern.MatchString(dob):
		f[field] = "must be YYYY-MM-DD"
	default:
		d, err := time.Parse("2006-01-02", dob)
		if err != nil {
			f[field] = "not a calendar date"
		} else if !now.IsZero() && d.After(now) {
			f[field] = "in the future"
		}
	}
}

func validatePostcode(f map[string]string, field, pc string) {
	if pc != "" && !postcodeFormat.MatchString(strings.ToUpper(strings.TrimSpace(pc))) {
		f[field] = "not a UK postcode"
	}
}

func validateNHS(f map[string]string, field, nhs string) {
	if nhs != "" {
		if err := routing.ValidateNHSNumber(nhs); err != nil {
			f[field] = nhsNumberProblem(err)
		}
	}
}

// Validate returns field errors (nil when valid); pure, run by the HTTP
// layer before proposing and by Apply.
func (p *PatientCreate) Validate(now time.Time) map[string]string {
	f := map[string]string{}
	for field, v := range map[string]string{"given_name": p.GivenName, "family_name": p.FamilyName} {
		switch {
		case strings.TrimSpace(v) == "":
			f[field] = "required (an unnamed patient stays on the attendance until named)"
		case len(v) > directory.MaxTextLen:
			f[field] = "too long"
		}
	}
	validateDOB(f, "date_of_birth", p.DateOfBirth, now, true)
	validateNHS(f, "nhs_number", p.NHSNumber)
	validatePostcode(f, "postcode", p.Postcode)
	if !patientSexes[p.Sex] {
		f["sex"] = "must be female, male, other or unknown"
	}
	if p.Phone != "" && !phonePattern.MatchString(p.Phone) {
		f["phone"] = "not a phone number"
	}
	if p.GPPractice != "" && !odsPattern.MatchString(p.GPPractice) {
		f["gp_practice"] = "must be an ODS code (3-10 capital letters and digits)"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

func patientCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindPatientCreate, Since: 1, IDs: 1, Apply: applyPatientCreate},
		{Kind: KindAttendancePatient, Since: 1, Apply: applyAttendancePatient, Reread: rereadAttendance},
	}
}

func applyPatientCreate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in PatientCreate
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if f := in.Validate(tx.Now()); f != nil {
		return nil, cluster.Invalid(f)
	}
	rec := &PatientRecord{GivenName: strings.TrimSpace(in.GivenName), FamilyName: strings.TrimSpace(in.FamilyName),
		DateOfBirth: in.DateOfBirth, Sex: in.Sex, Phone: in.Phone, NoFixedAbode: in.NoFixedAbode, GPPractice: in.GPPractice}
	if in.NHSNumber != "" {
		rec.NHSNumber, _ = routing.NormaliseNHSNumber(in.NHSNumber)
	}
	if in.Postcode != "" {
		rec.Postcode = routing.NormalisePostcode(in.Postcode)
	}
	if rec.NHSNumber != "" {
		var existing string
		if err := tx.Scan(prefixPatNHS+rec.NHSNumber+"/", "", func(key string, _ []byte) error {
			existing = key[strings.LastIndexByte(key, '/')+1:]
			return nil
		}); err != nil {
			return nil, err
		}
		if existing != "" {
			return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "a patient with this NHS number is already recorded: use patient " + existing,
				Fields: map[string]string{"nhs_number": "already recorded for patient " + existing}}
		}
	}
	cands, err := matchPatients(tx, rec.person(), likelyMatchScore)
	if err != nil {
		return nil, err
	}
	likely := map[string]string{}
	for _, c := range cands {
		if c.Score >= likelyMatchScore {
			likely["candidates."+c.Patient.ID] = fmt.Sprintf("score %d: %s", c.Score, strings.Join(c.Reasons, ", "))
		}
	}
	if len(likely) > 0 && !in.ConfirmNew {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Fields: likely,
			Message: fmt.Sprintf("%d existing patient(s) look like this one: link one of them, or send confirm_new: true if this is someone else", len(likely))}
	}
	id, err := tx.NewID()
	if err != nil {
		return nil, err
	}
	rec.ID, rec.CreatedAt, rec.CreatedBy, rec.CreatedIndex = id, tx.Now(), tx.Actor(), tx.Index()
	b, err := putPatient(tx, rec)
	if err != nil {
		return nil, err
	}
	tx.Audit("patient.create", "patient/"+id, map[string]any{"confirmed_new": in.ConfirmNew, "likely_matches": len(likely)})
	return b, nil
}

// putPatient writes a patient and its blocking keys (which never change:
// the fields they index are set at creation). From logic version
// logicMatchIndex each blocking key holds the fields matching compares, so
// that matching a block (a common surname, a shared postcode: hundreds of
// records in a centre's year) reads no patient record.
func putPatient(tx *cluster.Tx, p *PatientRecord) (json.RawMessage, error) {
	p.UpdatedIndex = tx.Index()
	b, err := tx.PutJSON(prefixPatient+p.ID, p)
	if err != nil {
		return nil, err
	}
	var fields []byte
	if tx.LogicVersion() >= logicMatchIndex {
		fields = encodeMatchFields(p)
	}
	for _, k := range patientIndexKeys(p) {
		tx.PutRaw(k, fields)
	}
	return b, nil
}

// logicMatchIndex is the logic version from which the patient blocking
// keys carry the fields matching compares (encodeMatchFields). Matching
// decides the same either way: a key written before holds nothing, and
// the record is read instead.
const logicMatchIndex = 6

// matchFieldsFormat is byte 0 of a blocking key's value.
const matchFieldsFormat = 1

// encodeMatchFields is the value of p's blocking keys: a format byte, then
// id, NHS number, given name, family name, date of birth and postcode, each
// as a uvarint length and its bytes.
func encodeMatchFields(p *PatientRecord) []byte {
	fs := [...]string{p.ID, p.NHSNumber, p.GivenName, p.FamilyName, p.DateOfBirth, p.Postcode}
	n := 1
	for _, f := range fs {
		n += binary.MaxVarintLen64 + len(f)
	}
	b := make([]byte, 1, n)
	b[0] = matchFieldsFormat
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// decodeMatchFields reads encodeMatchFields' value.
func decodeMatchFields(b []byte) (routing.Person, error) {
	if len(b) == 0 || b[0] != matchFieldsFormat {
		return routing.Person{}, fmt.Errorf("patient blocking key: unknown format")
	}
	var fs [6]string
	b = b[1:]
	for i := range fs {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return routing.Person{}, fmt.Errorf("patient blocking key: field %d truncated", i)
		}
		fs[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	return routing.Person{ID: fs[0], NHSNumber: fs[1], GivenName: fs[2], FamilyName: fs[3], DateOfBirth: fs[4], Postcode: fs[5]}, nil
}

func patientIndexKeys(p *PatientRecord) []string {
	var out []string
	if p.NHSNumber != "" {
		out = append(out, prefixPatNHS+p.NHSNumber+"/"+p.ID)
	}
	if p.DateOfBirth != "" {
		out = append(out, prefixPatDOB+p.DateOfBirth+"/"+p.ID)
	}
	if f := routing.NormaliseName(p.FamilyName); f != "" {
		out = append(out, prefixPatFam+f+"/"+p.ID)
	}
	if pc := strings.ReplaceAll(p.Postcode, " ", ""); pc != "" {
		out = append(out, prefixPatPcode+pc+"/"+p.ID)
	}
	return out
}

// PatientCandidate is one possible match for a search, with its reasons.
type PatientCandidate struct {
	Patient *PatientRecord `json:"patient"`
	Score   int            `json:"score"`
	Exact   bool           `json:"exact,omitempty"` // same NHS number
	Reasons []string       `json:"reasons"`
}

// matchPatients ranks the records sharing the query's NHS number, date of
// birth, surname or postcode (blocking keys) with routing.MatchAtLeast,
// keeping those scoring min or more (a search: any Match keeps; a new
// record: the likely matches that refuse it): highest score first, ties by
// id. Deterministic: candidate ids are gathered in key order, and
// MatchAtLeast's order (score, then id) is total over distinct ids.
func matchPatients(txn cluster.Reader, q routing.Person, min int) ([]PatientCandidate, error) {
	var prefixes []string
	if n, err := routing.NormaliseNHSNumber(q.NHSNumber); err == nil {
		prefixes = append(prefixes, prefixPatNHS+n+"/")
	}
	if q.DateOfBirth != "" {
		prefixes = append(prefixes, prefixPatDOB+q.DateOfBirth+"/")
	}
	if f := routing.NormaliseName(q.FamilyName); f != "" {
		prefixes = append(prefixes, prefixPatFam+f+"/")
	}
	if pc := strings.ReplaceAll(routing.NormalisePostcode(q.Postcode), " ", ""); pc != "" {
		prefixes = append(prefixes, prefixPatPcode+pc+"/")
	}
	// Blocks can be large (a common surname, a shared postcode): read the
	// fields Match compares from the blocking keys (or, for a key written
	// before logicMatchIndex, from the record), and the whole record only
	// of those Match returns.
	seen := map[string]bool{}
	var persons []routing.Person
	for _, pfx := range prefixes {
		if err := txn.Scan(pfx, "", func(key string, val []byte) error {
			id := key[strings.LastIndexByte(key, '/')+1:]
			if id == q.ID || seen[id] {
				return nil
			}
			seen[id] = true
			if len(val) > 0 {
				p, err := decodeMatchFields(val)
				if err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
				persons = append(persons, p)
				return nil
			}
			b, ok, err := txn.GetRaw(prefixPatient + id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("patient index names missing patient %s", id)
			}
			var p matchFields
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("decode patient %s: %w", id, err)
			}
			persons = append(persons, routing.Person{ID: p.ID, NHSNumber: p.NHSNumber, GivenName: p.GivenName,
				FamilyName: p.FamilyName, DateOfBirth: p.DateOfBirth, Postcode: p.Postcode})
			return nil
		}); err != nil {
			return nil, err
		}
	}
	// No sort here: MatchAtLeast orders by score, then id, and every
	// person is another id, so the order they were read in does not show.
	var out []PatientCandidate
	for _, m := range routing.MatchAtLeast(q, persons, min) {
		b, ok, err := txn.GetRaw(prefixPatient + m.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("patient index names missing patient %s", m.ID)
		}
		var rec PatientRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decode patient %s: %w", m.ID, err)
		}
		out = append(out, PatientCandidate{Patient: &rec, Score: m.Score, Exact: m.Exact, Reasons: m.Reasons})
	}
	return out, nil
}

// matchFields are the fields of a PatientRecord that matching compares
// (PatientRecord.person).
type matchFields struct {
	ID          string `json:"id"`
	NHSNumber   string `json:"nhs_number"`
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	DateOfBirth string `json:"date_of_birth"`
	Postcode    string `json:"postcode"`
}

func applyAttendancePatient(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in AttendancePatient
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if in.PatientID == "" {
		return nil, cluster.Invalid(map[string]string{"patient_id": "required"})
	}
	a, found, err := getAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no attendance " + in.AttendanceID}
	}
	var p PatientRecord
	found, err = tx.Get(prefixPatient+in.PatientID, &p)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no patient " + in.PatientID,
			Fields: map[string]string{"patient_id": "no such patient"}}
	}
	if a.PatientID != "" && a.PatientID != p.ID {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already linked to patient " + a.PatientID,
			Fields: map[string]string{"patient_id": "attendance already linked to " + a.PatientID}}
	}
	named := a.Patient.GivenName == "" && a.Patient.FamilyName == ""
	old := a.Status
	a.PatientID = p.ID
	given := a.Patient.Postcode
	a.Patient = Patient{GivenName: p.GivenName, FamilyName: p.FamilyName, DateOfBirth: p.DateOfBirth,
		NHSNumber: p.NHSNumber, Postcode: p.Postcode}
	if a.Patient.Postcode == "" && tx.LogicVersion() >= logicTriageRules1 {
		a.Patient.Postcode = given // where they are now, when the record knows no postcode
	}
	// A rapid response need waiting for where the patient is (address.go)
	// is routed once the record gives a postcode.
	if err := routeWhenAddressed(tx, a, "patient linked: postcode known"); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.patient", "attendance/"+a.ID, map[string]any{"patient_id": p.ID, "named_later": named})
	tx.Audit("attendance.patient", "patient/"+p.ID, map[string]any{"attendance_id": a.ID})
	return attendanceResult(tx, a), nil
}

// Patient returns one patient record (ErrNotFound).
func (v State) Patient(id string) (*PatientRecord, error) {
	var p PatientRecord
	if err := v.get(prefixPatient+id, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// MatchPatients returns the ranked candidates for a search by NHS number
// or by name, date of birth and postcode (a score of 40 or more; the same
// NHS number first). It proposes only; the caller decides.
func (v State) MatchPatients(q routing.Person) ([]PatientCandidate, error) {
	if q.Postcode != "" {
		q.Postcode = routing.NormalisePostcode(q.Postcode)
	}
	return matchPatients(v.r, q, 0)
}
