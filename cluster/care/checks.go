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

func checkAttendanceAnswer(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) (any, error) {
	var in AttendanceAnswers
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	c, err := attendanceChecked(r, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if _, err := checkAnswers(r, c.a, in.Answers); err != nil {
		return nil, err
	}
	return c, nil
}

// checkedAttendance is what a check read of the attendance its command
// names: the stored bytes and the record decoded from them. Apply takes the
// record instead of decoding it again when the bytes it finds are the same
// (loadAttendance), which is exactly what decoding afresh would give.
type checkedAttendance struct {
	raw []byte
	a   *Attendance
}

// attendanceChecked reads attendance id for a check (CodeNotFound when
// there is none).
func attendanceChecked(r cluster.Reader, id string) (*checkedAttendance, error) {
	raw, found, err := r.GetRaw(keyAttendance(id))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no attendance " + id}
	}
	a, err := decodeStored(r, id, raw)
	if err != nil {
		return nil, err
	}
	return &checkedAttendance{raw: raw, a: a}, nil
}

// attendanceOf reads the attendance a command names (attendance_id).
func attendanceOf(r cluster.Reader, raw json.RawMessage) (*checkedAttendance, error) {
	var in struct {
		AttendanceID string `json:"attendance_id"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	return attendanceChecked(r, in.AttendanceID)
}

// checkAttendanceOpen: the attendance exists and is not over.
func checkAttendanceOpen(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) (any, error) {
	c, err := attendanceOf(r, raw)
	if err != nil {
		return nil, err
	}
	if closed(c.a.Status) {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already " + c.a.Status}
	}
	return c, nil
}

func checkAttendanceConfirm(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) (any, error) {
	c, err := attendanceOf(r, raw)
	if err != nil {
		return nil, err
	}
	if s := c.a.Status; s != AttendanceAwaitingConfirmation && s != AttendanceAwaitingClinician {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "nothing to confirm: the attendance is " + s}
	}
	return c, nil
}

func checkAttendanceCheckIn(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) (any, error) {
	c, err := attendanceOf(r, raw)
	if err != nil {
		return nil, err
	}
	if c.a.Status != AttendanceExpected {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "only an expected attendance can be checked in; this one is " + c.a.Status}
	}
	return c, nil
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
