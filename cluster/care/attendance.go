package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// KindAttendanceCreate records a person arriving (reception or NHS 111).
const KindAttendanceCreate cluster.Kind = "attendance.create"

// Attendance statuses; the workflow's are in triage.go.
const (
	AttendanceArrived = "arrived"
)

// Attendance channels.
const (
	ChannelWalkIn    = "walk_in"
	ChannelNHS111    = "nhs111"
	ChannelAmbulance = "ambulance"
	ChannelReferral  = "referral"
)

var channels = map[string]bool{ChannelWalkIn: true, ChannelNHS111: true, ChannelAmbulance: true, ChannelReferral: true}

// Patient is who attended, as far as known at arrival: every field is
// optional (someone collapsing at the door has no name yet).
type Patient struct {
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DateOfBirth string `json:"date_of_birth,omitempty"` // YYYY-MM-DD
	NHSNumber   string `json:"nhs_number,omitempty"`    // Modulus 11 valid; stored as 10 digits
	Postcode    string `json:"postcode,omitempty"`
}

// AttendanceCreate is the payload of KindAttendanceCreate (the POST body).
type AttendanceCreate struct {
	Patient   Patient `json:"patient"`
	Complaint string  `json:"complaint"`
	Channel   string  `json:"channel,omitempty"` // default walk_in

	// Triage (triage.go): the protocol to run for the presenting complaint
	// (GET /v1/protocols?q= finds it), what is known for triage, and an NHS
	// 111 disposition, which is a minimum. With neither protocol nor dx the
	// attendance only records the arrival.
	Protocol string         `json:"protocol,omitempty"`
	Context  *TriageContext `json:"context,omitempty"`
	Dx       *DxReferral    `json:"dx,omitempty"`
	CaseRef  string         `json:"case_ref,omitempty"` // the NHS 111 case reference

	// Dispatch carries what a rapid response team needs (dispatch.go).
	Dispatch *DispatchDetails `json:"dispatch,omitempty"`

	// ClinicianNow: reception saw a life threat at the front door (one
	// keystroke, before anything else): the attendance is ed/immediate at
	// once and tops the queue; triage questions may follow.
	ClinicianNow bool `json:"clinician_now,omitempty"`

	// Expected: an NHS 111 system announces a patient it is sending; the
	// attendance is "expected" (triaged and routed as usual) until
	// reception checks them in (attendance.check_in).
	Expected bool `json:"expected,omitempty"`
}

// StatusChange is one step of an attendance's status timeline.
type StatusChange struct {
	Status string        `json:"status"`
	At     time.Time     `json:"at"`
	Index  uint64        `json:"index"`
	Actor  cluster.Actor `json:"actor"`
}

// Attendance is one visit to the centre. Later issues add the triage
// session, disposition, routing decision, registration and dispatch refs as
// further optional fields; the record is stored whole under its own key with
// secondary index keys for status and arrival order.
type Attendance struct {
	ID           string         `json:"id"`
	ArrivedAt    time.Time      `json:"arrived_at"` // FSM clock
	Status       string         `json:"status"`
	Channel      string         `json:"channel"`
	Patient      Patient        `json:"patient"`
	Complaint    string         `json:"complaint"`
	CreatedBy    cluster.Actor  `json:"created_by"`
	CreatedIndex uint64         `json:"created_index"`
	UpdatedIndex uint64         `json:"updated_index"`
	Timeline     []StatusChange `json:"timeline"`

	// Identity second (patient.go, registration.go): the patient record
	// linked once identity is known, and the GP registration made here.
	PatientID      string `json:"patient_id,omitempty"`
	RegistrationID string `json:"registration_id,omitempty"`

	// Triage and routing (triage.go, workflow.go).
	CaseRef       string         `json:"case_ref,omitempty"`
	Context       *TriageContext `json:"context,omitempty"`
	Triage        *TriageRecord  `json:"triage,omitempty"`
	Routing       *RoutingRecord `json:"routing,omitempty"`
	Overrides     []Override     `json:"overrides,omitempty"`
	Confirmations []Confirmation `json:"confirmations,omitempty"`

	// Dispatch details for a rapid response team, as given at creation.
	Dispatch *DispatchDetails `json:"dispatch,omitempty"`

	// Announced by NHS 111 (workflow.go): CheckInStatus is the workflow
	// status the attendance takes when reception checks them in, at
	// CheckedInAt (waiting times count from then).
	CheckInStatus string     `json:"check_in_status,omitempty"`
	CheckedInAt   *time.Time `json:"checked_in_at,omitempty"`

	// Clinician first (clinician_first.go): when the clinician is due, and
	// whether the lapse alert was raised.
	ClinicianDue    *time.Time `json:"clinician_due,omitempty"`
	ClinicianLapsed bool       `json:"clinician_lapsed,omitempty"`
	// AskingFor names the fields the attendance waits for (awaiting_address:
	// patient.postcode and dispatch.address).
	AskingFor []string `json:"asking_for,omitempty"`

	// loaded: what a command loaded of an attendance stored as small
	// records, so that only what changed is written (record.go).
	loaded *loadedParts
}

// AttendanceQuery filters View.Attendances.
type AttendanceQuery struct {
	Status string // "" -> every status
	Limit  int    // <= 0 -> no limit
}

var (
	postcodeFormat = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`)
)

// Validate checks the payload and returns field errors (nil when valid). It
// is pure, so the HTTP layer calls it before proposing (422, nothing
// proposed) and Apply calls it again, deterministically. now is the clock
// against which a date of birth must not be in the future.
func (a *AttendanceCreate) Validate(now time.Time) map[string]string {
	f := map[string]string{}
	p := a.Patient
	if len(p.GivenName) > directory.MaxTextLen {
		f["patient.given_name"] = "too long"
	}
	if len(p.FamilyName) > directory.MaxTextLen {
		f["patient.family_name"] = "too long"
	}
	if p.DateOfBirth != "" {
		if !directory.DatePattern.MatchString(p.DateOfBirth) {
			f["patient.date_of_birth"] = "must be YYYY-MM-DD"
		} else if d, err := time.Parse("2006-01-02", p.DateOfBirth); err != nil {
			f["patient.date_of_birth"] = "not a calendar date"
		} else if !now.IsZero() && d.After(now) {
			f["patient.date_of_birth"] = "in the future"
		}
	}
	if p.NHSNumber != "" {
		if err := routing.ValidateNHSNumber(p.NHSNumber); err != nil {
			f["patient.nhs_number"] = nhsNumberProblem(err)
		}
	}
	if p.Postcode != "" && !postcodeFormat.MatchString(strings.ToUpper(strings.TrimSpace(p.Postcode))) {
		f["patient.postcode"] = "not a UK postcode"
	}
	if strings.TrimSpace(a.Complaint) == "" {
		f["complaint"] = "required"
	} else if len(a.Complaint) > directory.MaxTextLen {
		f["complaint"] = "too long"
	}
	if a.Channel != "" && !channels[a.Channel] {
		f["channel"] = "must be one of walk_in, nhs111, ambulance, referral"
	}
	if a.Expected && a.Channel != ChannelNHS111 {
		f["expected"] = "only an NHS 111 referral (channel nhs111) can be announced before arrival"
	}
	a.validateTriage(f)
	a.Dispatch.Validate(f)
	if len(f) == 0 {
		return nil
	}
	return f
}

func attendanceCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindAttendanceCreate, Since: 1, IDs: 1, Check: cluster.CheckOnly(checkAttendanceCreate), Apply: applyAttendanceCreate, Reread: rereadAttendance},
	}
}

func applyAttendanceCreate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var req AttendanceCreate
	if err := cluster.DecodeStrict(raw, &req); err != nil {
		return nil, &cluster.CommandError{Code: cluster.CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	if fields := req.Validate(tx.Now()); fields != nil {
		return nil, cluster.Invalid(fields)
	}
	if ce := req.refuseBeforeV3(tx.LogicVersion()); ce != nil {
		return nil, ce
	}
	if ce := req.refuseBeforeV4(tx.LogicVersion()); ce != nil {
		return nil, ce
	}
	if err := resolveContextPractice(tx, req.Context); err != nil {
		return nil, err
	}
	a, err := createAttendance(tx, &req, "")
	if err != nil {
		return nil, err
	}
	tx.Audit("attendance.create", "attendance/"+a.ID, map[string]string{"channel": a.Channel, "status": a.Status})
	return attendanceResult(tx, a), nil
}

// createAttendance writes a new attendance from a validated request
// (linked to patientID when not ""), triaged and routed as the request
// asks; applyAttendanceCreate and a BaRS referral (referral.go) share it.
func createAttendance(tx *cluster.Tx, req *AttendanceCreate, patientID string) (*Attendance, error) {
	id, err := tx.NewID()
	if err != nil {
		return nil, err
	}
	if req.Channel == "" {
		req.Channel = ChannelWalkIn
	}
	if req.Patient.NHSNumber != "" {
		// Stored as ten digits so lookups by NHS number match however it was typed.
		req.Patient.NHSNumber, _ = routing.NormaliseNHSNumber(req.Patient.NHSNumber)
	}
	if req.Patient.Postcode != "" {
		req.Patient.Postcode = strings.ToUpper(strings.TrimSpace(req.Patient.Postcode))
	}
	a := &Attendance{
		ID:           id,
		ArrivedAt:    tx.Now(),
		Status:       AttendanceArrived,
		Channel:      req.Channel,
		Patient:      req.Patient,
		Complaint:    req.Complaint,
		CreatedBy:    tx.Actor(),
		CreatedIndex: tx.Index(),
		Timeline:     []StatusChange{{Status: AttendanceArrived, At: tx.Now(), Index: tx.Index(), Actor: tx.Actor()}},
		CaseRef:      req.CaseRef,
		Context:      req.Context,
		Dispatch:     req.Dispatch,
		PatientID:    patientID,
	}
	if req.Expected {
		a.Status, a.CheckInStatus = AttendanceExpected, AttendanceArrived
		a.Timeline[0].Status = AttendanceExpected
	}
	if err := startTriage(tx, a, req); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, ""); err != nil {
		return nil, err
	}
	return a, nil
}

// putAttendance is storeAttendance returning the attendance's JSON as the
// API shows it, for a result that holds it beside other things.
func putAttendance(tx *cluster.Tx, a *Attendance, oldStatus string) (json.RawMessage, error) {
	if err := storeAttendance(tx, a, oldStatus); err != nil {
		return nil, err
	}
	return attendanceJSON(tx, a)
}

// attendanceResult is a command's result when it is the attendance a
// command stored: its JSON is built only where the command was proposed,
// and a retry reads the attendance again (cluster/resource.go).
func attendanceResult(tx *cluster.Tx, a *Attendance) *cluster.Resource {
	return &cluster.Resource{ID: a.ID, Build: func() (json.RawMessage, error) { return attendanceJSON(tx, a) }}
}

// rereadAttendance is the Reread of the commands that return
// attendanceResult: the attendance as the API shows it now.
func rereadAttendance(r cluster.Reader, id string) (json.RawMessage, bool, error) {
	a, err := In(r).attendanceState(id)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	b, err := attendanceJSON(r, a)
	return b, err == nil, err
}

// storeAttendance writes an attendance and keeps its secondary indexes in
// step; oldStatus is the status it had before ("" for a new record).
func storeAttendance(tx *cluster.Tx, a *Attendance, oldStatus string) error {
	a.UpdatedIndex = tx.Index()
	// From logic version 13 an index key the stored record already has is
	// not written again: a record stored as parts was stored with its
	// index keys (below), and only this function deletes one (a status
	// left) or purge deletes them all with the record. A key this command
	// deleted itself is written again.
	var was *indexedAs
	if a.loaded != nil && tx.LogicVersion() >= logicIndexOnce {
		w := a.loaded.indexed
		was = &w
	}
	index := func(key string, stored bool) {
		if !stored || tx.Deleted(key) {
			tx.PutRaw(key, nil)
		}
	}
	if oldStatus != "" && oldStatus != a.Status {
		tx.Delete(keyAttendanceByStatus(oldStatus, a.ArrivedAt, a.ID))
	}
	if err := putRecord(tx, a); err != nil {
		return err
	}
	index(keyAttendanceByStatus(a.Status, a.ArrivedAt, a.ID), was != nil && was.status == a.Status)
	if oldStatus == "" {
		tx.PutRaw(keyAttendanceByArrival(a.ArrivedAt, a.ID), nil)
	}
	// Earlier contacts of the same person (triage.go previousContacts).
	if a.Patient.NHSNumber != "" {
		index(keyAttendanceByPerson(prefixByNHS, a.Patient.NHSNumber, a.ArrivedAt, a.ID), was != nil && was.nhs == a.Patient.NHSNumber)
	}
	if a.PatientID != "" {
		index(keyAttendanceByPerson(prefixByPatientID, a.PatientID, a.ArrivedAt, a.ID), was != nil && was.patientID == a.PatientID)
	}
	if a.loaded != nil {
		a.loaded.indexed = indexedAs{a.Status, a.Patient.NHSNumber, a.PatientID}
	}
	return queueEvent(tx, a)
}

// logicIndexOnce: from logic version 13 storeAttendance writes only the
// index keys the stored record does not have yet.
const logicIndexOnce = 13

// nhsNumberProblem is the field message for a refused NHS number: the
// reason, without echoing the number back.
func nhsNumberProblem(err error) string {
	for _, sentinel := range []error{
		routing.ErrNHSNumberLength, routing.ErrNHSNumberCharacters, routing.ErrNHSNumberCheckTen,
		routing.ErrNHSNumberCheck, routing.ErrNHSNumberRepeated,
	} {
		if errors.Is(err, sentinel) {
			return sentinel.Error()
		}
	}
	return "not a valid NHS number"
}

// Attendance returns one attendance, whole (ErrNotFound).
func (v State) Attendance(id string) (*Attendance, error) {
	a, err := v.attendanceState(id)
	if err != nil || a.loaded == nil {
		return a, err
	}
	b, err := attendanceJSON(v.r, a)
	if err != nil {
		return nil, err
	}
	var whole Attendance
	if err := json.Unmarshal(b, &whole); err != nil {
		return nil, fmt.Errorf("decode attendance %s: %w", id, err)
	}
	return &whole, nil
}

// attendanceState returns one attendance's current state without its
// answer and routing history logs (as a command loads it): what the queue
// and the deadline watch read (ErrNotFound).
func (v State) attendanceState(id string) (*Attendance, error) {
	raw, found, err := v.r.GetRaw(keyAttendance(id))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, cluster.ErrNotFound
	}
	return decodeStored(v.r, id, raw)
}

// Attendances lists attendances in order of arrival, optionally only those
// with q.Status.
func (v State) Attendances(q AttendanceQuery) ([]*Attendance, error) {
	prefix := prefixArrival
	if q.Status != "" {
		prefix = prefixByStatus + q.Status + "/"
	}
	var out []*Attendance
	errStop := errors.New("stop")
	err := v.r.Keys(prefix, "", func(key string) error {
		id := key[strings.LastIndexByte(key, '/')+1:]
		a, err := v.Attendance(id)
		if err != nil {
			return fmt.Errorf("attendance index %s: %w", key, err)
		}
		out = append(out, a)
		if q.Limit > 0 && len(out) >= q.Limit {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return out, nil
}
