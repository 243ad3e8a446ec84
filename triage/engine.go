package triage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Channels by which a patient reaches frontdoor.
const (
	ChannelWalkIn = "walk_in"
	ChannelNHS111 = "nhs111"
)

// ScreenPrefix prefixes the ids of screen questions in answers ("screen.unconscious").
const ScreenPrefix = "screen."

// Patient is the context a session starts with.
type Patient struct {
	AgeYears *int `json:"age_years,omitempty" yaml:"age_years"`
	AgeDays  *int `json:"age_days,omitempty" yaml:"age_days"`
	// AgeEstimated marks an age derived from an estimated date of birth (1 January
	// of a guessed year): it must not drive the infant (days) rules.
	AgeEstimated bool   `json:"age_estimated,omitempty" yaml:"age_estimated"`
	Sex          string `json:"sex,omitempty" yaml:"sex"`           // female | male | unknown
	Pregnant     string `json:"pregnant,omitempty" yaml:"pregnant"` // yes | no | unknown
	Channel      string `json:"channel,omitempty" yaml:"channel"`   // walk_in | nhs111
	// GestationWeeks is how many completed weeks pregnant she is (pregnant only).
	GestationWeeks *int `json:"gestation_weeks,omitempty" yaml:"gestation_weeks"`
	// PostnatalWeeks is how many weeks ago she gave birth (the NICE NG133
	// checks apply for 6 weeks after birth).
	PostnatalWeeks *int `json:"postnatal_weeks,omitempty" yaml:"postnatal_weeks"`
	// PreviousContacts96h counts earlier contacts for this problem within 96 hours.
	PreviousContacts96h int          `json:"previous_contacts_96h,omitempty" yaml:"previous_contacts_96h"`
	Flags               []string     `json:"flags,omitempty" yaml:"flags"`
	Observations        Observations `json:"observations" yaml:"observations"`
}

// age is the patient's age as the engine uses it.
type age struct {
	known     bool // years known
	daysKnown bool
	years     int
	days      int
}

func ageFromDays(d int) age { return age{known: true, daysKnown: true, years: d * 4 / 1461, days: d} }

func (p *Patient) age() age {
	switch {
	case p.AgeDays != nil && *p.AgeDays >= 0:
		a := ageFromDays(*p.AgeDays)
		if p.AgeEstimated {
			a.daysKnown = false
		}
		return a
	case p.AgeYears != nil && *p.AgeYears >= 0:
		y := *p.AgeYears
		a := age{known: true, years: y}
		if y >= 1 && !p.AgeEstimated {
			a.daysKnown, a.days = true, y*1461/4
		}
		return a
	}
	return age{}
}

func (w *When) matchAge(a age) bool {
	if w.AgeUnderYears != nil && (!a.known || a.years >= *w.AgeUnderYears) {
		return false
	}
	if w.AgeFromYears != nil && (!a.known || a.years < *w.AgeFromYears) {
		return false
	}
	if w.AgeUnderDays != nil && (!a.daysKnown || a.days >= *w.AgeUnderDays) {
		return false
	}
	if w.AgeFromDays != nil && (!a.daysKnown || a.days < *w.AgeFromDays) {
		return false
	}
	return true
}

// Reply is one answer: a question id (screen questions prefixed "screen.")
// and its value ("yes", "no", "not_sure", a choice value, or a number).
type Reply struct {
	Question string `json:"question"`
	Value    string `json:"value"`
}

// Session is the plain-data state of one triage. It round-trips through JSON
// exactly and pins the protocol versions and content hashes it was started with.
// Advance it only through Start, Answer and Observe.
type Session struct {
	Protocol      string `json:"protocol"`
	Version       int    `json:"version"`
	Hash          string `json:"hash"`
	ScreenVersion int    `json:"screen_version"`
	ScreenHash    string `json:"screen_hash"`
	// Rules is the engine's rules version the session runs under (see
	// CurrentRules): a session keeps the rules it started with, so a replayed
	// log decides as it did.
	Rules   int     `json:"rules,omitempty"`
	Patient Patient `json:"patient"`
	Answers []Reply `json:"answers"`
	// Done is true once an outcome is decided; Outcome then holds it.
	Done    bool    `json:"done"`
	Outcome *Result `json:"outcome,omitempty"`
}

// Question is a question the session is waiting for.
type Question struct {
	ID      string           `json:"id"` // as used in Answer.Question
	Text    string           `json:"text"`
	Help    string           `json:"help,omitempty"`
	Type    AnswerType       `json:"type"`
	Unit    string           `json:"unit,omitempty"`
	Min     *float64         `json:"min,omitempty"`
	Max     *float64         `json:"max,omitempty"`
	Choices []QuestionChoice `json:"choices,omitempty"`
	// Allowed lists the accepted values (for numbers, a description).
	Allowed []string `json:"allowed"`
	// Group names the form the question belongs to (asked together);
	// Observed marks a sign that is seen or checked, not recalled.
	Group    string `json:"group,omitempty"`
	Observed bool   `json:"observed,omitempty"`
	FollowUp bool   `json:"follow_up,omitempty"`
}

// Equal reports whether q and o are the same question, field for field
// (nil and empty Allowed told apart: they encode differently).
func (q *Question) Equal(o *Question) bool {
	if q.ID != o.ID || q.Text != o.Text || q.Help != o.Help || q.Type != o.Type || q.Unit != o.Unit ||
		q.Group != o.Group || q.Observed != o.Observed || q.FollowUp != o.FollowUp ||
		!sameFloat(q.Min, o.Min) || !sameFloat(q.Max, o.Max) ||
		len(q.Choices) != len(o.Choices) || len(q.Allowed) != len(o.Allowed) || (q.Allowed == nil) != (o.Allowed == nil) {
		return false
	}
	for i := range q.Choices {
		if q.Choices[i] != o.Choices[i] {
			return false
		}
	}
	for i := range q.Allowed {
		if q.Allowed[i] != o.Allowed[i] {
			return false
		}
	}
	return true
}

func sameFloat(a, b *float64) bool { return a == b || (a != nil && b != nil && *a == *b) }

// QuestionChoice is one option offered for a choice question.
type QuestionChoice struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Step is what a session needs next: questions to ask, or its outcome.
// While questions remain, Interim is the least the session already demands
// (observations scored, a screen floor passed): it raises at once.
type Step struct {
	Done      bool       `json:"done"`
	Questions []Question `json:"questions,omitempty"`
	Outcome   *Result    `json:"outcome,omitempty"`
	Interim   *Interim   `json:"interim,omitempty"`
}

// Interim is what a session in progress already demands.
type Interim struct {
	Tier      Tier          `json:"tier"`
	Timeframe Timeframe     `json:"timeframe"`
	Dx        string        `json:"dx"`
	DecidedBy string        `json:"decided_by"` // a check name, floor or clinician_first
	Stream    string        `json:"stream,omitempty"`
	CareNeeds []string      `json:"care_needs,omitempty"`
	Reason    string        `json:"reason"`
	Checks    []CheckResult `json:"checks,omitempty"`
	NEWS2     *NEWS2Result  `json:"news2,omitempty"`
}

// ClinicianFirst is an uncertainty that stayed unresolved: a clinician
// assesses first (now at the desk, or a call-back), then confirms or
// overrides what the protocol and checks reached without it (Then).
type ClinicianFirst struct {
	Stream  string   `json:"stream"` // clinician_now | clinician_callback
	Reasons []string `json:"reasons"`
	Then    *Then    `json:"then"`
}

// Disposition is what an outcome says: which outcome of which protocol, its
// tier, Dx, timeframe, care needs and advice.
type Disposition struct {
	Outcome   string    `json:"outcome"`
	Protocol  string    `json:"protocol"` // the protocol whose outcome this is, or "global"
	Tier      Tier      `json:"tier"`
	Dx        string    `json:"dx"`
	Timeframe Timeframe `json:"timeframe"`
	CareNeeds []string  `json:"care_needs"`
	Title     string    `json:"title"`
	Advice    string    `json:"advice"`
	SafetyNet string    `json:"safety_net"`
}

// Then is the disposition a session reached apart from its clinician-first floor.
type Then struct {
	Disposition
	DecidedBy string `json:"decided_by"`
}

// PathStep is one node the session passed through.
type PathStep struct {
	Protocol string `json:"protocol"` // screen or presentation id
	Node     string `json:"node"`
	Kind     string `json:"kind"` // question | switch | floor | continue
	Question string `json:"question,omitempty"`
	Answer   string `json:"answer,omitempty"`
	// From names the observation the answer was taken from (same_as).
	From string `json:"from,omitempty"`
	Next string `json:"next"`
}

// CheckResult is the verdict of one global check.
type CheckResult struct {
	Check     string    `json:"check"`
	Applies   bool      `json:"applies"`
	Raises    bool      `json:"raises"` // demands at least Tier/Timeframe
	Tier      Tier      `json:"tier,omitempty"`
	Dx        string    `json:"dx,omitempty"`
	Timeframe Timeframe `json:"timeframe,omitempty"`
	CareNeeds []string  `json:"care_needs,omitempty"`
	Reason    string    `json:"reason"`
}

// Result is the outcome of a session with its explanation.
type Result struct {
	Disposition
	Guidance string `json:"guidance,omitempty"`
	// Action says what an immediate ED outcome means for this channel:
	// "clinician_now" for a walk-in, "ambulance" for an NHS 111 caller.
	Action string `json:"action,omitempty"`
	// DecidedBy names the rule that set the final outcome: tree, screen, news2,
	// fever_ng143, sepsis, repeat_contact, floor or carer_worry.
	DecidedBy string `json:"decided_by"`
	// Findings say what was found or not ruled out on the way (the reasons
	// of the floors passed), in path order.
	Findings []string `json:"findings,omitempty"`
	// ClinicianFirst is set when an unresolved uncertainty decides: the
	// outcome is then a clinician's assessment first (see Stream).
	ClinicianFirst *ClinicianFirst `json:"clinician_first,omitempty"`
	// Flags are the context flags as the session left them; Pregnant likewise.
	Flags    []string `json:"flags,omitempty"`
	Pregnant string   `json:"pregnant,omitempty"`
	// TreeOutcome is what the screen/tree alone reached ("" if stopped early).
	TreeOutcome  string        `json:"tree_outcome,omitempty"`
	TreeProtocol string        `json:"tree_protocol,omitempty"`
	Path         []PathStep    `json:"path"`
	Checks       []CheckResult `json:"checks"`
	NEWS2        *NEWS2Result  `json:"news2,omitempty"`
	NG143        *NG143Result  `json:"ng143,omitempty"`
}

// Intensity of the result's disposition.
func (r *Result) Intensity() int { return Intensity(r.Tier, r.Timeframe) }

// Errors.
var (
	ErrUnknownProtocol = errors.New("triage: unknown protocol")
	ErrNotApplicable   = errors.New("triage: protocol does not apply to this patient")
	ErrSessionDone     = errors.New("triage: session already has an outcome")
	ErrPinnedVersion   = errors.New("triage: session was started on another protocol version")
	ErrBadPatient      = errors.New("triage: invalid patient context")
)

// AnswerError is an answer of the wrong type, out of range, or to an unknown
// question. It names the allowed values; the session is left unchanged.
type AnswerError struct {
	Question string   `json:"question"`
	Value    string   `json:"value"`
	Reason   string   `json:"reason"`
	Allowed  []string `json:"allowed"`
}

func (e *AnswerError) Error() string {
	if len(e.Allowed) == 0 {
		return fmt.Sprintf("triage: answer %q to %q: %s", e.Value, e.Question, e.Reason)
	}
	return fmt.Sprintf("triage: answer %q to %q: %s; allowed: %s", e.Value, e.Question, e.Reason, strings.Join(e.Allowed, ", "))
}

func validatePatient(p *Patient) error {
	switch p.Sex {
	case "", "female", "male", "unknown":
	default:
		return fmt.Errorf("%w: sex %q (allowed: female, male, unknown)", ErrBadPatient, p.Sex)
	}
	switch p.Pregnant {
	case "", Yes, No, "unknown":
	default:
		return fmt.Errorf("%w: pregnant %q (allowed: yes, no, unknown)", ErrBadPatient, p.Pregnant)
	}
	switch p.Channel {
	case "", ChannelWalkIn, ChannelNHS111:
	default:
		return fmt.Errorf("%w: channel %q (allowed: walk_in, nhs111)", ErrBadPatient, p.Channel)
	}
	for _, f := range p.Flags {
		if _, ok := flagBit(f); !ok {
			return fmt.Errorf("%w: flag %q (allowed: %s)", ErrBadPatient, f, strings.Join(flagNames[:], ", "))
		}
	}
	if p.AgeYears != nil && (*p.AgeYears < 0 || *p.AgeYears > 130) {
		return fmt.Errorf("%w: age_years %d (allowed: 0-130)", ErrBadPatient, *p.AgeYears)
	}
	if p.AgeDays != nil && (*p.AgeDays < 0 || *p.AgeDays > 130*366) {
		return fmt.Errorf("%w: age_days %d", ErrBadPatient, *p.AgeDays)
	}
	if p.GestationWeeks != nil && (*p.GestationWeeks < 0 || *p.GestationWeeks > 45) {
		return fmt.Errorf("%w: gestation_weeks %d (allowed: 0-45)", ErrBadPatient, *p.GestationWeeks)
	}
	if p.PostnatalWeeks != nil && (*p.PostnatalWeeks < 0 || *p.PostnatalWeeks > 52) {
		return fmt.Errorf("%w: postnatal_weeks %d (allowed: 0-52)", ErrBadPatient, *p.PostnatalWeeks)
	}
	if p.PreviousContacts96h < 0 {
		return fmt.Errorf("%w: previous_contacts_96h %d", ErrBadPatient, p.PreviousContacts96h)
	}
	o := &p.Observations
	for _, r := range []struct {
		name   string
		v      *int
		lo, hi int
	}{{"respiratory_rate", o.RespiratoryRate, 0, 120}, {"spo2", o.SpO2, 0, 100}, {"systolic_bp", o.SystolicBP, 0, 350},
		{"diastolic_bp", o.DiastolicBP, 0, 250}, {"pulse", o.Pulse, 0, 350}} {
		if r.v != nil && (*r.v < r.lo || *r.v > r.hi) {
			return fmt.Errorf("%w: %s %d (allowed: %d-%d)", ErrBadPatient, r.name, *r.v, r.lo, r.hi)
		}
	}
	if t := o.TemperatureC; t != nil && !(*t >= 25 && *t <= 45) {
		return fmt.Errorf("%w: temperature_c %g (allowed: 25-45)", ErrBadPatient, *t)
	}
	if c := p.Observations.Consciousness; c != nil {
		switch *c {
		case Alert, Confusion, Voice, Pain, Unresponsive:
		default:
			return fmt.Errorf("%w: consciousness %q (allowed: alert, confusion, voice, pain, unresponsive)", ErrBadPatient, *c)
		}
	}
	return nil
}

// CurrentRules is the engine's rules version for new sessions. Rules 1:
// forms (group) asked together, interim raises while questions remain,
// "not sure" sets only risk flags, clinician-first floors, the NG133
// maternity check. Rules 0 is the behaviour before, kept for replay.
const CurrentRules = 1

// Start begins a session of a presentation for a patient and returns the
// first step (the screen's first questions).
func Start(set *Set, protocolID string, p Patient) (Session, Step, error) {
	return StartRules(set, protocolID, p, CurrentRules)
}

// StartRules is Start under a given rules version (0 or CurrentRules): a
// replicated log replays an old entry under the rules it was written with.
func StartRules(set *Set, protocolID string, p Patient, rules int) (Session, Step, error) {
	pr, ok := set.byID[protocolID]
	if !ok || pr.Kind != KindPresentation {
		return Session{}, Step{}, fmt.Errorf("%w: %q", ErrUnknownProtocol, protocolID)
	}
	if err := validatePatient(&p); err != nil {
		return Session{}, Step{}, err
	}
	if a := p.age(); a.known && pr.AppliesTo.MinAgeYears != nil && pr.AppliesTo.MaxAgeYears != nil &&
		(a.years < *pr.AppliesTo.MinAgeYears || a.years >= *pr.AppliesTo.MaxAgeYears) {
		return Session{}, Step{}, fmt.Errorf("%w: %s is for ages %d to under %d, patient is %d", ErrNotApplicable, pr.ID,
			*pr.AppliesTo.MinAgeYears, *pr.AppliesTo.MaxAgeYears, a.years)
	}
	p.Flags = append([]string(nil), p.Flags...)
	if rules < 0 || rules > CurrentRules {
		return Session{}, Step{}, fmt.Errorf("%w: rules %d", ErrBadPatient, rules)
	}
	s := Session{Protocol: pr.ID, Version: pr.Version, Hash: pr.Hash,
		ScreenVersion: set.Screen.Version, ScreenHash: set.Screen.Hash, Rules: rules, Patient: p, Answers: []Reply{}}
	step, err := advance(set, &s)
	return s, step, err
}

func (s *Session) clone() Session {
	c := *s
	c.Answers = append(make([]Reply, 0, len(s.Answers)+4), s.Answers...)
	c.Patient.Flags = append([]string(nil), s.Patient.Flags...)
	if s.Outcome != nil {
		o := *s.Outcome
		c.Outcome = &o
	}
	return c
}

func (set *Set) pinned(s *Session) (*Protocol, error) {
	pr, ok := set.byID[s.Protocol]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProtocol, s.Protocol)
	}
	if pr.Hash != s.Hash || set.Screen.Hash != s.ScreenHash {
		return nil, fmt.Errorf("%w: %s v%d (screen v%d) pinned, set has v%d (screen v%d)", ErrPinnedVersion,
			s.Protocol, s.Version, s.ScreenVersion, pr.Version, set.Screen.Version)
	}
	return pr, nil
}

// Answer records one or many answers and advances the session. Answers to
// questions not on the current path are kept (an NHS 111 system sends all it
// knows); a later answer to the same question replaces the earlier one. Any
// invalid answer fails the whole call with an *AnswerError and the returned
// session is the input unchanged.
func Answer(set *Set, s Session, answers ...Reply) (Session, Step, error) {
	pr, err := set.pinned(&s)
	if err != nil {
		return s, Step{}, err
	}
	if s.Done {
		return s, Step{Done: true, Outcome: s.Outcome}, ErrSessionDone
	}
	norm := make([]Reply, len(answers))
	for i, a := range answers {
		v, err := validateAnswer(set.Screen, pr, a)
		if err != nil {
			return s, Step{}, err
		}
		norm[i] = Reply{Question: a.Question, Value: v}
	}
	next := s.clone()
	for _, a := range norm {
		replaced := false
		for i := range next.Answers {
			if next.Answers[i].Question == a.Question {
				next.Answers[i].Value = a.Value
				replaced = true
				break
			}
		}
		if !replaced {
			next.Answers = append(next.Answers, a)
		}
	}
	step, err := advance(set, &next)
	if err != nil {
		return s, Step{}, err
	}
	return next, step, nil
}

// Observe records observations (measured values replace earlier ones; nil
// fields keep them) and re-runs the global checks. The outcome can only go up:
// if the new evaluation is less intensive, the earlier outcome stands.
func Observe(set *Set, s Session, obs Observations) (Session, Step, error) {
	if _, err := set.pinned(&s); err != nil {
		return s, Step{}, err
	}
	next := s.clone()
	o := &next.Patient.Observations
	if obs.RespiratoryRate != nil {
		o.RespiratoryRate = obs.RespiratoryRate
	}
	if obs.SpO2 != nil {
		o.SpO2 = obs.SpO2
		o.SpO2Scale2 = obs.SpO2Scale2
	}
	if obs.OnOxygen != nil {
		o.OnOxygen = obs.OnOxygen
	}
	if obs.SystolicBP != nil {
		o.SystolicBP = obs.SystolicBP
	}
	if obs.Pulse != nil {
		o.Pulse = obs.Pulse
	}
	if obs.DiastolicBP != nil {
		o.DiastolicBP = obs.DiastolicBP
	}
	if obs.Consciousness != nil {
		o.Consciousness = obs.Consciousness
	}
	if obs.TemperatureC != nil {
		o.TemperatureC = obs.TemperatureC
	}
	if err := validatePatient(&next.Patient); err != nil {
		return s, Step{}, err
	}
	prev := s.Outcome
	next.Done, next.Outcome = false, nil
	step, err := advance(set, &next)
	if err != nil {
		return s, Step{}, err
	}
	if prev != nil && (next.Outcome == nil || next.Outcome.Intensity() < prev.Intensity()) {
		// Never lower: keep the earlier outcome, with the fresh checks attached.
		kept := *prev
		if next.Outcome != nil {
			kept.Checks, kept.NEWS2, kept.NG143 = next.Outcome.Checks, next.Outcome.NEWS2, next.Outcome.NG143
		}
		next.Done, next.Outcome = true, &kept
		step = Step{Done: true, Outcome: &kept}
	}
	return next, step, nil
}

// findQuestion finds a question by answer id across the screen and the protocol.
func findQuestion(screen, pr *Protocol, id string) (*Node, bool) {
	p, nid := pr, id
	if strings.HasPrefix(id, ScreenPrefix) {
		p, nid = screen, id[len(ScreenPrefix):]
	}
	i, ok := p.nodeIdx[nid]
	if !ok {
		return nil, false
	}
	n := p.Nodes[i]
	return n, n.NodeKind() == "question"
}

func allowedValues(n *Node) []string {
	switch n.Type {
	case YesNo:
		return []string{Yes, No, NotSure}
	case Choice:
		out := make([]string, 0, len(n.Choices)+1)
		for _, c := range n.Choices {
			out = append(out, c.Value)
		}
		return append(out, NotSure)
	case Number:
		u := ""
		if n.Unit != "" {
			u = " " + n.Unit
		}
		return []string{fmt.Sprintf("a number from %g to %g%s", deref(n.Min), deref(n.Max), u), NotSure}
	}
	return nil
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// validateAnswer checks an answer and returns its normal form.
func validateAnswer(screen, pr *Protocol, a Reply) (string, error) {
	n, ok := findQuestion(screen, pr, a.Question)
	if !ok {
		return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "no such question in " + pr.ID + " or the screen (screen questions are prefixed screen.)"}
	}
	v := strings.TrimSpace(a.Value)
	if v == NotSure {
		return v, nil
	}
	switch n.Type {
	case YesNo:
		switch strings.ToLower(v) {
		case Yes, "true":
			return Yes, nil
		case No, "false":
			return No, nil
		}
		return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "not a yes/no answer", Allowed: allowedValues(n)}
	case Choice:
		for _, c := range n.Choices {
			if c.Value == v {
				return v, nil
			}
		}
		return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "not one of the choices", Allowed: allowedValues(n)}
	case Number:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "not a number", Allowed: allowedValues(n)}
		}
		if (n.Min != nil && f < *n.Min) || (n.Max != nil && f > *n.Max) || f != f {
			return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "out of the plausible range", Allowed: allowedValues(n)}
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	return "", &AnswerError{Question: a.Question, Value: a.Value, Reason: "question has no answer type"}
}

// QuestionFor is the question a session of presentation asks under id
// (a presentation node's id, or ScreenPrefix and a screen node's id),
// worded as the engine words it: a stored session can keep the ids of
// the questions it waits for and have them back from its pinned set.
func (s *Set) QuestionFor(presentation, id string) (Question, bool) {
	p, node := s.Screen, strings.TrimPrefix(id, ScreenPrefix)
	if node == id {
		var ok bool
		if p, ok = s.Protocol(presentation); !ok {
			return Question{}, false
		}
	}
	n, ok := p.NodeByID(node)
	if !ok || n.NodeKind() != "question" {
		return Question{}, false
	}
	return questionOf(n, id), true
}

// NodeQuestion is the question node of protocol asks: the text a question
// step of a session's path holds (PathStep.Question).
func (s *Set) NodeQuestion(protocol, node string) (string, bool) {
	p, ok := s.Protocol(protocol)
	if !ok {
		return "", false
	}
	n, ok := p.NodeByID(node)
	if !ok {
		return "", false
	}
	return n.Question, true
}

func questionOf(n *Node, id string) Question {
	q := Question{ID: id, Text: n.Question, Help: n.Help, Type: n.Type, Unit: n.Unit, Min: n.Min, Max: n.Max, Allowed: allowedValues(n),
		Group: n.Group, Observed: n.Observed, FollowUp: n.FollowUp}
	for _, c := range n.Choices {
		q.Choices = append(q.Choices, QuestionChoice{Value: c.Value, Label: c.Label})
	}
	return q
}
