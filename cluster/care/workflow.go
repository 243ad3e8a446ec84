package care

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The attendance workflow's commands after arrival: answers, observations,
// a clinician's confirmation or override, and status changes. Each reads
// the attendance, decides with the pure triage and routing packages over
// state, and writes the attendance back with its audit in one transaction.
const (
	KindAttendanceAnswer   cluster.Kind = "attendance.answer"
	KindAttendanceObserve  cluster.Kind = "attendance.observe"
	KindAttendanceConfirm  cluster.Kind = "attendance.confirm"
	KindAttendanceOverride cluster.Kind = "attendance.override"
	KindAttendanceStatus   cluster.Kind = "attendance.status"
	KindAttendanceCheckIn  cluster.Kind = "attendance.check_in"
)

// AttendanceAnswers is the payload of KindAttendanceAnswer.
type AttendanceAnswers struct {
	AttendanceID string         `json:"attendance_id"`
	Answers      []triage.Reply `json:"answers"`
}

// AttendanceObservations is the payload of KindAttendanceObserve.
type AttendanceObservations struct {
	AttendanceID string              `json:"attendance_id"`
	Observations triage.Observations `json:"observations"`
}

// AttendanceConfirm is the payload of KindAttendanceConfirm.
type AttendanceConfirm struct {
	AttendanceID string `json:"attendance_id"`
	Note         string `json:"note,omitempty"`
}

// AttendanceOverride is the payload of KindAttendanceOverride: a new tier
// (and optionally timeframe) and/or a named service, with a reason.
type AttendanceOverride struct {
	AttendanceID string           `json:"attendance_id"`
	Tier         triage.Tier      `json:"tier,omitempty"`
	Timeframe    triage.Timeframe `json:"timeframe,omitempty"`
	ServiceID    string           `json:"service_id,omitempty"`
	Reason       string           `json:"reason"`
}

// AttendanceCheckIn is the payload of KindAttendanceCheckIn: an announced
// (expected) patient has arrived.
type AttendanceCheckIn struct {
	AttendanceID string `json:"attendance_id"`
}

// AttendanceStatusChange is the payload of KindAttendanceStatus.
type AttendanceStatusChange struct {
	AttendanceID string `json:"attendance_id"`
	Status       string `json:"status"`
}

func workflowCommands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindAttendanceAnswer, Since: 1, Check: checkAttendanceAnswer, Apply: applyAttendanceAnswer, Reread: rereadAttendance},
		{Kind: KindAttendanceObserve, Since: 1, Check: checkAttendanceOpen, Apply: applyAttendanceObserve, Reread: rereadAttendance},
		{Kind: KindAttendanceConfirm, Since: 1, Check: checkAttendanceConfirm, Apply: applyAttendanceConfirm, Reread: rereadAttendance},
		{Kind: KindAttendanceOverride, Since: 1, Check: checkAttendanceOpen, Apply: applyAttendanceOverride, Reread: rereadAttendance},
		{Kind: KindAttendanceStatus, Since: 1, Check: checkAttendanceOpen, Apply: applyAttendanceStatus, Reread: rereadAttendance},
		{Kind: KindAttendanceCheckIn, Since: 1, Check: checkAttendanceCheckIn, Apply: applyAttendanceCheckIn, Reread: rereadAttendance},
	}
}

func applyAttendanceCheckIn(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in AttendanceCheckIn
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if in.AttendanceID == "" {
		return nil, cluster.Invalid(map[string]string{"attendance_id": "required"})
	}
	a, err := loadAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if a.Status != AttendanceExpected {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "only an expected attendance can be checked in; this one is " + a.Status}
	}
	if tx.LogicVersion() >= logicBookingFollows {
		if err := notDueNow(tx, a, tx.Now()); err != nil {
			return nil, err
		}
	}
	old := a.Status
	now := tx.Now()
	a.CheckedInAt = &now
	next := a.CheckInStatus
	a.CheckInStatus = ""
	a.Status = AttendanceArrived
	a.Timeline = append(a.Timeline, StatusChange{Status: AttendanceArrived, At: now, Index: tx.Index(), Actor: tx.Actor()})
	if next != "" && next != AttendanceArrived {
		setStatus(tx, a, next)
	}
	if err := bookingFollows(tx, a, old, a.Status); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.check_in", "attendance/"+a.ID, map[string]any{"status": a.Status})
	return attendanceResult(tx, a), nil
}

// Validate checks the shape of answers (pure).
func (p *AttendanceAnswers) Validate() map[string]string {
	f := map[string]string{}
	if p.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	if len(p.Answers) == 0 {
		f["answers"] = "at least one answer is required"
	}
	if len(p.Answers) > 200 {
		f["answers"] = "at most 200 answers"
	}
	for i, a := range p.Answers {
		if strings.TrimSpace(a.Question) == "" {
			f[fmt.Sprintf("answers[%d].question", i)] = "required"
		}
		if strings.TrimSpace(a.Value) == "" {
			f[fmt.Sprintf("answers[%d].value", i)] = "required"
		}
	}
	return nilIfEmpty(f)
}

// Validate checks observations (pure).
func (p *AttendanceObservations) Validate() map[string]string {
	f := map[string]string{}
	if p.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	validateObservations(&p.Observations, "observations.", f)
	return nilIfEmpty(f)
}

// Validate checks an override (pure).
func (p *AttendanceOverride) Validate() map[string]string {
	f := map[string]string{}
	if p.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	if strings.TrimSpace(p.Reason) == "" {
		f["reason"] = "required: say why the tier or service is overridden"
	} else if len(p.Reason) > directory.MaxTextLen {
		f["reason"] = "too long"
	}
	if p.Tier == "" && p.ServiceID == "" {
		f["tier"] = "give a tier or a service_id"
	}
	if p.Tier != "" && !p.Tier.Valid() {
		f["tier"] = "must be one of self_care, pharmacy, gp, rapid_response, ed"
	}
	if p.Timeframe != "" && !p.Timeframe.Valid() {
		f["timeframe"] = "must be one of immediate, 1h, 2h, 4h, 6h, 12h, 24h, 72h, 1w, none"
	}
	return nilIfEmpty(f)
}

// Validate checks a status change (pure).
func (p *AttendanceStatusChange) Validate() map[string]string {
	f := map[string]string{}
	if p.AttendanceID == "" {
		f["attendance_id"] = "required"
	}
	switch p.Status {
	case AttendanceCalled, AttendanceSeen, AttendanceHandedOver, AttendanceLeft:
	default:
		f["status"] = "must be called, seen, handed_over or left"
	}
	return nilIfEmpty(f)
}

func nilIfEmpty(f map[string]string) map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}

// loadAttendance reads an attendance for a workflow command. On the leader
// it takes the record its check decoded when the stored bytes are still the
// same (checkedAttendance), rather than decoding them a second time.
func loadAttendance(tx *cluster.Tx, id string) (*Attendance, error) {
	raw, found, err := tx.GetRaw(keyAttendance(id))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no attendance " + id}
	}
	return decodeAttendance(tx, id, raw, tx.Checked())
}

// decodeAttendance decodes the stored record raw of attendance id (with
// its session and routing parts, read through r), or takes the one a check
// decoded from the same bytes (checked): a command rewrites a/<id> whenever
// it writes any part, so the same bytes mean the same parts.
func decodeAttendance(r cluster.Reader, id string, raw []byte, checked any) (*Attendance, error) {
	if c, ok := checked.(*checkedAttendance); ok && c.a != nil && c.a.ID == id && bytes.Equal(c.raw, raw) {
		a := c.a
		c.a = nil // Apply changes it: never hand it out twice
		return a, nil
	}
	return decodeStored(r, id, raw)
}

// getAttendance reads an attendance for a command; found is false when
// there is none.
func getAttendance(tx *cluster.Tx, id string) (a *Attendance, found bool, err error) {
	raw, found, err := tx.GetRaw(keyAttendance(id))
	if err != nil || !found {
		return nil, found, err
	}
	a, err = decodeAttendance(tx, id, raw, tx.Checked())
	return a, err == nil, err
}

// AttendanceClosed reports whether an attendance of this status is over
// (seen, handed over or left): workflow commands refuse it.
func AttendanceClosed(status string) bool { return closed(status) }

// closed reports whether the attendance has left the queue for good.
// openAttendance loads an attendance that is still open (not seen, handed
// over or left) and gives it a triage record to add to if it has none.
func openAttendance(tx *cluster.Tx, id string) (*Attendance, error) {
	a, err := loadAttendance(tx, id)
	if err != nil {
		return nil, err
	}
	if closed(a.Status) {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is " + a.Status}
	}
	if a.Triage == nil {
		a.Triage = &TriageRecord{Answers: []AnswerRecord{}}
	}
	return a, nil
}

func closed(status string) bool {
	return status == AttendanceSeen || status == AttendanceHandedOver || status == AttendanceLeft
}

// answerError maps the engine's refusal of an answer to field errors that
// name the question and the allowed values.
func answerError(err error, answers []triage.Reply) error {
	var ae *triage.AnswerError
	if errors.As(err, &ae) {
		field := "answers"
		for i, a := range answers {
			if a.Question == ae.Question && a.Value == ae.Value {
				field = fmt.Sprintf("answers[%d]", i)
				break
			}
		}
		msg := fmt.Sprintf("%s: %q %s", ae.Question, ae.Value, ae.Reason)
		if len(ae.Allowed) > 0 {
			msg += "; allowed: " + strings.Join(ae.Allowed, ", ")
		}
		return &cluster.CommandError{Code: cluster.CodeInvalid, Message: "an answer is not accepted", Fields: map[string]string{field: msg}}
	}
	if errors.Is(err, triage.ErrSessionDone) {
		return &cluster.CommandError{Code: cluster.CodeConflict, Message: "triage already has an outcome; record observations or override instead"}
	}
	if errors.Is(err, triage.ErrBadPatient) {
		return cluster.Invalid(map[string]string{"observations": err.Error()})
	}
	return &cluster.CommandError{Code: cluster.CodeConflict, Message: "triage: " + err.Error()}
}

// logicOneEngineRun (logic version 5): Apply of attendance.answer runs the
// triage engine once, with the earlier contacts counted afresh, instead of
// once to check the answers and again to take them. Under older versions an
// answer the first run refused was refused even if the second would take it.
const logicOneEngineRun = 5

// answerable returns the pinned protocol set of an attendance that can take
// answers: it has a session and is not over.
func answerable(txn cluster.Reader, a *Attendance) (*triage.Set, error) {
	if a.Triage == nil || a.Triage.Session == nil {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance has no triage session (create it with a protocol)"}
	}
	if closed(a.Status) {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is " + a.Status}
	}
	return protocolset.ReadSet(txn, a.Triage.SetKey)
}

// checkAnswers runs the answers against the attendance's pinned session
// without writing (the leader's check; Apply's first step before logic
// version 5).
func checkAnswers(txn cluster.Reader, a *Attendance, answers []triage.Reply) (*triage.Set, error) {
	set, err := answerable(txn, a)
	if err != nil {
		return nil, err
	}
	if _, _, err := triage.Answer(set, *a.Triage.Session, answers...); err != nil {
		return nil, answerError(err, answers)
	}
	return set, nil
}

func applyAttendanceAnswer(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[AttendanceAnswers](raw)
	if err != nil {
		return nil, err
	}
	a, err := loadAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	var set *triage.Set
	if tx.LogicVersion() >= logicOneEngineRun {
		set, err = answerable(tx, a)
	} else {
		set, err = checkAnswers(tx, a, in.Answers)
	}
	if err != nil {
		return nil, err
	}
	old := a.Status
	tr := a.Triage
	// Contacts are counted again: the patient may have been identified since.
	rec, err := patientRecordOf(tx, a)
	if err != nil {
		return nil, err
	}
	n, err := previousContactsAt(tx, a, rec)
	if err != nil {
		return nil, err
	}
	var next triage.Session
	var step triage.Step
	if run := takeAnswerRun(tx, a, set, in.Answers, n); run != nil {
		// The leader's check ran the engine on the same inputs.
		next, step = run.next, run.step
	} else {
		s := *tr.Session
		s.Patient.PreviousContacts96h = n
		if next, step, err = triage.Answer(set, s, in.Answers...); err != nil {
			return nil, answerError(err, in.Answers)
		}
	}
	for _, r := range in.Answers {
		tr.Answers = append(tr.Answers, AnswerRecord{Question: r.Question, Value: r.Value, By: tx.Actor(), At: tx.Now(), Index: tx.Index()})
	}
	tr.Session, tr.Questions = &next, step.Questions
	if _, _, err := applyInterim(tx, a, step); err != nil {
		return nil, err
	}
	if step.Done {
		// The referral's and arrival's floor (Dx, clinician now) still holds;
		// a disposition already decided is never lowered.
		d := higher(higher(outcomeDisposition(step.Outcome), tr.floor()), tr.Disposition)
		if err := settle(tx, a, d, "triage"); err != nil {
			return nil, err
		}
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.answer", "attendance/"+a.ID, map[string]any{"answers": in.Answers, "done": step.Done, "status": a.Status})
	return attendanceResult(tx, a), nil
}

func applyAttendanceObserve(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[AttendanceObservations](raw)
	if err != nil {
		return nil, err
	}
	if in.Observations.DiastolicBP != nil && tx.LogicVersion() < logicTriageRules1 {
		// Logic version 2 knew no diastolic pressure: refused as it refused it.
		return nil, cluster.Invalid(map[string]string{"observations.diastolic_bp": fmt.Sprintf("not known at logic version %d", tx.LogicVersion())})
	}
	a, err := openAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	old := a.Status
	tr := a.Triage
	rec := ObservationRecord{Observations: in.Observations, By: tx.Actor(), At: tx.Now(), Index: tx.Index()}
	var fresh *Disposition
	switch {
	case tr.Session != nil:
		set, err := protocolset.ReadSet(tx, tr.SetKey)
		if err != nil {
			return nil, err
		}
		prevOutcome := tr.Session.Outcome
		next, step, err := triage.Observe(set, *tr.Session, in.Observations)
		if err != nil {
			return nil, answerError(err, nil)
		}
		tr.Session = &next
		raised, why, err := applyInterim(tx, a, step)
		if err != nil {
			return nil, err
		}
		if raised {
			rec.Raised, rec.Reason = true, why // questions remain: the interim rose
		}
		switch {
		case !step.Done:
			tr.Questions = step.Questions
		case prevOutcome == nil || step.Outcome.Intensity() > prevOutcome.Intensity() ||
			checksLevel(step.Outcome) > checksLevel(prevOutcome):
			// Only what the observations changed counts (a newly reached
			// outcome, a higher one, or a global check now demanding more):
			// an outcome that merely stands must not undo a clinician's
			// override, while a rising score still raises it.
			fresh = outcomeDisposition(step.Outcome)
			tr.Questions = nil
		default:
			tr.Questions = nil
		}
	default:
		// No protocol session (Dx only, or no triage yet): NEWS2 on what is known.
		merged := mergedObservations(tr.Observations, in.Observations)
		tp, err := dxOnlyPatient(tx, a)
		if err != nil {
			return nil, err
		}
		rules := triageRules(tx.LogicVersion())
		news, nd := news2Disposition(tp, merged, rules)
		_, before := news2Disposition(tp, merged0(tr.Observations), rules)
		tr.NEWS2 = news
		if nd.Intensity() > before.Intensity() {
			fresh = nd
		}
	}
	if fresh != nil {
		fresh = higher(fresh, tr.floor())
	}
	// Upward only: a disposition replaces the current one only when it is
	// more intensive; then the attendance is routed again (never downward).
	if fresh != nil && fresh.Intensity() > tr.Disposition.Intensity() && !closedForRouting(a.Status) {
		rec.Raised = true
		if tx.LogicVersion() >= logicTriageRules1 {
			rec.Reason = raiseReason(tr.Session, fresh)
		}
		if err := raiseTo(tx, a, fresh); err != nil {
			return nil, err
		}
	}
	tr.Observations = append(tr.Observations, rec)
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.observe", "attendance/"+a.ID, map[string]any{"observations": in.Observations, "raised": rec.Raised, "status": a.Status})
	return attendanceResult(tx, a), nil
}

// raiseTo makes fresh the attendance's disposition and routes it (a
// clinician-first one, from logic version 3, waits for the clinician).
func raiseTo(tx *cluster.Tx, a *Attendance, fresh *Disposition) error {
	if fresh.ClinicianFirst != nil && tx.LogicVersion() >= logicTriageRules1 {
		if !a.Triage.FloorWaived {
			return awaitClinician(tx, a, fresh)
		}
		// A clinician's override has already assessed them: only what
		// follows the floor can raise it.
		if fresh = thenDisposition(fresh.ClinicianFirst.Then); fresh == nil || fresh.Intensity() <= a.Triage.Disposition.Intensity() {
			return nil
		}
	}
	fresh.ClinicianFirst = nil
	prev := a.Triage.Disposition
	a.Triage.Disposition = fresh
	if err := codeECDS(tx, a); err != nil {
		return err
	}
	if prev == nil {
		setStatus(tx, a, AttendanceTriaged)
	}
	return route(tx, a, "observations raised the disposition ("+fresh.DecidedBy+")")
}

// raiseReason says why observations raised the disposition: the reason of
// the global check that decided it, else its title.
func raiseReason(s *triage.Session, d *Disposition) string {
	if s != nil && s.Outcome != nil {
		for _, c := range s.Outcome.Checks {
			if c.Raises && c.Check == d.DecidedBy {
				return checkReason(c.Reason)
			}
		}
	}
	return checkReason(d.Title)
}

// checkReason drops the engine's "[outcome id]" suffix from a check reason.
func checkReason(r string) string {
	if i := strings.LastIndex(r, " ["); i > 0 && strings.HasSuffix(r, "]") {
		return r[:i]
	}
	return r
}

// closedForRouting: a patient already being seen is not moved elsewhere.
func closedForRouting(status string) bool {
	return status == AttendanceCalled || closed(status)
}

// checksLevel is the most intensive disposition the global checks of an
// outcome demand (0 when none raises).
func checksLevel(r *triage.Result) int {
	level := 0
	if r == nil {
		return 0
	}
	for _, c := range r.Checks {
		if c.Raises {
			level = max(level, triage.Intensity(c.Tier, c.Timeframe))
		}
	}
	return level
}

// merged0 is the merge of the recorded observations alone.
func merged0(recs []ObservationRecord) triage.Observations {
	if len(recs) == 0 {
		return triage.Observations{}
	}
	return mergedObservations(recs[:len(recs)-1], recs[len(recs)-1].Observations)
}

func mergedObservations(recs []ObservationRecord, latest triage.Observations) triage.Observations {
	var o triage.Observations
	all := append(append([]ObservationRecord(nil), recs...), ObservationRecord{Observations: latest})
	for _, r := range all {
		x := r.Observations
		if x.RespiratoryRate != nil {
			o.RespiratoryRate = x.RespiratoryRate
		}
		if x.SpO2 != nil {
			o.SpO2, o.SpO2Scale2 = x.SpO2, x.SpO2Scale2
		}
		if x.OnOxygen != nil {
			o.OnOxygen = x.OnOxygen
		}
		if x.SystolicBP != nil {
			o.SystolicBP = x.SystolicBP
		}
		if x.Pulse != nil {
			o.Pulse = x.Pulse
		}
		if x.DiastolicBP != nil {
			o.DiastolicBP = x.DiastolicBP
		}
		if x.Consciousness != nil {
			o.Consciousness = x.Consciousness
		}
		if x.TemperatureC != nil {
			o.TemperatureC = x.TemperatureC
		}
	}
	return o
}

func applyAttendanceConfirm(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in AttendanceConfirm
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if in.AttendanceID == "" {
		return nil, cluster.Invalid(map[string]string{"attendance_id": "required"})
	}
	if len(in.Note) > directory.MaxTextLen {
		return nil, cluster.Invalid(map[string]string{"note": "too long"})
	}
	a, err := loadAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if a.Status == AttendanceAwaitingClinician && tx.LogicVersion() >= logicTriageRules1 {
		return confirmClinicianFirst(tx, a, in.Note)
	}
	if a.Status != AttendanceAwaitingConfirmation {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "nothing to confirm: the attendance is " + a.Status}
	}
	old := a.Status
	a.Confirmations = append(a.Confirmations, Confirmation{Note: in.Note, By: tx.Actor(), At: tx.Now(), Index: tx.Index()})
	setStatus(tx, a, AttendanceRouted)
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.confirm", "attendance/"+a.ID, map[string]any{"service_id": a.Routing.Decision.ServiceID,
		"tier": a.Routing.Decision.Tier, "note": in.Note})
	return attendanceResult(tx, a), nil
}

// overrideRetierSince: the LogicVersion from which a clinician's override
// to another tier replaces the outcome's generic care need with the new
// tier's (routing.RetierCareNeeds).
const overrideRetierSince = 4

func applyAttendanceOverride(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[AttendanceOverride](raw)
	if err != nil {
		return nil, err
	}
	a, err := openAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	old := a.Status
	tr := a.Triage
	d := &Disposition{CareNeeds: []string{}, Source: "override", DecidedBy: "clinician_override", Title: in.Reason}
	if tr.Disposition != nil {
		x := *tr.Disposition
		d.Tier, d.Timeframe, d.Dx, d.CareNeeds, d.Advice, d.SafetyNet = x.Tier, x.Timeframe, x.Dx, x.CareNeeds, x.Advice, x.SafetyNet
	}
	var svc routing.Service
	if in.ServiceID != "" {
		found, err := tx.Get(directory.PrefixService+in.ServiceID, &svc)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, cluster.Invalid(map[string]string{"service_id": "no such service"})
		}
		d.Tier = triageTier(svc.Tier)
	}
	if in.Tier != "" {
		d.Tier = in.Tier
	}
	if in.Timeframe != "" {
		d.Timeframe = in.Timeframe
	}
	if d.Timeframe == "" {
		d.Timeframe = triage.Within4h
	}
	if in.Tier != "" && in.ServiceID != "" && string(svc.Tier) != string(in.Tier) {
		return nil, cluster.Invalid(map[string]string{"service_id": "the service's tier is " + string(svc.Tier) + ", not " + string(in.Tier)})
	}
	if tx.LogicVersion() >= overrideRetierSince && (tr.Disposition == nil || d.Tier != tr.Disposition.Tier) {
		// A new tier asks for that tier's kind of care: an ED outcome
		// moved to a GP needs a GP assessment, not emergency care.
		d.CareNeeds = routing.RetierCareNeeds(d.CareNeeds, routingTier(d.Tier))
	}
	tr.Disposition = d
	if err := codeECDS(tx, a); err != nil {
		return nil, err
	}
	tr.Review = ""
	tr.FloorWaived = true // the clinician's decision replaces the Dx and clinician-now floors
	a.Overrides = append(a.Overrides, Override{Tier: in.Tier, Timeframe: in.Timeframe, ServiceID: in.ServiceID, Reason: in.Reason,
		By: tx.Actor(), At: tx.Now(), Index: tx.Index()})
	need, err := routing.NeedFromTimeframe(routingTier(d.Tier), string(d.Timeframe), d.Dx, d.CareNeeds)
	if err != nil {
		return nil, cluster.Invalid(map[string]string{"timeframe": err.Error()})
	}
	dir, err := directory.DirectoryFromState(tx)
	if err != nil {
		return nil, err
	}
	load, err := directory.LoadAt(tx, tx.Now())
	if err != nil {
		return nil, err
	}
	rec, err := patientRecordOf(tx, a)
	if err != nil {
		return nil, err
	}
	p := routingPatient(tx, a, rec)
	withoutOwn(load, a)
	dec, err := routing.RouteRules(need, p, tx.Now(), dir, load, routingRules(tx.LogicVersion()))
	if err != nil {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "routing: " + err.Error()}
	}
	if in.ServiceID != "" && dec.ServiceID != in.ServiceID {
		// The clinician names the service: it is taken without a capacity
		// check (the clinician has agreed it with the service), and the
		// router's view is kept in the rejections for the record.
		dec = routing.Decision{ServiceID: svc.ID, ServiceName: svc.Name, Tier: svc.Tier,
			Allocation: routing.Allocation{ServiceID: svc.ID}, SeeFrom: tx.Now(), Rejections: dec.Rejections}
	}
	if err := applyDecision(tx, a, need, p, dec, true, "clinician override: "+in.Reason); err != nil {
		return nil, err
	}
	if err := afterRouting(tx, a, d, &dec); err != nil { // address.go: nothing asked for any more; a rapid response fallback alerts
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.override", "attendance/"+a.ID, map[string]any{"tier": d.Tier, "timeframe": d.Timeframe,
		"service_id": dec.ServiceID, "reason": in.Reason})
	return attendanceResult(tx, a), nil
}

func applyAttendanceStatus(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[AttendanceStatusChange](raw)
	if err != nil {
		return nil, err
	}
	a, err := loadAttendance(tx, in.AttendanceID)
	if err != nil {
		return nil, err
	}
	if closed(a.Status) {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already " + a.Status}
	}
	if a.Status == in.Status {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already " + a.Status}
	}
	old := a.Status
	setStatus(tx, a, in.Status)
	if (in.Status == AttendanceLeft || in.Status == AttendanceHandedOver) && a.Routing != nil {
		// The slot was not used: free it for the next patient.
		if err := directory.ReleaseSlot(tx, a.ID, a.Routing.Decision.Allocation); err != nil {
			return nil, err
		}
	}
	if err := bookingFollows(tx, a, old, in.Status); err != nil {
		return nil, err
	}
	if err := storeAttendance(tx, a, old); err != nil {
		return nil, err
	}
	tx.Audit("attendance.status", "attendance/"+a.ID, map[string]any{"from": old, "to": in.Status})
	return attendanceResult(tx, a), nil
}
