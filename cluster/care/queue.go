package care

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The queue: attendances not yet seen, handed over or gone, by clinical
// priority then arrival; and the queue's change feed. Every write of an
// attendance (putAttendance) also writes a small event record keyed by the
// raft index, in the same transaction, so the feed is part of the
// replicated state: any node serves it, a reader resumes from an index
// (SSE Last-Event-ID), and Apply never waits on a reader: readers are woken
// by the FSM's non-blocking applied-index notification and read the events
// from state.
//
// Key layout (see keys.go):
//
//	ev/<index>/<attendance id>   QueueEvent (index zero-padded); the last
//	                             eventWindow raft indexes are kept
const (
	prefixEvent = "ev/"
	// eventWindow is how many raft indexes of events are kept; a reader
	// further behind is told to reload the queue.
	eventWindow = 4096
)

// queueStatuses are the statuses of attendances still waiting somewhere.
var queueStatuses = []string{AttendanceArrived, AttendanceTriaged, AttendanceClinicianReview, AttendanceAwaitingConfirmation,
	AttendanceRouted, AttendanceCalled, AttendanceAwaitingClinician, AttendanceAwaitingAddress}

// InQueue reports whether an attendance of this status is in the queue.
func InQueue(status string) bool {
	for _, s := range queueStatuses {
		if s == status {
			return true
		}
	}
	return false
}

// QueueEvent is one change of an attendance, as the feed carries it.
type QueueEvent struct {
	Index        uint64           `json:"index"`
	AttendanceID string           `json:"attendance_id"`
	Status       string           `json:"status"`
	InQueue      bool             `json:"in_queue"`
	Tier         triage.Tier      `json:"tier,omitempty"`
	Timeframe    triage.Timeframe `json:"timeframe,omitempty"`
	ServiceID    string           `json:"service_id,omitempty"`
	Priority     int              `json:"priority"`
	At           time.Time        `json:"at"`
	// Clinician first (logic version 3): the stream, what was not ruled
	// out and the clock, while the attendance awaits the clinician.
	Stream       string     `json:"stream,omitempty"`
	Reasons      []string   `json:"reasons,omitempty"`
	ClinicianDue *time.Time `json:"clinician_due,omitempty"`
}

func keyEvent(index uint64, id string) string {
	return fmt.Sprintf("%s%020d/%s", prefixEvent, index, id)
}

// queueEvent records a's change at this index and prunes events older than
// the window. Deterministic: keys and values come from the command and state.
func queueEvent(tx *cluster.Tx, a *Attendance) error {
	ev := QueueEvent{Index: tx.Index(), AttendanceID: a.ID, Status: a.Status, InQueue: InQueue(a.Status),
		Priority: priorityOf(a), At: tx.Now()}
	if a.Triage != nil && a.Triage.Disposition != nil {
		ev.Tier, ev.Timeframe = a.Triage.Disposition.Tier, a.Triage.Disposition.Timeframe
	}
	if a.Routing != nil {
		ev.ServiceID = a.Routing.Decision.ServiceID
	}
	if cf := awaitingClinician(a); cf != nil {
		ev.Stream, ev.Reasons, ev.ClinicianDue = cf.Stream, cf.Reasons, a.ClinicianDue
	}
	if err := tx.Put(keyEvent(tx.Index(), a.ID), &ev); err != nil {
		return err
	}
	return pruneEvents(tx, prefixEvent, eventWindow)
}

// priorityOf is the attendance's clinical priority: the intensity of its
// disposition (triage.Intensity: tier, then timeframe), or of what its
// session already demands while questions remain (interim), whichever is
// higher; awaiting the clinician, first among non-emergencies. Not yet
// triaged: 0.
func priorityOf(a *Attendance) int {
	if a.Triage == nil {
		return 0
	}
	p := max(a.Triage.Disposition.Intensity(), interimLevel(a.Triage.Interim))
	if awaitingClinician(a) != nil {
		p = max(p, priorityClinicianFirst)
	}
	return p
}

// awaitingClinician is the clinician-first floor an attendance awaiting
// the clinician waits on (nil for any other).
func awaitingClinician(a *Attendance) *ClinicianFirst {
	if a.Status != AttendanceAwaitingClinician || a.Triage == nil || a.Triage.Disposition == nil {
		return nil
	}
	return a.Triage.Disposition.ClinicianFirst
}

// QueueEntry is one line of the queue.
type QueueEntry struct {
	AttendanceID   string           `json:"attendance_id"`
	ArrivedAt      time.Time        `json:"arrived_at"`
	Status         string           `json:"status"`
	Channel        string           `json:"channel"`
	Name           string           `json:"name,omitempty"`
	Complaint      string           `json:"complaint"`
	Priority       int              `json:"priority"`
	Tier           triage.Tier      `json:"tier,omitempty"`
	Timeframe      triage.Timeframe `json:"timeframe,omitempty"`
	Dx             string           `json:"dx,omitempty"`
	ServiceID      string           `json:"service_id,omitempty"`
	ServiceName    string           `json:"service_name,omitempty"`
	WaitingMinutes int              `json:"waiting_minutes"`
	Over4h         bool             `json:"over_4h"`
	UpdatedIndex   uint64           `json:"updated_index"`
	// Awaiting the clinician: the stream (clinician_now, or
	// clinician_callback: the call-back worklist), what was not ruled out,
	// what follows unless the clinician decides otherwise, the clock, and
	// whether it has lapsed (overdue, alert raised).
	Stream          string       `json:"stream,omitempty"`
	Reasons         []string     `json:"reasons,omitempty"`
	Then            *triage.Then `json:"then,omitempty"`
	ClinicianDue    *time.Time   `json:"clinician_due,omitempty"`
	ClinicianLapsed bool         `json:"clinician_lapsed,omitempty"`
	// Interim: what a session still asking questions already demands.
	Interim *QueueInterim `json:"interim,omitempty"`
	// AskingFor: what the attendance waits for (awaiting_address).
	AskingFor []string `json:"asking_for,omitempty"`
	// Appointment: the session an NHS 111 booking holds a place in (the
	// expected list shows when the patient is due, not only when 111 sent
	// them).
	Appointment *QueueAppointment `json:"appointment,omitempty"`
}

// QueueAppointment is the booked session of an expected patient.
type QueueAppointment struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"service_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Status    string    `json:"status"`
}

// QueueInterim is the queue's view of triage.Interim.
type QueueInterim struct {
	Tier      triage.Tier      `json:"tier"`
	Timeframe triage.Timeframe `json:"timeframe"`
	DecidedBy string           `json:"decided_by"`
	Reason    string           `json:"reason"`
}

// QueueQuery filters View.Queue: Stream keeps only the attendances awaiting
// the clinician in that stream (clinician_now, or clinician_callback: the
// call-back worklist).
type QueueQuery struct {
	Stream string
}

// Queue lists the attendances still waiting, most urgent first, then by
// arrival; now (the reader's clock) gives waiting times.
func (v State) Queue(now time.Time) ([]QueueEntry, error) {
	return v.queueOf(now, queueStatuses)
}

// QueueFiltered is Queue with a filter: a stream gives the clinician's
// worklist of that stream, soonest due first.
func (v State) QueueFiltered(now time.Time, q QueueQuery) ([]QueueEntry, error) {
	if q.Stream == "" {
		return v.Queue(now)
	}
	all, err := v.queueOf(now, []string{AttendanceAwaitingClinician})
	if err != nil {
		return nil, err
	}
	out := []QueueEntry{}
	for _, e := range all {
		if e.Stream == q.Stream {
			out = append(out, e)
		}
	}
	return out, nil
}

// Expected lists the patients NHS 111 has announced who have not arrived
// yet, by priority then announcement.
func (v State) Expected(now time.Time) ([]QueueEntry, error) {
	out, err := v.queueOf(now, []string{AttendanceExpected})
	if err != nil {
		return nil, err
	}
	for i := range out {
		ref, found, err := v.r.GetRaw(prefixAppointmentByAtt + out[i].AttendanceID)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		ap, err := v.Appointment(string(ref))
		if err != nil {
			return nil, fmt.Errorf("appointment of %s: %w", out[i].AttendanceID, err)
		}
		out[i].Appointment = &QueueAppointment{ID: ap.ID, ServiceID: ap.ServiceID, Start: ap.SessionStart, End: ap.SessionEnd, Status: ap.Status}
		if out[i].ServiceID == "" {
			out[i].ServiceID = ap.ServiceID
		}
	}
	return out, nil
}

func (v State) queueOf(now time.Time, statuses []string) ([]QueueEntry, error) {
	out := []QueueEntry{}
	for _, st := range statuses {
		err := v.r.Keys(prefixByStatus+st+"/", "", func(key string) error {
			id := key[strings.LastIndexByte(key, '/')+1:]
			a, err := v.attendanceState(id)
			if err != nil {
				return fmt.Errorf("queue index %s: %w", key, err)
			}
			e := QueueEntry{AttendanceID: a.ID, ArrivedAt: a.ArrivedAt, Status: a.Status, Channel: a.Channel,
				Name: strings.TrimSpace(a.Patient.GivenName + " " + a.Patient.FamilyName), Complaint: a.Complaint,
				Priority: priorityOf(a), UpdatedIndex: a.UpdatedIndex}
			if d := a.Triage; d != nil && d.Disposition != nil {
				e.Tier, e.Timeframe, e.Dx = d.Disposition.Tier, d.Disposition.Timeframe, d.Disposition.Dx
			}
			if a.Routing != nil {
				e.ServiceID, e.ServiceName = a.Routing.Decision.ServiceID, a.Routing.Decision.ServiceName
			}
			if cf := awaitingClinician(a); cf != nil {
				e.Stream, e.Reasons, e.Then, e.ClinicianDue, e.ClinicianLapsed = cf.Stream, cf.Reasons, cf.Then, a.ClinicianDue, a.ClinicianLapsed
			}
			if in := a.Triage; in != nil && in.Interim != nil {
				e.Interim = &QueueInterim{Tier: in.Interim.Tier, Timeframe: in.Interim.Timeframe, DecidedBy: in.Interim.DecidedBy, Reason: in.Interim.Reason}
			}
			e.AskingFor = a.AskingFor
			since := a.ArrivedAt
			if a.CheckedInAt != nil {
				since = *a.CheckedInAt
			}
			if w := now.Sub(since); w > 0 {
				e.WaitingMinutes = int(w / time.Minute)
				e.Over4h = w > 4*time.Hour
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		if di, dj := out[i].ClinicianDue, out[j].ClinicianDue; (di != nil || dj != nil) && !(di != nil && dj != nil && di.Equal(*dj)) {
			// Awaiting the clinician: the soonest due first.
			return dj == nil || (di != nil && di.Before(*dj))
		}
		if !out[i].ArrivedAt.Equal(out[j].ArrivedAt) {
			return out[i].ArrivedAt.Before(out[j].ArrivedAt)
		}
		return out[i].AttendanceID < out[j].AttendanceID
	})
	return out, nil
}

// QueueEvents returns up to limit events after index (raft index order).
// truncated is true when events after index may already have been pruned
// (the reader is more than eventWindow indexes behind): it must reload the
// queue.
func QueueEvents(v *cluster.View, after uint64, limit int) (events []QueueEvent, truncated bool, err error) {
	applied, err := v.AppliedIndex()
	if err != nil {
		return nil, false, err
	}
	truncated = after > 0 && after+eventWindow < applied
	err = v.Scan(prefixEvent, fmt.Sprintf("%020d", after+1), func(key string, val []byte) error {
		if limit > 0 && len(events) >= limit {
			return cluster.ErrStop
		}
		var ev QueueEvent
		if err := json.Unmarshal(val, &ev); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return events, truncated, nil
}
