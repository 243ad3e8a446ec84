package care

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Clinician first (logic version 3). An uncertain red-flag answer
// that stays uncertain is resolved by a clinician, not by the ED: the
// engine's clinician_now floor (a walk-in is seen by the centre's clinician
// at once, RCEM's 15-minute initial assessment) or clinician_callback (an
// NHS 111 caller is called back within the hour). The attendance is not
// routed yet: it waits in status awaiting_clinician with a clock
// (clinician_due) while the protocol's questions go on. The clinician's
// confirm settles it: the disposition becomes what the protocol and checks
// reached without the uncertainty (Then), never below an NHS 111 Dx floor,
// and it is routed as usual; an override works as ever. If the clock runs
// out first, the leader's worker proposes attendance.clinician_lapsed and
// the FSM, checking its own time, raises one alert.

// Statuses of logic version 3 (the others are in triage.go).
const (
	// AttendanceAwaitingClinician: a clinician-first floor holds the
	// attendance until a clinician confirms or overrides (clinician_due).
	AttendanceAwaitingClinician = "awaiting_clinician"
	// AttendanceAwaitingAddress: a rapid response need without a postcode;
	// routed as soon as one is given (address.go).
	AttendanceAwaitingAddress = "awaiting_address"
)

// KindAttendanceClinicianLapsed is proposed by the leader's worker when an
// attendance's clinician_due has passed on its clock.
const KindAttendanceClinicianLapsed cluster.Kind = "attendance.clinician_lapsed"

// Clinician-first clocks from the decision: RCEM's initial assessment
// within 15 minutes for a walk-in; NHS 111's Dx11 call-back within 1 hour.
const (
	clinicianNowWithin      = 15 * time.Minute
	clinicianCallbackWithin = time.Hour
)

// ErrClinicianNotDue is the CommandError message prefix of a lapse proposed
// before the attendance's clinician_due in FSM time.
const ErrClinicianNotDue = "clinician_due has not passed"

// priorityClinicianFirst is the queue priority of an attendance awaiting
// the clinician: above every disposition short of the ED tier
// (triage.Intensity(ed, <no timeframe>) = 80; ED dispositions are 81-90).
var priorityClinicianFirst = triage.Intensity(triage.ED, "")

// ClinicianFirst is a disposition's clinician-first floor: the stream, what
// was not ruled out, the clock and, once the protocol has finished, what
// follows unless the clinician decides otherwise.
type ClinicianFirst struct {
	Stream  string       `json:"stream"` // clinician_now | clinician_callback
	Reasons []string     `json:"reasons"`
	Then    *triage.Then `json:"then,omitempty"` // nil while questions remain
	Due     time.Time    `json:"due"`
}

// clinicianWithin is the clock of a stream.
func clinicianWithin(stream string) time.Duration {
	if stream == triage.StreamClinicianCallback {
		return clinicianCallbackWithin
	}
	return clinicianNowWithin
}

// clinicianFirstOf is the disposition of a finished session whose outcome
// is a clinician's assessment first (nil when it is not).
func clinicianFirstOf(r *triage.Result) *Disposition {
	if r == nil || r.ClinicianFirst == nil {
		return nil
	}
	d := dispositionOf(r)
	cf := r.ClinicianFirst
	d.ClinicianFirst = &ClinicianFirst{Stream: cf.Stream, Reasons: append([]string{}, cf.Reasons...), Then: cf.Then}
	return d
}

// clinicianFirstInterim is the disposition of a session still asking
// questions whose interim is a clinician-first floor (nil otherwise).
func clinicianFirstInterim(in *triage.Interim) *Disposition {
	if in == nil || in.Stream == "" {
		return nil
	}
	return &Disposition{Tier: in.Tier, Timeframe: in.Timeframe, Dx: in.Dx, CareNeeds: []string{}, Source: "protocol",
		DecidedBy: "clinician_first", Title: clinicianFirstTitle(in.Stream, in.Reason), Action: in.Stream,
		ClinicianFirst: &ClinicianFirst{Stream: in.Stream, Reasons: []string{in.Reason}}}
}

func clinicianFirstTitle(stream, reason string) string {
	t := "A clinician sees them now"
	if stream == triage.StreamClinicianCallback {
		t = "A clinician calls back within 1 hour"
	}
	if reason != "" {
		t += ": " + reason
	}
	return t
}

// settle records a finished session's disposition: a clinician-first one
// (logic version 3) waits for the clinician; any other is decided and
// routed.
func settle(tx *cluster.Tx, a *Attendance, d *Disposition, why string) error {
	if d.ClinicianFirst != nil && tx.LogicVersion() >= logicTriageRules1 {
		if !a.Triage.FloorWaived && !closedForRouting(a.Status) {
			return awaitClinician(tx, a, d)
		}
		// A clinician's override has already assessed them (or they are
		// being seen): what follows the floor counts, never below the
		// disposition they have.
		if then := thenDisposition(d.ClinicianFirst.Then); then != nil || a.Triage.Disposition != nil {
			d = higher(orEmpty(then), a.Triage.Disposition)
		}
	}
	d.ClinicianFirst = nil
	return decide(tx, a, d, why)
}

// orEmpty is d, or a disposition of no intensity when d is nil.
func orEmpty(d *Disposition) *Disposition {
	if d == nil {
		return &Disposition{}
	}
	return d
}

// thenDisposition is the disposition of what follows a clinician-first
// floor (nil when the protocol has not reached it).
func thenDisposition(then *triage.Then) *Disposition {
	if then == nil {
		return nil
	}
	d := &Disposition{Tier: then.Tier, Timeframe: then.Timeframe, Dx: then.Dx, CareNeeds: append([]string{}, then.CareNeeds...),
		Source: "protocol", DecidedBy: then.DecidedBy, Title: then.Title, Advice: then.Advice, SafetyNet: then.SafetyNet}
	if d.Tier == triage.ED && d.Timeframe == triage.Immediate {
		d.Action = "clinician_now"
	}
	return d
}

// awaitClinician holds the attendance for the clinician: the disposition
// is recorded, nothing is routed, and the clock starts at the first
// clinician-first decision (a finished protocol does not restart it).
func awaitClinician(tx *cluster.Tx, a *Attendance, d *Disposition) error {
	due := tx.Now().Add(clinicianWithin(d.ClinicianFirst.Stream))
	if a.Status == AttendanceAwaitingClinician && a.ClinicianDue != nil {
		due = *a.ClinicianDue
	}
	d.ClinicianFirst.Due = due
	first := a.ClinicianDue == nil || a.Status != AttendanceAwaitingClinician
	a.Triage.Disposition = d
	if err := codeECDS(tx, a); err != nil {
		return err
	}
	if s := a.Triage.Session; s == nil || s.Done {
		a.Triage.Questions = nil
	}
	a.ClinicianDue = &due
	setStatus(tx, a, AttendanceAwaitingClinician)
	if first {
		tx.Audit("attendance.clinician_first", "attendance/"+a.ID, map[string]any{"stream": d.ClinicianFirst.Stream,
			"reasons": d.ClinicianFirst.Reasons, "due": due})
	}
	return nil
}

// applyInterim records what a session still asking questions already
// demands (logic version 3): the queue orders by it; a clinician-first
// floor holds the attendance for the clinician at once; an immediate
// emergency (observations scored, an NG133 red flag) is decided and routed
// at once, as a 999-level Dx is, while the questions go on. It returns
// whether the interim raised what the attendance demanded, and why.
func applyInterim(tx *cluster.Tx, a *Attendance, step triage.Step) (raised bool, reason string, err error) {
	tr := a.Triage
	if tx.LogicVersion() < logicTriageRules1 {
		return false, "", nil
	}
	before := max(interimLevel(tr.Interim), tr.Disposition.Intensity())
	if step.Done {
		tr.Interim = nil
		return false, "", nil
	}
	in := step.Interim
	tr.Interim = in
	if in == nil {
		return false, "", nil
	}
	if interimLevel(in) > before {
		raised, reason = true, checkReason(in.Reason)
	}
	if closedForRouting(a.Status) {
		return raised, reason, nil
	}
	if d := clinicianFirstInterim(in); d != nil && !tr.FloorWaived && d.Intensity() > tr.floor().Intensity() && d.Intensity() >= tr.Disposition.Intensity() {
		if err := awaitClinician(tx, a, d); err != nil {
			return raised, reason, err
		}
	}
	if d := interimEmergency(a, in); d != nil && d.Intensity() > tr.Disposition.Intensity() {
		return raised, reason, decide(tx, a, d, "interim: "+in.DecidedBy)
	}
	return raised, reason, nil
}

// interimEmergency is the disposition of an interim that demands ED now
// (nil for any other): the deciding check's care needs go with it (an
// NG133 red flag needs maternity assessment).
func interimEmergency(a *Attendance, in *triage.Interim) *Disposition {
	if in.Stream != "" || in.Tier != triage.ED || in.Timeframe != triage.Immediate {
		return nil
	}
	d := &Disposition{Tier: in.Tier, Timeframe: in.Timeframe, Dx: in.Dx, CareNeeds: []string{}, Source: "protocol",
		DecidedBy: in.DecidedBy, Title: checkReason(in.Reason), Action: "clinician_now"}
	for _, c := range in.Checks {
		if c.Raises && c.Check == in.DecidedBy {
			d.CareNeeds = append(d.CareNeeds, c.CareNeeds...)
		}
	}
	if a.Channel == ChannelNHS111 {
		d.Action = "ambulance"
	}
	return d
}

// interimLevel is the intensity an interim demands (0 when none).
func interimLevel(in *triage.Interim) int {
	if in == nil {
		return 0
	}
	return triage.Intensity(in.Tier, in.Timeframe)
}

// settleClinicianFirst is the clinician's confirm of an attendance awaiting
// them: the disposition becomes Then, never below the NHS 111 Dx floor, and
// it is routed as usual.
func settleClinicianFirst(tx *cluster.Tx, a *Attendance, note string) error {
	tr := a.Triage
	if s := tr.Session; s != nil && !s.Done {
		return conflictf("the protocol's questions are not finished (%d waiting): answer them first, or override", len(tr.Questions))
	}
	d := thenDisposition(clinicianThen(tr))
	if d == nil {
		return conflictf("nothing to settle: the clinician-first floor has no disposition to follow; override instead")
	}
	stream := ""
	if tr.Disposition != nil && tr.Disposition.ClinicianFirst != nil {
		stream = tr.Disposition.ClinicianFirst.Stream
	}
	a.Confirmations = append(a.Confirmations, Confirmation{Note: note, By: tx.Actor(), At: tx.Now(), Index: tx.Index(), Settled: stream})
	if tr.Disposition != nil {
		tr.SettledClinicianFirst = tr.Disposition.ClinicianFirst
	}
	return decide(tx, a, higher(d, tr.floor()), "clinician confirmed after "+strings.ReplaceAll(stream, "_", " "))
}

// confirmClinicianFirst is the confirm command on an attendance awaiting
// the clinician.
func confirmClinicianFirst(tx *cluster.Tx, a *Attendance, note string) (any, error) {
	old := a.Status
	var settled *ClinicianFirst
	if d := a.Triage.Disposition; d != nil {
		settled = d.ClinicianFirst
	}
	if err := settleClinicianFirst(tx, a, note); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	details := map[string]any{"note": note, "status": a.Status, "tier": a.Triage.Disposition.Tier, "timeframe": a.Triage.Disposition.Timeframe}
	if settled != nil {
		details["settled"] = settled.Stream
	}
	if a.Routing != nil {
		details["service_id"] = a.Routing.Decision.ServiceID
	}
	tx.Audit("attendance.confirm", "attendance/"+a.ID, details)
	return attendanceResult(tx, a), nil
}

// clinicianThen is what follows the floor: the session's latest outcome
// (observations may have changed it since), else the disposition's.
func clinicianThen(tr *TriageRecord) *triage.Then {
	if s := tr.Session; s != nil && s.Outcome != nil && s.Outcome.ClinicianFirst != nil && s.Outcome.ClinicianFirst.Then != nil {
		return s.Outcome.ClinicianFirst.Then
	}
	if d := tr.Disposition; d != nil && d.ClinicianFirst != nil {
		return d.ClinicianFirst.Then
	}
	return nil
}

// AttendanceClinicianLapsed is the payload of KindAttendanceClinicianLapsed.
type AttendanceClinicianLapsed struct {
	AttendanceID string `json:"attendance_id"`
}

func clinicianFirstCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindAttendanceClinicianLapsed, Since: logicTriageRules1, Apply: applyAttendanceClinicianLapsed, Reread: rereadAttendance},
	}
}

func applyAttendanceClinicianLapsed(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	if ce := systemOnly(tx); ce != nil {
		return nil, ce
	}
	var in AttendanceClinicianLapsed
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	a, err := loadAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if a.Status != AttendanceAwaitingClinician || a.ClinicianDue == nil {
		return nil, conflictf("attendance %s is %s: only one awaiting the clinician can lapse", a.ID, a.Status)
	}
	if tx.Now().Before(*a.ClinicianDue) {
		return nil, conflictf("%s: attendance %s clinician_due %s, FSM time %s", ErrClinicianNotDue, a.ID,
			a.ClinicianDue.Format(time.RFC3339), tx.Now().Format(time.RFC3339))
	}
	if raised, err := alertRaised(tx, a.ID, AlertClinicianFirstLapsed); err != nil || raised {
		if err != nil {
			return nil, err
		}
		return nil, conflictf("attendance %s: the lapse alert was already raised", a.ID)
	}
	stream := ""
	if d := a.Triage.Disposition; d != nil && d.ClinicianFirst != nil {
		stream = d.ClinicianFirst.Stream
	}
	msg := fmt.Sprintf("Nobody has confirmed %s's %s, due %s: a clinician must assess them now.", describeAttendance(a),
		strings.ReplaceAll(stream, "_", " "), a.ClinicianDue.UTC().Format("15:04 MST"))
	if err := raiseAttendanceAlert(tx, a, AlertClinicianFirstLapsed, msg); err != nil {
		return nil, err
	}
	a.ClinicianLapsed = true
	if err := storeAttendance(tx, a, a.Status); err != nil {
		return nil, err
	}
	tx.Audit("attendance.clinician_lapsed", "attendance/"+a.ID, map[string]any{"due": a.ClinicianDue, "stream": stream})
	return attendanceResult(tx, a), nil
}

// describeAttendance names an attendance in an alert: the patient's name
// when known, else the complaint, with the id.
func describeAttendance(a *Attendance) string {
	name := strings.TrimSpace(a.Patient.GivenName + " " + a.Patient.FamilyName)
	if name == "" {
		name = "the patient with \"" + a.Complaint + "\""
	}
	return name + " (" + a.ID + ")"
}

// AwaitingClinician lists the attendances awaiting the clinician, by
// arrival (for the leader's lapse watch).
func (v State) AwaitingClinician() ([]*Attendance, error) {
	var out []*Attendance
	err := v.r.Keys(prefixByStatus+AttendanceAwaitingClinician+"/", "", func(key string) error {
		a, err := v.attendanceState(key[strings.LastIndexByte(key, '/')+1:])
		if err != nil {
			return fmt.Errorf("awaiting clinician index %s: %w", key, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}
