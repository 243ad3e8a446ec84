package care

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Rapid response needs where the patient is (logic version 3). An urgent
// community response team visits the patient, and routing can check its
// catchment only with a postcode: without one, a rapid_response
// disposition does not silently fall back to ED. The attendance waits in
// status awaiting_address, asking for patient.postcode (and the address),
// and is routed as soon as one is given, by attendance.address or by
// linking a patient record that has one (attendance.patient). If routing
// then still falls back to ED, an alert says so.

// KindAttendanceAddress gives where the patient is now.
const KindAttendanceAddress cluster.Kind = "attendance.address"

// askingForAddress is what an attendance awaiting an address asks for.
var askingForAddress = []string{"patient.postcode", "dispatch.address"}

// AttendanceAddress is the payload of KindAttendanceAddress.
type AttendanceAddress struct {
	AttendanceID string `json:"attendance_id"`
	// Postcode of where the patient is now (usually home).
	Postcode string `json:"postcode"`
	// Address: the street address for the team; AccessNotes: key safe,
	// door code, a dog.
	Address     string `json:"address,omitempty"`
	AccessNotes string `json:"access_notes,omitempty"`
}

// Validate checks the payload (pure).
func (p *AttendanceAddress) Validate() map[string]string {
	f := map[string]string{}
	if p.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	if strings.TrimSpace(p.Postcode) == "" {
		f["postcode"] = "required: where the patient is now"
	} else {
		validatePostcode(f, "postcode", p.Postcode)
	}
	if len(p.Address) > directory.MaxTextLen {
		f["address"] = "too long"
	}
	if len(p.AccessNotes) > directory.MaxTextLen {
		f["access_notes"] = "too long"
	}
	return nilIfEmpty(f)
}

func addressCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindAttendanceAddress, Since: logicTriageRules1, Check: checkAttendanceOpen, Apply: applyAttendanceAddress, Reread: rereadAttendance},
	}
}

// awaitAddress holds a rapid response need without a postcode (logic
// version 3): waiting is true when the attendance now awaits the address.
func awaitAddress(tx *cluster.Tx, a *Attendance) (waiting bool, err error) {
	d := a.Triage.Disposition
	if tx.LogicVersion() < logicTriageRules1 || d == nil || d.Tier != triage.RapidResponse {
		return false, nil
	}
	rec, err := patientRecordOf(tx, a)
	if err != nil {
		return false, err
	}
	if routingPatient(tx, a, rec).Postcode != "" {
		return false, nil
	}
	first := a.Status != AttendanceAwaitingAddress
	a.AskingFor = append([]string(nil), askingForAddress...)
	setStatus(tx, a, AttendanceAwaitingAddress)
	if first {
		tx.Audit("attendance.awaiting_address", "attendance/"+a.ID, map[string]any{"tier": d.Tier, "asking_for": a.AskingFor})
	}
	return true, nil
}

// afterRouting follows a routing decision (logic version 3): nothing is
// asked for any more, and a rapid response need that fell back to ED
// raises an alert.
func afterRouting(tx *cluster.Tx, a *Attendance, d *Disposition, dec *routing.Decision) error {
	if tx.LogicVersion() < logicTriageRules1 {
		return nil
	}
	a.AskingFor = nil
	if d.Tier != triage.RapidResponse || !dec.Fallback {
		return nil
	}
	msg := fmt.Sprintf("No rapid response team could take %s: sent to %s instead. Phone the teams or a clinician to arrange care at home.",
		describeAttendance(a), dec.ServiceName)
	return raiseAttendanceAlert(tx, a, AlertRapidResponseFallback, msg)
}

// routeWhenAddressed routes an attendance awaiting an address once one is
// known (after attendance.address or attendance.patient).
func routeWhenAddressed(tx *cluster.Tx, a *Attendance, why string) error {
	if a.Status != AttendanceAwaitingAddress || a.Triage == nil || a.Triage.Disposition == nil || tx.LogicVersion() < logicTriageRules1 {
		return nil
	}
	return route(tx, a, why)
}

func applyAttendanceAddress(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[AttendanceAddress](raw)
	if err != nil {
		return nil, err
	}
	a, err := openAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	old := a.Status
	a.Patient.Postcode = routing.NormalisePostcode(in.Postcode)
	if in.Address != "" || in.AccessNotes != "" {
		det := DispatchDetails{}
		if a.Dispatch != nil {
			det = *a.Dispatch
		}
		if in.Address != "" {
			det.Address = in.Address
		}
		if in.AccessNotes != "" {
			det.AccessNotes = in.AccessNotes
		}
		a.Dispatch = &det
	}
	if err := routeWhenAddressed(tx, a, "address given"); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.address", "attendance/"+a.ID, map[string]any{"postcode": a.Patient.Postcode, "address_given": in.Address != "",
		"status": a.Status})
	return attendanceResult(tx, a), nil
}
