package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// GP registration at the centre: when an attendee has no GP, the
// registration step allocates a practice inside Apply (routing.Allocate
// over the directory in state: the nearest in-catchment practice with an
// open list, or the designated practice for no fixed abode), records
// consent, and follows the state proposed -> sent -> accepted | refused
// (routing.Transition). Acceptance records the practice on the patient.
const (
	KindRegistrationCreate cluster.Kind = "registration.create"
	KindRegistrationStatus cluster.Kind = "registration.status"
)

// Key layout (see keys.go):
//
//	r/<id>                      RegistrationRecord
//	rx/state/<state>/<id>       by state, then id (ids sort by time)
const (
	prefixRegistration = "r/"
	prefixRegByState   = "rx/state/"
)

// Registration types (routing's).
const (
	RegistrationPermanent = routing.RegistrationPermanent
	RegistrationTemporary = routing.RegistrationTemporary
)

// RegistrationCreate is the payload of KindRegistrationCreate.
type RegistrationCreate struct {
	AttendanceID     string `json:"attendance_id"`
	Consent          bool   `json:"consent"`
	Type             string `json:"type,omitempty"`      // permanent | temporary; default from stay_days
	StayDays         int    `json:"stay_days,omitempty"` // under 90: temporary
	NoFixedAbode     bool   `json:"no_fixed_abode,omitempty"`
	NoProofOfAddress bool   `json:"no_proof_of_address,omitempty"`
	Postcode         string `json:"postcode,omitempty"` // default: the patient's
}

// RegistrationStatus is the payload of KindRegistrationStatus.
type RegistrationStatus struct {
	RegistrationID string `json:"registration_id"`
	Status         string `json:"status"`            // sent | accepted | refused
	Reason         string `json:"reason,omitempty"`  // required for refused
	Consent        bool   `json:"consent,omitempty"` // consent given now (before sending)
}

// RegistrationRecord is one GP registration made at the centre.
type RegistrationRecord struct {
	routing.Registration
	PatientID    string                      `json:"patient_id"`
	AttendanceID string                      `json:"attendance_id"`
	PracticeName string                      `json:"practice_name"`
	Postcode     string                      `json:"postcode,omitempty"`
	NoFixedAbode bool                        `json:"no_fixed_abode,omitempty"`
	Reason       string                      `json:"reason"` // why this practice
	Rejections   []routing.PracticeRejection `json:"rejections"`
	CreatedBy    cluster.Actor               `json:"created_by"`
	CreatedIndex uint64                      `json:"created_index"`
	UpdatedIndex uint64                      `json:"updated_index"`
}

// Validate returns field errors (nil when valid); pure.
func (r *RegistrationCreate) Validate() map[string]string {
	f := map[string]string{}
	if r.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	switch r.Type {
	case "", RegistrationPermanent, RegistrationTemporary:
	default:
		f["type"] = "must be permanent or temporary"
	}
	if r.StayDays < 0 || r.StayDays > 3650 {
		f["stay_days"] = "must be between 0 and 3650"
	}
	validatePostcode(f, "postcode", r.Postcode)
	if len(f) == 0 {
		return nil
	}
	return f
}

// Validate returns field errors (nil when valid); pure.
func (r *RegistrationStatus) Validate() map[string]string {
	f := map[string]string{}
	switch r.Status {
	case routing.RegSent, routing.RegAccepted:
	case routing.RegRefused:
		if strings.TrimSpace(r.Reason) == "" {
			f["reason"] = "required when the practice refuses"
		}
	default:
		f["status"] = "must be sent, accepted or refused"
	}
	if len(r.Reason) > directory.MaxTextLen {
		f["reason"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

func registrationCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindRegistrationCreate, Since: 1, IDs: 1, Apply: applyRegistrationCreate},
		{Kind: KindRegistrationStatus, Since: 1, Apply: applyRegistrationStatus},
	}
}

func applyRegistrationCreate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[RegistrationCreate](raw)
	if err != nil {
		return nil, err
	}
	a, found, err := getAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no attendance " + in.AttendanceID}
	}
	if a.PatientID == "" {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "link the attendance to a patient first (POST /v1/attendances/{id}/patient)"}
	}
	var p PatientRecord
	if found, err := tx.Get(prefixPatient+a.PatientID, &p); err != nil {
		return nil, err
	} else if !found {
		return nil, fmt.Errorf("attendance %s links missing patient %s", a.ID, a.PatientID)
	}
	if p.GPPractice != "" {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the patient is registered with practice " + p.GPPractice}
	}
	if a.RegistrationID != "" {
		var prev RegistrationRecord
		if found, err := tx.Get(prefixRegistration+a.RegistrationID, &prev); err != nil {
			return nil, err
		} else if found && prev.State != routing.RegRefused {
			return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: fmt.Sprintf("registration %s is already %s", prev.ID, prev.State)}
		}
	}
	dir, err := directory.DirectoryFromState(tx)
	if err != nil {
		return nil, err
	}
	req := routing.RegistrationRequest{Postcode: in.Postcode, NoFixedAbode: in.NoFixedAbode || p.NoFixedAbode,
		NoProofOfAddress: in.NoProofOfAddress, StayDays: in.StayDays}
	if req.Postcode == "" {
		req.Postcode = p.Postcode
	}
	if req.Postcode != "" {
		req.Postcode = routing.NormalisePostcode(req.Postcode)
	}
	alloc, err := routing.Allocate(req, dir)
	if errors.Is(err, routing.ErrNoPractice) {
		f := map[string]string{}
		for _, r := range alloc.Rejections {
			f["practices."+r.ODSCode] = r.Reason
		}
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: err.Error(), Fields: f}
	}
	if err != nil {
		return nil, err
	}
	id, err := tx.NewID()
	if err != nil {
		return nil, err
	}
	typ := alloc.Type
	if in.Type != "" {
		typ = in.Type
	}
	now := tx.Now()
	rec := &RegistrationRecord{
		Registration: routing.Registration{ID: id, NHSNumber: p.NHSNumber, ODSCode: alloc.ODSCode, Type: typ,
			Consent: routing.Consent{Given: in.Consent, At: now, Recorded: tx.Actor().Name},
			State:   routing.RegProposed, History: []routing.RegistrationEvent{{State: routing.RegProposed, At: now, Reason: alloc.Reason}}},
		PatientID: p.ID, AttendanceID: a.ID, PracticeName: alloc.Name, Postcode: req.Postcode, NoFixedAbode: req.NoFixedAbode,
		Reason: alloc.Reason, Rejections: alloc.Rejections, CreatedBy: tx.Actor(), CreatedIndex: tx.Index(),
	}
	b, err := putRegistration(tx, rec, "")
	if err != nil {
		return nil, err
	}
	a.RegistrationID = id
	if err := storeAttendance(tx, a, a.Status); err != nil {
		return nil, err
	}
	details := map[string]any{"ods_code": rec.ODSCode, "type": typ, "consent": in.Consent, "no_fixed_abode": req.NoFixedAbode, "reason": alloc.Reason}
	tx.Audit("registration.create", "registration/"+id, details)
	tx.Audit("registration.create", "attendance/"+a.ID, map[string]any{"registration_id": id, "ods_code": rec.ODSCode})
	return b, nil
}

func putRegistration(tx *cluster.Tx, r *RegistrationRecord, oldState string) (json.RawMessage, error) {
	r.UpdatedIndex = tx.Index()
	if oldState != "" && oldState != r.State {
		tx.Delete(prefixRegByState + oldState + "/" + r.ID)
	}
	b, err := tx.PutJSON(prefixRegistration+r.ID, r)
	if err != nil {
		return nil, err
	}
	tx.PutRaw(prefixRegByState+r.State+"/"+r.ID, nil)
	return b, nil
}

func applyRegistrationStatus(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[RegistrationStatus](raw)
	if err != nil {
		return nil, err
	}
	var r RegistrationRecord
	found, err := tx.Get(prefixRegistration+in.RegistrationID, &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no registration " + in.RegistrationID}
	}
	old := r.State
	if in.Consent && !r.Consent.Given {
		r.Consent = routing.Consent{Given: true, At: tx.Now(), Recorded: tx.Actor().Name}
	}
	next, err := routing.Transition(r.Registration, in.Status, tx.Now(), in.Reason)
	if errors.Is(err, routing.ErrIllegalTransition) {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: err.Error(), Fields: map[string]string{"status": fmt.Sprintf("not allowed from %s", old)}}
	}
	if err != nil {
		return nil, err
	}
	r.Registration = next
	b, err := putRegistration(tx, &r, old)
	if err != nil {
		return nil, err
	}
	if r.State == routing.RegAccepted {
		var p PatientRecord
		if found, err := tx.Get(prefixPatient+r.PatientID, &p); err != nil {
			return nil, err
		} else if found {
			p.GPPractice = r.ODSCode
			if _, err := putPatient(tx, &p); err != nil {
				return nil, err
			}
			tx.Audit("registration.accepted", "patient/"+p.ID, map[string]string{"gp_practice": r.ODSCode, "registration_id": r.ID})
		}
	}
	tx.Audit("registration.status", "registration/"+r.ID, map[string]any{"from": old, "to": r.State, "reason": in.Reason, "consent": r.Consent.Given})
	return b, nil
}

// Registration returns one registration (ErrNotFound).
func (v State) Registration(id string) (*RegistrationRecord, error) {
	var r RegistrationRecord
	if err := v.get(prefixRegistration+id, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Registrations lists registrations in one state ("" every state), oldest
// first, for the practice-side follow-up.
func (v State) Registrations(state string) ([]*RegistrationRecord, error) {
	var out []*RegistrationRecord
	if state == "" {
		err := v.r.Scan(prefixRegistration, "", func(key string, val []byte) error {
			var r RegistrationRecord
			if err := json.Unmarshal(val, &r); err != nil {
				return fmt.Errorf("decode %s: %w", key, err)
			}
			out = append(out, &r)
			return nil
		})
		return out, err
	}
	err := v.r.Keys(prefixRegByState+state+"/", "", func(key string) error {
		r, err := v.Registration(key[strings.LastIndexByte(key, '/')+1:])
		if err != nil {
			return fmt.Errorf("registration index %s: %w", key, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
