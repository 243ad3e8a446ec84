package care

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// The leader's checks (cluster.Command.Check): they refuse, before a
// command is proposed and after its Idempotency-Key was looked up, what
// Apply would refuse on the state as it stands. Apply checks again.

func checkAttendanceCreate(r cluster.Reader, _ cluster.Actor, now time.Time, raw json.RawMessage) error {
	var req AttendanceCreate
	if err := json.Unmarshal(raw, &req); err != nil {
		return cluster.PayloadError(err)
	}
	if err := In(r).CheckRegisteredPractice(&req); err != nil {
		return err
	}
	return In(r).CheckTriageStart(&req, now)
}

func checkAttendanceAnswer(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in AttendanceAnswers
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	return In(r).CheckAnswers(&in)
}

// attendanceOf reads the attendance a command names (attendance_id).
func attendanceOf(r cluster.Reader, raw json.RawMessage) (*Attendance, error) {
	var in struct {
		AttendanceID string `json:"attendance_id"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	a, err := In(r).Attendance(in.AttendanceID)
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no attendance " + in.AttendanceID}
	}
	return a, err
}

// checkAttendanceOpen: the attendance exists and is not over.
func checkAttendanceOpen(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	a, err := attendanceOf(r, raw)
	if err != nil {
		return err
	}
	if closed(a.Status) {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already " + a.Status}
	}
	return nil
}

func checkAttendanceConfirm(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	a, err := attendanceOf(r, raw)
	if err != nil {
		return err
	}
	if a.Status != AttendanceAwaitingConfirmation && a.Status != AttendanceAwaitingClinician {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "nothing to confirm: the attendance is " + a.Status}
	}
	return nil
}

func checkAttendanceCheckIn(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	a, err := attendanceOf(r, raw)
	if err != nil {
		return err
	}
	if a.Status != AttendanceExpected {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "only an expected attendance can be checked in; this one is " + a.Status}
	}
	return nil
}

// dispatchCheck reads the dispatch a command names (dispatch_id) and asks
// whether actor may act on it and can.
func dispatchCheck(r cluster.Reader, actor cluster.Actor, raw json.RawMessage, can func(d *Dispatch, raw json.RawMessage) *cluster.CommandError) error {
	var in struct {
		DispatchID string `json:"dispatch_id"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	d, err := In(r).Dispatch(in.DispatchID)
	if errors.Is(err, cluster.ErrNotFound) {
		return &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no dispatch " + in.DispatchID}
	}
	if err != nil {
		return err
	}
	if ce := d.CanActFor(actor); ce != nil {
		return ce
	}
	if ce := can(d, raw); ce != nil {
		return ce
	}
	return nil
}

func checkDispatchAccept(r cluster.Reader, actor cluster.Actor, _ time.Time, raw json.RawMessage) error {
	return dispatchCheck(r, actor, raw, func(d *Dispatch, _ json.RawMessage) *cluster.CommandError { return d.CanAccept() })
}

func checkDispatchDecline(r cluster.Reader, actor cluster.Actor, _ time.Time, raw json.RawMessage) error {
	return dispatchCheck(r, actor, raw, func(d *Dispatch, _ json.RawMessage) *cluster.CommandError { return d.CanDecline() })
}

func checkDispatchStatus(r cluster.Reader, actor cluster.Actor, _ time.Time, raw json.RawMessage) error {
	return dispatchCheck(r, actor, raw, func(d *Dispatch, raw json.RawMessage) *cluster.CommandError {
		var in DispatchStatusChange
		if err := json.Unmarshal(raw, &in); err != nil {
			return cluster.PayloadError(err)
		}
		return d.CanMoveTo(in.Status)
	})
}
