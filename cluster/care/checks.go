package care

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
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
	set, err := answerable(r, c.a)
	if err != nil {
		return nil, err
	}
	from := c.a.Triage.Session
	next, step, err := triage.Answer(set, *from, in.Answers...)
	if err != nil {
		return nil, answerError(err, in.Answers)
	}
	c.run = &answerRun{from: from, set: set, answers: in.Answers, next: next, step: step}
	return c, nil
}

// answerRun is a check's run of the engine for attendance.answer: the
// answers on the session as stored, with the contacts it recorded. Apply
// takes it instead of running the engine again when its own run would
// have exactly the same inputs (takeAnswerRun); triage.Answer is a pure
// function of them, so the result is the one a fresh run gives.
type answerRun struct {
	from    *triage.Session // the session the check ran on (its record's)
	set     *triage.Set
	answers []triage.Reply
	next    triage.Session
	step    triage.Step
	reused  bool // Apply took it (tests tell the two paths apart)
}

// takeAnswerRun returns the check's engine run for Apply's run of answers
// on a's session with set, the contacts counted afresh being contacts; nil
// (run the engine) unless every input is the same: a is the very record
// the check decoded (its session the same object, so nothing was applied
// to the attendance in between), the same set, the same answers, and the
// contacts the session recorded are the ones Apply counted. A run is taken
// at most once. On followers there is never one.
func takeAnswerRun(tx *cluster.Tx, a *Attendance, set *triage.Set, answers []triage.Reply, contacts int) *answerRun {
	c, ok := tx.Checked().(*checkedAttendance)
	if !ok || c.run == nil {
		return nil
	}
	run := c.run
	c.run = nil
	if a.Triage == nil || run.from != a.Triage.Session || run.set != set ||
		run.from.Patient.PreviousContacts96h != contacts || !slices.Equal(run.answers, answers) {
		return nil
	}
	run.reused = true
	return run
}

// checkedAttendance is what a check read of the attendance its command
// names: the stored bytes and the record decoded from them. Apply takes the
// record instead of decoding it again when the bytes it finds are the same
// (loadAttendance), which is exactly what decoding afresh would give.
type checkedAttendance struct {
	raw []byte
	a   *Attendance
	run *answerRun // attendance.answer's engine run on a
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

func checkAttendanceCheckIn(r cluster.Reader, _ cluster.Actor, now time.Time, raw json.RawMessage) (any, error) {
	c, err := attendanceOf(r, raw)
	if err != nil {
		return nil, err
	}
	if c.a.Status != AttendanceExpected {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "only an expected attendance can be checked in; this one is " + c.a.Status}
	}
	if err := notDueNow(r, c.a, now); err != nil {
		return nil, err
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
