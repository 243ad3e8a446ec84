package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// BaRS referrals (logic version 9): an NHS 111 referral received as a FHIR
// servicerequest-request message (cmd/frontdoor/internal/bars maps the
// Bundle) becomes an expected nhs111 attendance in one command, with the
// patient found by NHS number or created, and a referral record that keeps
// the sender's ServiceRequest and message ids and the observations sent.
// A revoked ServiceRequest (a cancellation) closes the attendance while it
// is still expected.
const (
	KindReferralReceive cluster.Kind = "referral.receive"
	KindReferralCancel  cluster.Kind = "referral.cancel"
)

// Key layout:
//
//	rf/<referral id>                 Referral
//	rfx/sr/<sender's ServiceRequest id>   -> referral id
//	rfx/ax/<attendance id>                -> referral id
const (
	prefixReferral          = "rf/"
	prefixReferralBySR      = "rfx/sr/"
	prefixReferralByAtt     = "rfx/ax/"
	ReferralActive          = "active"
	ReferralRevoked         = "revoked"
	maxReferralObservations = 64
)

// ReferralObservation is one Observation of the referral as sent: its code
// and what it said (a value, or a note).
type ReferralObservation struct {
	ID      string `json:"observation_id,omitempty"` // the sender's Observation id
	System  string `json:"code_system,omitempty"`
	Code    string `json:"observation_code"`
	Display string `json:"observation_display,omitempty"`
	Value   string `json:"observation_value,omitempty"`
	Note    string `json:"observation_note,omitempty"`
}

// ReferralReceive is the payload of KindReferralReceive.
type ReferralReceive struct {
	MessageID        string `json:"message_id"`         // MessageHeader.id (or Bundle.id)
	ServiceRequestID string `json:"service_request_id"` // the sender's ServiceRequest.id
	// Target is the receiving service (NHSD-Target-Identifier): a service
	// id or ODS code of the directory.
	Target string `json:"target"`
	// Patient is found by NHSNumber, or created from these details.
	Patient      *PatientCreate        `json:"patient,omitempty"`
	Attendance   AttendanceCreate      `json:"attendance"`
	Observations []ReferralObservation `json:"observations,omitempty"`
}

// ReferralCancel is the payload of KindReferralCancel.
type ReferralCancel struct {
	MessageID        string `json:"message_id"`
	ServiceRequestID string `json:"service_request_id"`
	Target           string `json:"target"`
}

// Referral is what frontdoor keeps of a BaRS referral.
type Referral struct {
	ID               string                `json:"id"`
	ServiceRequestID string                `json:"service_request_id"`
	MessageID        string                `json:"message_id"`
	Target           string                `json:"target"` // the directory service id
	Status           string                `json:"status"` // active | revoked
	AttendanceID     string                `json:"attendance_id"`
	PatientID        string                `json:"patient_id,omitempty"`
	PatientMatched   bool                  `json:"patient_matched,omitempty"` // found by NHS number, not created
	Observations     []ReferralObservation `json:"observations,omitempty"`
	CreatedIndex     uint64                `json:"created_index"`
	UpdatedIndex     uint64                `json:"updated_index"`
}

// ReferralResult is what both commands return: the referral and its
// attendance as stored.
type ReferralResult struct {
	Referral   *Referral       `json:"referral"`
	Attendance json.RawMessage `json:"attendance"`
}

func referralCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindReferralReceive, Since: 9, IDs: 3, Check: cluster.CheckOnly(checkReferralReceive), Apply: applyReferralReceive},
		{Kind: KindReferralCancel, Since: 9, Check: cluster.CheckOnly(checkReferralCancel), Apply: applyReferralCancel},
	}
}

// Validate checks the payload (pure): field errors or nil.
func (r *ReferralReceive) Validate(now time.Time) map[string]string {
	f := map[string]string{}
	if r.MessageID == "" {
		f["message_id"] = "required"
	}
	if r.ServiceRequestID == "" {
		f["service_request_id"] = "required"
	}
	if r.Target == "" {
		f["target"] = "required"
	}
	if r.Attendance.Channel != ChannelNHS111 || !r.Attendance.Expected {
		f["attendance.channel"] = "a referral is an expected nhs111 attendance"
	}
	if r.Patient != nil {
		for k, v := range r.Patient.Validate(now) {
			f["patient."+k] = v
		}
		if r.Patient.NHSNumber == "" {
			f["patient.nhs_number"] = "required to match or create the patient"
		}
	}
	for k, v := range r.Attendance.Validate(now) {
		f["attendance."+k] = v
	}
	if len(r.Observations) > maxReferralObservations {
		f["observations"] = fmt.Sprintf("at most %d", maxReferralObservations)
	}
	for i, o := range r.Observations {
		if o.Code == "" {
			f[fmt.Sprintf("observations[%d].code", i)] = "required"
		}
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// checkReferralReceive refuses, before proposing, a referral to a
// service not in the directory or of a ServiceRequest already received
// (Apply decides the same again).
func checkReferralReceive(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in ReferralReceive
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	if _, err := ResolveTarget(r, in.Target); err != nil {
		return err
	}
	return notReceived(r, in.ServiceRequestID)
}

// checkReferralCancel refuses, before proposing, what Apply would.
func checkReferralCancel(r cluster.Reader, actor cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in ReferralCancel
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	_, _, err := cancellable(r, &in, &actor)
	return err
}

// notReceived refuses a ServiceRequest id already received.
func notReceived(r cluster.Reader, srID string) error {
	if _, found, err := r.GetRaw(prefixReferralBySR + srID); err != nil {
		return err
	} else if found {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "ServiceRequest " + srID + " was already received (updates are not supported yet; revoke it to cancel)",
			Fields: map[string]string{"service_request_id": "duplicate"}}
	}
	return nil
}

// cancellable finds the referral a cancellation names and its attendance,
// or says why it cannot be cancelled. With a sender (logic version 11),
// one another NHS 111 key sent is not found, revoked or not (sentBy).
func cancellable(r cluster.Reader, in *ReferralCancel, sender *cluster.Actor) (*Referral, *Attendance, error) {
	if in.ServiceRequestID == "" || in.MessageID == "" {
		return nil, nil, cluster.Invalid(map[string]string{"service_request_id": "required", "message_id": "required"})
	}
	target, err := ResolveTarget(r, in.Target)
	if err != nil {
		return nil, nil, err
	}
	ref, err := In(r).ReferralByServiceRequest(in.ServiceRequestID)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no referral with ServiceRequest " + in.ServiceRequestID}
	} else if err != nil {
		return nil, nil, err
	}
	if ref.Target != target {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "ServiceRequest " + in.ServiceRequestID + " was not sent to " + in.Target}
	}
	a, err := In(r).attendanceState(ref.AttendanceID)
	if err != nil {
		return nil, nil, err
	}
	if sender != nil {
		if err := sentBy(*sender, a, "no referral with ServiceRequest "+in.ServiceRequestID+" sent by "+sender.Name); err != nil {
			return nil, nil, err
		}
	}
	if ref.Status == ReferralRevoked {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the referral is already revoked"}
	}
	if a.Status != AttendanceExpected {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeConflict,
			Message: "the patient has already been checked in (attendance " + a.Status + "): the referral can no longer be revoked"}
	}
	return ref, a, nil
}

// ResolveTarget finds the receiving service by id or ODS code
// (CodeNotFound when the directory has none).
func ResolveTarget(r cluster.Reader, target string) (string, error) {
	svcs, err := directory.In(r).Services()
	if err != nil {
		return "", err
	}
	for _, s := range svcs {
		if s.ID == target || (s.ODSCode != "" && strings.EqualFold(s.ODSCode, target)) {
			return s.ID, nil
		}
	}
	return "", &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no service " + target + " in this centre's directory (NHSD-Target-Identifier)",
		Fields: map[string]string{"target": "unknown"}}
}

func applyReferralReceive(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in ReferralReceive
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if f := in.Validate(tx.Now()); f != nil {
		return nil, cluster.Invalid(f)
	}
	target, err := ResolveTarget(tx, in.Target)
	if err != nil {
		return nil, err
	}
	if err := notReceived(tx, in.ServiceRequestID); err != nil {
		return nil, err
	}
	if err := resolveContextPractice(tx, in.Attendance.Context); err != nil {
		return nil, err
	}
	ref := &Referral{ServiceRequestID: in.ServiceRequestID, MessageID: in.MessageID, Target: target, Status: ReferralActive,
		Observations: in.Observations, CreatedIndex: tx.Index(), UpdatedIndex: tx.Index()}
	if ref.ID, err = tx.NewID(); err != nil {
		return nil, err
	}
	if in.Patient != nil {
		if ref.PatientID, ref.PatientMatched, err = matchOrCreatePatient(tx, in.Patient); err != nil {
			return nil, err
		}
	}
	a, err := createAttendance(tx, &in.Attendance, ref.PatientID)
	if err != nil {
		return nil, err
	}
	b, err := attendanceJSON(tx, a)
	if err != nil {
		return nil, err
	}
	ref.AttendanceID = a.ID
	if err := identityCheck(tx, a, ref.PatientMatched, in.Patient); err != nil {
		return nil, err
	}
	if err := putReferral(tx, ref); err != nil {
		return nil, err
	}
	tx.Audit("attendance.create", "attendance/"+a.ID, map[string]string{"channel": a.Channel, "status": a.Status, "via": "bars"})
	tx.Audit("referral.receive", "referral/"+ref.ID, map[string]any{"service_request": ref.ServiceRequestID, "message": ref.MessageID,
		"attendance": a.ID, "patient": ref.PatientID, "patient_matched": ref.PatientMatched, "target": target})
	return &ReferralResult{Referral: ref, Attendance: b}, nil
}

// matchOrCreatePatient returns the patient recorded with in's NHS number,
// or creates one (a referral's NHS number is the identity 111 traced on
// the Spine: it is not held back for a likely-match review).
func matchOrCreatePatient(tx *cluster.Tx, in *PatientCreate) (id string, matched bool, err error) {
	nhs, _ := routing.NormaliseNHSNumber(in.NHSNumber)
	if err := tx.Scan(prefixPatNHS+nhs+"/", "", func(key string, _ []byte) error {
		id = key[strings.LastIndexByte(key, '/')+1:]
		return nil
	}); err != nil {
		return "", false, err
	}
	if id != "" {
		return id, true, nil
	}
	rec := &PatientRecord{NHSNumber: nhs, GivenName: strings.TrimSpace(in.GivenName), FamilyName: strings.TrimSpace(in.FamilyName),
		DateOfBirth: in.DateOfBirth, Sex: in.Sex, Phone: in.Phone, GPPractice: in.GPPractice}
	if in.Postcode != "" {
		rec.Postcode = routing.NormalisePostcode(in.Postcode)
	}
	if rec.ID, err = tx.NewID(); err != nil {
		return "", false, err
	}
	rec.CreatedAt, rec.CreatedBy, rec.CreatedIndex = tx.Now(), tx.Actor(), tx.Index()
	if _, err := putPatient(tx, rec); err != nil {
		return "", false, err
	}
	tx.Audit("patient.create", "patient/"+rec.ID, map[string]any{"via": "bars"})
	return rec.ID, false, nil
}

// logicIdentityCheck is the logic version from which a referral or
// booking matched to a patient by NHS number alone raises an alert when
// the demographics differ (identityCheck).
const logicIdentityCheck = 10

// identityCheck raises an identity_check alert on attendance a when NHS
// 111 sent in, matched by its NHS number to the patient a is linked to,
// whose recorded date of birth or family name differs: the number is the
// national identifier, so the link stands, but a mistyped number would
// put this visit in another person's record; reception checks at check-in.
func identityCheck(tx *cluster.Tx, a *Attendance, matched bool, in *PatientCreate) error {
	if !matched || in == nil || tx.LogicVersion() < logicIdentityCheck {
		return nil
	}
	p, err := In(tx).Patient(a.PatientID)
	if err != nil {
		return fmt.Errorf("identity check of %s: %w", a.ID, err)
	}
	dobDiffers := in.DateOfBirth != "" && p.DateOfBirth != "" && in.DateOfBirth != p.DateOfBirth
	nameDiffers := strings.TrimSpace(in.FamilyName) != "" && p.FamilyName != "" && !strings.EqualFold(strings.TrimSpace(in.FamilyName), p.FamilyName)
	if !dobDiffers && !nameDiffers {
		return nil
	}
	msg := fmt.Sprintf("NHS 111 sent NHS number %s for %s %s (born %s), which is recorded here for %s %s (born %s): check who this is at check-in",
		p.NHSNumber, strings.TrimSpace(in.GivenName), strings.TrimSpace(in.FamilyName), in.DateOfBirth, p.GivenName, p.FamilyName, p.DateOfBirth)
	return raiseAttendanceAlert(tx, a, AlertIdentityCheck, msg)
}

func putReferral(tx *cluster.Tx, r *Referral) error {
	r.UpdatedIndex = tx.Index()
	if err := tx.Put(prefixReferral+r.ID, r); err != nil {
		return err
	}
	tx.PutRaw(prefixReferralBySR+r.ServiceRequestID, []byte(r.ID))
	tx.PutRaw(prefixReferralByAtt+r.AttendanceID, []byte(r.ID))
	return nil
}

func applyReferralCancel(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in ReferralCancel
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	var sender *cluster.Actor
	if tx.LogicVersion() >= logicSenderOnly {
		actor := tx.Actor()
		sender = &actor
	}
	ref, _, err := cancellable(tx, &in, sender)
	if err != nil {
		return nil, err
	}
	a, err := loadAttendance(tx, ref.AttendanceID)
	if err != nil {
		return nil, err
	}
	old := a.Status
	setStatus(tx, a, AttendanceLeft)
	if a.Routing != nil {
		if err := directory.ReleaseSlot(tx, a.ID, a.Routing.Decision.Allocation); err != nil {
			return nil, err
		}
	}
	b, err := putAttendance(tx, a, old)
	if err != nil {
		return nil, err
	}
	ref.Status = ReferralRevoked
	if err := putReferral(tx, ref); err != nil {
		return nil, err
	}
	tx.Audit("attendance.status", "attendance/"+a.ID, map[string]any{"from": old, "to": AttendanceLeft, "via": "bars"})
	tx.Audit("referral.cancel", "referral/"+ref.ID, map[string]any{"service_request": ref.ServiceRequestID, "message": in.MessageID})
	return &ReferralResult{Referral: ref, Attendance: b}, nil
}

// Referral returns one referral by frontdoor's id (ErrNotFound).
func (v State) Referral(id string) (*Referral, error) {
	var r Referral
	ok, err := v.r.Get(prefixReferral+id, &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cluster.ErrNotFound
	}
	return &r, nil
}

// ReferralByServiceRequest returns the referral of a sender's
// ServiceRequest id (ErrNotFound).
func (v State) ReferralByServiceRequest(srID string) (*Referral, error) {
	return v.referralVia(prefixReferralBySR + srID)
}

// ReferralOfAttendance returns the referral that made an attendance
// (ErrNotFound when it came another way).
func (v State) ReferralOfAttendance(attendanceID string) (*Referral, error) {
	return v.referralVia(prefixReferralByAtt + attendanceID)
}

func (v State) referralVia(key string) (*Referral, error) {
	id, found, err := v.r.GetRaw(key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, cluster.ErrNotFound
	}
	r, err := v.Referral(string(id))
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, fmt.Errorf("referral index %s names missing referral %s", key, id)
	}
	return r, err
}
