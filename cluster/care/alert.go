package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
)

// Alerts are what reception and clinicians must act on: a dispatch
// escalated to ED, a webhook that could not be delivered, a clinician-first
// floor whose time passed unconfirmed, a rapid response need that fell back
// to ED. An alert is raised inside the Apply that decided it and stays open
// until a person acknowledges it (KindAlertAck).
//
//	al/<id>     Alert
//	alo/<id>    open (unacknowledged) alerts
const (
	prefixAlert     = "al/"
	prefixAlertOpen = "alo/"
)

// KindAlertAck acknowledges an alert.
const KindAlertAck cluster.Kind = "alert.ack"

// Alert kinds.
const (
	AlertEscalatedToED  = "escalated_to_ed"
	AlertDeliveryFailed = "delivery_failed"
	// AlertClinicianFirstLapsed: an attendance awaiting the clinician
	// (clinician now, or a call-back) passed its clinician_due unconfirmed.
	AlertClinicianFirstLapsed = "clinician_first_lapsed"
	// AlertRapidResponseFallback: a rapid response need was routed to ED
	// because no team could take the patient.
	AlertRapidResponseFallback = "rapid_response_fallback"
	// AlertIdentityCheck: NHS 111 sent an NHS number recorded here for a
	// patient with another date of birth or family name (from logic
	// version 10); the attendance is linked to that record by the number,
	// and reception must check who this is (identityCheck).
	AlertIdentityCheck = "identity_check"
)

// Alert is one thing a person must see and acknowledge.
type Alert struct {
	ID           string         `json:"id"`
	Kind         string         `json:"kind"`
	DispatchID   string         `json:"dispatch_id,omitempty"`
	AttendanceID string         `json:"attendance_id,omitempty"`
	ServiceID    string         `json:"service_id,omitempty"`
	Message      string         `json:"message"`
	RaisedAt     time.Time      `json:"raised_at"`
	RaisedIndex  uint64         `json:"raised_index"`
	Open         bool           `json:"open"`
	AckedAt      *time.Time     `json:"acked_at,omitempty"`
	AckedBy      *cluster.Actor `json:"acked_by,omitempty"`
	AckNote      string         `json:"ack_note,omitempty"`
	AckIndex     uint64         `json:"ack_index,omitempty"`
}

// alertIDPrefix starts every alert id (dispatch ids start with an
// attendance id, never with it).
const alertIDPrefix = "al_"

// alertID is derived from the alert's subject (a dispatch id, else an
// attendance id) and the kind: deterministic, and one alert of a kind per
// subject. Dispatch ids are "<attendance id>-d<n>", so the two never meet.
func alertID(subjectID, kind string) string { return alertIDPrefix + subjectID + "_" + kind }

// alertSubject is what an alert is about: a dispatch (with its attendance
// and team), or an attendance alone.
type alertSubject struct {
	DispatchID, AttendanceID, ServiceID string
}

// entity is the audit entity of the subject.
func (s alertSubject) entity() (kind, id string) {
	if s.DispatchID != "" {
		return "dispatch", s.DispatchID
	}
	return "attendance", s.AttendanceID
}

// raiseAlert records an open alert about subj (a second raise of the same
// kind for the same subject changes nothing).
func raiseAlert(tx *cluster.Tx, subj alertSubject, kind, msg string) error {
	ent, subjID := subj.entity()
	id := alertID(subjID, kind)
	if _, found, err := tx.GetRaw(prefixAlert + id); err != nil || found {
		return err
	}
	al := &Alert{ID: id, Kind: kind, DispatchID: subj.DispatchID, AttendanceID: subj.AttendanceID, ServiceID: subj.ServiceID,
		Message: msg, RaisedAt: tx.Now(), RaisedIndex: tx.Index(), Open: true}
	b, err := tx.PutJSON(prefixAlert+id, al)
	if err != nil {
		return err
	}
	tx.PutRaw(prefixAlertOpen+id, nil)
	tx.PutRaw(keyDispatchEvent(tx.Index(), id), b) // the stream's "alert" event
	tx.Audit("alert.raise", "alert/"+id, map[string]string{"kind": kind, ent + "_id": subjID})
	tx.Audit("alert.raise", ent+"/"+subjID, map[string]string{"alert_id": id, "kind": kind})
	return nil
}

// raiseDispatchAlert raises an alert about dispatch d.
func raiseDispatchAlert(tx *cluster.Tx, d *Dispatch, kind, msg string) error {
	return raiseAlert(tx, alertSubject{DispatchID: d.ID, AttendanceID: d.AttendanceID, ServiceID: d.ServiceID}, kind, msg)
}

// raiseAttendanceAlert raises an alert about attendance a alone.
func raiseAttendanceAlert(tx *cluster.Tx, a *Attendance, kind, msg string) error {
	return raiseAlert(tx, alertSubject{AttendanceID: a.ID}, kind, msg)
}

// alertRaised reports whether the alert of kind about subjectID exists.
func alertRaised(tx *cluster.Tx, subjectID, kind string) (bool, error) {
	_, found, err := tx.GetRaw(prefixAlert + alertID(subjectID, kind))
	return found, err
}

// AlertAck is the payload of KindAlertAck.
type AlertAck struct {
	AlertID string `json:"alert_id"`
	Note    string `json:"note,omitempty"`
}

// Validate checks the payload.
func (p *AlertAck) Validate() map[string]string {
	f := map[string]string{}
	if strings.TrimSpace(p.AlertID) == "" {
		f["alert_id"] = "required"
	}
	if len(p.Note) > directory.MaxTextLen {
		f["note"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// AlertAckRoles are the roles of the people who may acknowledge an alert
// (admin included: every admin key belongs to a person too).
var AlertAckRoles = map[string]bool{access.RoleReception: true, access.RoleClinician: true, access.RoleAdmin: true}

func alertCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindAlertAck, Since: 1, Apply: applyAlertAck},
	}
}

func applyAlertAck(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	req, err := cluster.DecodeCommand[AlertAck](raw)
	if err != nil {
		return nil, err
	}
	if !AlertAckRoles[tx.Actor().Role] {
		return nil, &cluster.CommandError{Code: cluster.CodeInvalid, Message: fmt.Sprintf("an alert is acknowledged by a person at reception or a clinician, not %q", tx.Actor().Role)}
	}
	var al Alert
	found, err := tx.Get(prefixAlert+req.AlertID, &al)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no alert " + req.AlertID}
	}
	if !al.Open {
		return nil, conflictf("alert %s was already acknowledged", al.ID)
	}
	actor := tx.Actor()
	al.Open, al.AckedAt, al.AckedBy, al.AckNote, al.AckIndex = false, timePtr(tx.Now()), &actor, req.Note, tx.Index()
	b, err := tx.PutJSON(prefixAlert+al.ID, &al)
	if err != nil {
		return nil, err
	}
	tx.Delete(prefixAlertOpen + al.ID)
	tx.PutRaw(keyDispatchEvent(tx.Index(), al.ID), b)
	tx.Audit("alert.ack", "alert/"+al.ID, map[string]string{"note": req.Note})
	return b, nil
}

// Alerts lists alerts, oldest first; openOnly keeps the unacknowledged.
func (v State) Alerts(openOnly bool) ([]*Alert, error) {
	prefix := prefixAlert
	if openOnly {
		prefix = prefixAlertOpen
	}
	var out []*Alert
	err := v.r.Scan(prefix, "", func(key string, val []byte) error {
		var al Alert
		if openOnly {
			if err := v.get(prefixAlert+strings.TrimPrefix(key, prefixAlertOpen), &al); err != nil {
				return err
			}
		} else if err := json.Unmarshal(val, &al); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out = append(out, &al)
		return nil
	})
	return out, err
}

// Alert reads one alert.
func (v State) Alert(id string) (*Alert, error) {
	var al Alert
	if err := v.get(prefixAlert+id, &al); err != nil {
		if errors.Is(err, cluster.ErrNotFound) {
			return nil, cluster.ErrNotFound
		}
		return nil, err
	}
	return &al, nil
}
