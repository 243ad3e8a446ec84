package care

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// BaRS bookings (logic version 9): a booking-request takes one place of a
// session of a slot-capacity service in the directory (the same slot
// records routing allocates, so a booking and a routed walk-in never both
// take the last place), and makes the patient an expected nhs111
// attendance at that service. Decided in Apply, serially: two bookings of
// the last place on two nodes get one appointment and one conflict. A
// cancelled Appointment frees the place.
const (
	KindBookingCreate cluster.Kind = "booking.create"
	KindBookingCancel cluster.Kind = "booking.cancel"
)

// Key layout:
//
//	ap/<appointment id>          Appointment
//	apx/snd/<sender's id>        -> appointment id
//	apx/ax/<attendance id>       -> appointment id
const (
	prefixAppointment      = "ap/"
	prefixAppointmentBySnd = "apx/snd/"
	prefixAppointmentByAtt = "apx/ax/"
	AppointmentBooked      = "booked"
	AppointmentCancelled   = "cancelled"
	// From logic version 10 an Appointment follows its attendance
	// (bookingFollows): arrived when reception checks the patient in,
	// fulfilled when they are seen, noshow when the expected patient is
	// marked left without ever arriving (the place is free again).
	AppointmentArrived   = "arrived"
	AppointmentFulfilled = "fulfilled"
	AppointmentNoShow    = "noshow"
)

// logicBookingFollows is the logic version from which an Appointment
// follows its attendance and a booked place is freed when the attendance
// leaves or is handed over (bookingFollows), and a booking can no longer
// be cancelled once the patient has arrived (cancellableBooking).
const logicBookingFollows = 10

// BookingCreate is the payload of KindBookingCreate.
type BookingCreate struct {
	MessageID     string `json:"message_id"`
	AppointmentID string `json:"appointment_id"` // the sender's Appointment id
	Target        string `json:"target"`         // the service booked: id or ODS code
	// At is the time wanted: the session of Target that runs at At is
	// booked (Slot ids from GET /Slot name a session's start).
	At         time.Time        `json:"at"`
	Patient    *PatientCreate   `json:"patient,omitempty"`
	Attendance AttendanceCreate `json:"attendance"`
}

// BookingCancel is the payload of KindBookingCancel.
type BookingCancel struct {
	MessageID     string `json:"message_id"`
	AppointmentID string `json:"appointment_id"` // the sender's
	Target        string `json:"target"`
}

// Appointment is a booked place.
type Appointment struct {
	ID            string    `json:"id"`
	AppointmentID string    `json:"appointment_id"` // the sender's
	MessageID     string    `json:"message_id"`
	ServiceID     string    `json:"service_id"`
	SessionStart  time.Time `json:"session_start"`
	SessionEnd    time.Time `json:"session_end"`
	Status        string    `json:"status"`
	AttendanceID  string    `json:"attendance_id"`
	PatientID     string    `json:"patient_id,omitempty"`
	CreatedIndex  uint64    `json:"created_index"`
	UpdatedIndex  uint64    `json:"updated_index"`
}

func barsBookingCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindBookingCreate, Since: 9, IDs: 3, Check: cluster.CheckOnly(checkBookingCreate), Apply: applyBookingCreate},
		{Kind: KindBookingCancel, Since: 9, Check: cluster.CheckOnly(checkBookingCancel), Apply: applyBookingCancel},
	}
}

// Validate checks the payload (pure).
func (b *BookingCreate) Validate(now time.Time) map[string]string {
	f := map[string]string{}
	if b.MessageID == "" {
		f["message_id"] = "required"
	}
	if b.AppointmentID == "" {
		f["appointment_id"] = "required"
	}
	if b.Target == "" {
		f["target"] = "required"
	}
	if b.At.IsZero() {
		f["at"] = "required"
	}
	if b.Attendance.Channel != ChannelNHS111 || !b.Attendance.Expected || b.Attendance.Dx != nil || b.Attendance.Protocol != "" {
		f["attendance"] = "a booking is an expected nhs111 attendance without triage"
	}
	if b.Patient != nil {
		for k, v := range b.Patient.Validate(now) {
			f["patient."+k] = v
		}
	}
	for k, v := range b.Attendance.Validate(now) {
		f["attendance."+k] = v
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// bookableSession is the session of the target service that runs at at,
// with a free place (CodeConflict otherwise).
func bookableSession(r cluster.Reader, target string, at, now time.Time) (routing.SessionSlots, error) {
	var none routing.SessionSlots
	svcID, err := ResolveTarget(r, target)
	if err != nil {
		return none, err
	}
	dir, err := directory.In(r).Directory()
	if err != nil {
		return none, err
	}
	if dir == nil {
		return none, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no directory loaded"}
	}
	load, err := directory.LoadAt(r, now)
	if err != nil {
		return none, err
	}
	// A session starts at most a day before the time it covers.
	ss, err := routing.Sessions(dir, load, svcID, at.Add(-24*time.Hour), at.Add(time.Second))
	if err != nil {
		return none, err
	}
	for _, s := range ss {
		if s.Start.After(at) || !s.End.After(at) {
			continue
		}
		if !s.End.After(now) {
			return none, &cluster.CommandError{Code: cluster.CodeConflict, Message: fmt.Sprintf("the session of %s at %s has ended", svcID, at.UTC().Format(time.RFC3339))}
		}
		if s.Free() == 0 {
			return none, &cluster.CommandError{Code: cluster.CodeConflict, Message: fmt.Sprintf("no free slot: the %s session of %s is full (%d of %d booked)",
				s.Start.UTC().Format(time.RFC3339), svcID, s.Used, s.Slots), Fields: map[string]string{"slot": "full"}}
		}
		return s, nil
	}
	return none, &cluster.CommandError{Code: cluster.CodeNotFound, Message: fmt.Sprintf("%s has no bookable session at %s", svcID, at.UTC().Format(time.RFC3339)),
		Fields: map[string]string{"slot": "no session"}}
}

func checkBookingCreate(r cluster.Reader, _ cluster.Actor, now time.Time, raw json.RawMessage) error {
	var in BookingCreate
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	if _, found, err := r.GetRaw(prefixAppointmentBySnd + in.AppointmentID); err != nil {
		return err
	} else if found {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "Appointment " + in.AppointmentID + " is already booked"}
	}
	_, err := bookableSession(r, in.Target, in.At, now)
	return err
}

func applyBookingCreate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in BookingCreate
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if f := in.Validate(tx.Now()); f != nil {
		return nil, cluster.Invalid(f)
	}
	if _, found, err := tx.GetRaw(prefixAppointmentBySnd + in.AppointmentID); err != nil {
		return nil, err
	} else if found {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "Appointment " + in.AppointmentID + " is already booked"}
	}
	s, err := bookableSession(tx, in.Target, in.At, tx.Now())
	if err != nil {
		return nil, err
	}
	ap := &Appointment{AppointmentID: in.AppointmentID, MessageID: in.MessageID, ServiceID: s.ServiceID,
		SessionStart: s.Start, SessionEnd: s.End, Status: AppointmentBooked, CreatedIndex: tx.Index()}
	if ap.ID, err = tx.NewID(); err != nil {
		return nil, err
	}
	var matched bool
	if in.Patient != nil {
		if ap.PatientID, matched, err = matchOrCreatePatient(tx, in.Patient); err != nil {
			return nil, err
		}
	}
	a, err := createAttendance(tx, &in.Attendance, ap.PatientID)
	if err != nil {
		return nil, err
	}
	b, err := attendanceJSON(tx, a)
	if err != nil {
		return nil, err
	}
	ap.AttendanceID = a.ID
	if err := identityCheck(tx, a, matched, in.Patient); err != nil {
		return nil, err
	}
	alloc := routing.Allocation{ServiceID: s.ServiceID, Kind: routing.CapacitySlots, SessionStart: s.Start, SessionEnd: s.End}
	if err := directory.AllocateSlot(tx, a.ID, alloc); err != nil {
		return nil, err
	}
	if err := putAppointment(tx, ap); err != nil {
		return nil, err
	}
	tx.Audit("attendance.create", "attendance/"+a.ID, map[string]string{"channel": a.Channel, "status": a.Status, "via": "bars booking"})
	tx.Audit("booking.create", "appointment/"+ap.ID, map[string]any{"appointment": in.AppointmentID, "message": in.MessageID,
		"service": s.ServiceID, "session_start": s.Start, "attendance": a.ID, "patient": ap.PatientID, "patient_matched": matched,
		"free_before": s.Free()})
	return &BookingResult{Appointment: ap, Attendance: b}, nil
}

// BookingResult is what both booking commands return.
type BookingResult struct {
	Appointment *Appointment    `json:"appointment"`
	Attendance  json.RawMessage `json:"attendance"`
}

func putAppointment(tx *cluster.Tx, ap *Appointment) error {
	ap.UpdatedIndex = tx.Index()
	if err := tx.Put(prefixAppointment+ap.ID, ap); err != nil {
		return err
	}
	tx.PutRaw(prefixAppointmentBySnd+ap.AppointmentID, []byte(ap.ID))
	tx.PutRaw(prefixAppointmentByAtt+ap.AttendanceID, []byte(ap.ID))
	return nil
}

// cancellableBooking finds the appointment a cancellation names. With a
// sender (logic version 11), one another NHS 111 key booked is not found,
// cancelled or not (sentBy); the attendance state it read for that is
// returned too (nil without a sender).
func cancellableBooking(r cluster.Reader, in *BookingCancel, sender *cluster.Actor) (*Appointment, *Attendance, error) {
	if in.AppointmentID == "" || in.MessageID == "" {
		return nil, nil, cluster.Invalid(map[string]string{"appointment_id": "required", "message_id": "required"})
	}
	svcID, err := ResolveTarget(r, in.Target)
	if err != nil {
		return nil, nil, err
	}
	ap, err := In(r).AppointmentBySender(in.AppointmentID)
	if errors.Is(err, cluster.ErrNotFound) || (err == nil && ap.ServiceID != svcID) {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no appointment " + in.AppointmentID + " at " + in.Target}
	} else if err != nil {
		return nil, nil, err
	}
	var a *Attendance
	if sender != nil {
		a, err = In(r).attendanceState(ap.AttendanceID)
		if err != nil {
			return nil, nil, err
		}
		if err := sentBy(*sender, a, "no appointment "+in.AppointmentID+" booked by "+sender.Name); err != nil {
			return nil, nil, err
		}
	}
	if ap.Status == AppointmentCancelled {
		return nil, nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the appointment is already cancelled"}
	}
	return ap, a, nil
}

func checkBookingCancel(r cluster.Reader, actor cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in BookingCancel
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	_, a, err := cancellableBooking(r, &in, &actor)
	if err != nil {
		return err
	}
	return notArrived(a)
}

// logicSenderOnly is the logic version from which an NHS 111 key cancels
// only the bookings and referrals it sent (sentBy).
const logicSenderOnly = 11

// sentBy refuses an NHS 111 key's cancellation of an attendance another
// NHS 111 key announced: one 111 provider cannot cancel another's
// patients. It is told the booking or referral is not found (its
// existence is not theirs to know). An admin cancels any, and what an
// admin sent any NHS 111 key may cancel.
func sentBy(actor cluster.Actor, a *Attendance, notFound string) error {
	if actor.Role != access.RoleNHS111 || a.CreatedBy.Role != access.RoleNHS111 || a.CreatedBy.ID == actor.ID {
		return nil
	}
	return &cluster.CommandError{Code: cluster.CodeNotFound, Message: notFound}
}

// notArrived refuses to cancel the booking of a patient who has arrived
// (checked in): the place was theirs, whatever happened next; as a
// referral cannot be revoked once its patient is checked in.
func notArrived(a *Attendance) error {
	if a.CheckedInAt == nil {
		return nil
	}
	return &cluster.CommandError{Code: cluster.CodeConflict,
		Message: "the patient has already been checked in (attendance " + a.Status + "): the booking can no longer be cancelled"}
}

func applyBookingCancel(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in BookingCancel
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	var sender *cluster.Actor
	if tx.LogicVersion() >= logicSenderOnly {
		actor := tx.Actor()
		sender = &actor
	}
	ap, _, err := cancellableBooking(tx, &in, sender)
	if err != nil {
		return nil, err
	}
	a, err := loadAttendance(tx, ap.AttendanceID)
	if err != nil {
		return nil, err
	}
	if tx.LogicVersion() >= logicBookingFollows {
		if err := notArrived(a); err != nil {
			return nil, err
		}
	}
	alloc := routing.Allocation{ServiceID: ap.ServiceID, Kind: routing.CapacitySlots, SessionStart: ap.SessionStart, SessionEnd: ap.SessionEnd}
	if err := directory.ReleaseSlot(tx, ap.AttendanceID, alloc); err != nil {
		return nil, err
	}
	var b json.RawMessage
	if a.Status == AttendanceExpected {
		old := a.Status
		setStatus(tx, a, AttendanceLeft)
		if b, err = putAttendance(tx, a, old); err != nil {
			return nil, err
		}
		tx.Audit("attendance.status", "attendance/"+a.ID, map[string]any{"from": old, "to": AttendanceLeft, "via": "bars booking cancel"})
	} else if b, err = json.Marshal(a); err != nil {
		return nil, err
	}
	ap.Status = AppointmentCancelled
	if err := putAppointment(tx, ap); err != nil {
		return nil, err
	}
	tx.Audit("booking.cancel", "appointment/"+ap.ID, map[string]any{"appointment": ap.AppointmentID, "message": in.MessageID})
	return &BookingResult{Appointment: ap, Attendance: b}, nil
}

// bookingFollows moves the BaRS Appointment of attendance a (if any) on
// with the attendance, which has just moved from status from to to: a
// check-in makes it arrived, being seen fulfilled. Leaving or being handed
// over frees the place the booking holds, as a routed walk-in's slot is
// freed (applyAttendanceStatus): it was not used; an expected patient who
// never arrived makes it noshow. Nothing before logic version 10.
func bookingFollows(tx *cluster.Tx, a *Attendance, from, to string) error {
	if tx.LogicVersion() < logicBookingFollows {
		return nil
	}
	ref, found, err := tx.GetRaw(prefixAppointmentByAtt + a.ID)
	if err != nil || !found {
		return err
	}
	ap, err := In(tx).Appointment(string(ref))
	if err != nil {
		return fmt.Errorf("appointment of attendance %s: %w", a.ID, err)
	}
	if ap.Status != AppointmentBooked && ap.Status != AppointmentArrived {
		return nil // cancelled, fulfilled or noshow already
	}
	next := ap.Status
	switch {
	case to == AttendanceSeen:
		next = AppointmentFulfilled
	case to == AttendanceLeft || to == AttendanceHandedOver:
		alloc := routing.Allocation{ServiceID: ap.ServiceID, Kind: routing.CapacitySlots, SessionStart: ap.SessionStart, SessionEnd: ap.SessionEnd}
		if err := directory.ReleaseSlot(tx, a.ID, alloc); err != nil {
			return err
		}
		if from == AttendanceExpected && to == AttendanceLeft {
			next = AppointmentNoShow
		}
	case from == AttendanceExpected:
		next = AppointmentArrived
	}
	if next == ap.Status {
		return nil
	}
	ap.Status = next
	if err := putAppointment(tx, ap); err != nil {
		return err
	}
	tx.Audit("booking."+next, "appointment/"+ap.ID, map[string]any{"appointment": ap.AppointmentID, "attendance": a.ID})
	return nil
}

// notDueNow refuses to check in a booked patient outside their booked
// session's day (from logic version 10): a patient booked for tomorrow, or
// whose session is over, is not this attendance; reception records them
// as a walk-in if they need care now. A patient early on the day is
// checked in.
func notDueNow(r cluster.Reader, a *Attendance, now time.Time) error {
	ref, found, err := r.GetRaw(prefixAppointmentByAtt + a.ID)
	if err != nil || !found {
		return err
	}
	ap, err := In(r).Appointment(string(ref))
	if err != nil {
		return fmt.Errorf("appointment of attendance %s: %w", a.ID, err)
	}
	if ap.Status != AppointmentBooked {
		return nil
	}
	day := func(t time.Time) string { return t.In(routing.London).Format("2006-01-02") }
	if day(now) == day(ap.SessionStart) && now.Before(ap.SessionEnd) {
		return nil
	}
	when := ap.SessionStart.In(routing.London).Format("Mon 2 Jan 15:04") + "–" + ap.SessionEnd.In(routing.London).Format("15:04")
	return &cluster.CommandError{Code: cluster.CodeConflict,
		Message: "this patient is booked for " + when + " at " + ap.ServiceID + ", not now: record them as a walk-in if they need care now"}
}

// Appointment returns one appointment by frontdoor's id (ErrNotFound).
func (v State) Appointment(id string) (*Appointment, error) {
	var ap Appointment
	ok, err := v.r.Get(prefixAppointment+id, &ap)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cluster.ErrNotFound
	}
	return &ap, nil
}

// AppointmentBySender returns the appointment of a sender's Appointment
// id (ErrNotFound).
func (v State) AppointmentBySender(id string) (*Appointment, error) {
	ref, found, err := v.r.GetRaw(prefixAppointmentBySnd + id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, cluster.ErrNotFound
	}
	return v.Appointment(string(ref))
}
