package triage

import (
	"fmt"
	"strconv"
	"strings"
)

type floorHit struct {
	p      *Protocol
	o      *Outcome
	node   string
	reason string
}

// walker evaluates a session from its inputs. Sessions are re-evaluated from
// the start on every call: the result depends only on the set and the session.
type walker struct {
	set      *Set
	pr       *Protocol
	s        *Session
	a        age
	flags    uint16
	pregnant string
	rules    int
	contacts int // earlier contacts the person reported (sets: previous_contacts)
	path     []PathStep
	floors   []floorHit
	features []Feature
	ng133    []Feature
	// record is false on the first, cheap pass: no path, floors or features
	// are kept until the session is known to reach an outcome.
	record bool
	cursor int
}

func (w *walker) lookup(screen bool, id string) (string, bool) {
	// Answers usually arrive in question order: start where the last hit was.
	ans := w.s.Answers
	n := len(ans)
	for k := 0; k < n; k++ {
		i := w.cursor + k
		if i >= n {
			i -= n
		}
		q := ans[i].Question
		if screen {
			if len(q) != len(ScreenPrefix)+len(id) || q[len(ScreenPrefix):] != id || q[:len(ScreenPrefix)] != ScreenPrefix {
				continue
			}
		} else if q != id {
			continue
		}
		w.cursor = i + 1
		if w.cursor >= n {
			w.cursor = 0
		}
		return ans[i].Value, true
	}
	return "", false
}

func (w *walker) match(c *When) bool {
	if c == nil {
		return true
	}
	if c.hasAge() && !c.matchAge(w.a) {
		return false
	}
	if c.Sex != "" {
		sex := w.s.Patient.Sex
		if sex == "" {
			sex = "unknown"
		}
		if sex != c.Sex {
			return false
		}
	}
	if c.Pregnant != "" && c.Pregnant != w.pregnant {
		return false
	}
	if c.Channel != "" && c.Channel != w.channel() {
		return false
	}
	if c.Flag != "" {
		if c.Flag == FlagPregnant {
			if w.pregnant != Yes {
				return false
			}
		} else if b, _ := flagBit(c.Flag); w.flags&b == 0 {
			return false
		}
	}
	if c.AgeUnknown != nil && *c.AgeUnknown != !w.a.known {
		return false
	}
	if c.NEWS2Complete != nil && *c.NEWS2Complete != NEWS2(w.s.Patient.Observations).Complete {
		return false
	}
	if c.ObservationsNormal != nil && *c.ObservationsNormal != w.observationsNormal() {
		return false
	}
	if c.GestationFromWeeks != nil {
		g := w.s.Patient.GestationWeeks
		if w.pregnant != Yes || g == nil || *g < *c.GestationFromWeeks {
			return false
		}
	}
	if c.Postnatal != nil && *c.Postnatal != w.postnatal() {
		return false
	}
	if c.TemperatureFromC != nil {
		t := w.s.Patient.Observations.TemperatureC
		if t == nil || *t < *c.TemperatureFromC {
			return false
		}
	}
	return true
}

// sameAs answers a question from an observation already made (same_as:
// the first of the named questions answered yes or no), so a sign reception
// saw at the desk is not asked again as a question. It returns the answer
// and the question it came from.
func (w *walker) sameAs(n *Node) (string, string, bool) {
	for _, id := range n.SameAs {
		screen := strings.HasPrefix(id, ScreenPrefix)
		v, ok := w.lookup(screen, strings.TrimPrefix(id, ScreenPrefix))
		if ok && (v == Yes || v == No) {
			return v, id, true
		}
	}
	return "", "", false
}

// streamFor is the clinician-first outcome for the channel: an NHS 111
// caller is called back (the protocol's clinician_callback outcome) where a
// walk-in is seen now.
func (w *walker) streamFor(p *Protocol, o *Outcome) *Outcome {
	if o.Stream != StreamClinicianNow || w.channel() != ChannelNHS111 {
		return o
	}
	for _, x := range p.Outcomes {
		if x.Stream == StreamClinicianCallback {
			return x
		}
	}
	return o
}

// observationsNormal: a complete set of observations with NEWS2 0, for a
// patient NEWS2 applies to (16 or over, or age unknown; not pregnant).
func (w *walker) observationsNormal() bool {
	if (w.a.known && w.a.years < 16) || w.pregnant == Yes {
		return false
	}
	r := NEWS2(w.s.Patient.Observations)
	return r.Complete && r.Score == 0
}

// postnatal: gave birth in the last 6 weeks.
func (w *walker) postnatal() bool {
	p := w.s.Patient.PostnatalWeeks
	return p != nil && *p <= 6
}

func (w *walker) channel() string {
	if w.s.Patient.Channel == "" {
		return ChannelWalkIn
	}
	return w.s.Patient.Channel
}

func (w *walker) setFlag(n *Node, v string) {
	if n.Sets == "" {
		return
	}
	if n.Sets == SetsPreviousContacts {
		if f, err := strconv.ParseFloat(v, 64); err == nil && int(f) > w.contacts {
			w.contacts = int(f)
		}
		return
	}
	if n.Sets == FlagPregnant {
		if v == Yes || v == No {
			w.pregnant = v
		}
		return
	}
	switch v {
	case Yes:
		w.flags |= n.setsBit
	case No:
		if w.rules >= 1 && w.pr.implied&n.setsBit != 0 {
			return // a flag the presentation implies (fever) is not undone by an answer
		}
		w.flags &^= n.setsBit
	case NotSure:
		if NotSureSets(n.Sets, w.rules) {
			w.flags |= n.setsBit // a risk the person is unsure about counts
		}
	}
}

// run walks one protocol from start. It returns the outcome reached, the
// pending question, or (for the screen) reached==nil && cont==true.
func (w *walker) run(p *Protocol, screen bool) (out *Outcome, pending *Question, cont bool, err error) {
	r := p.startRef
	for steps := 0; ; steps++ {
		if steps > len(p.Nodes)+1 {
			return nil, nil, false, fmt.Errorf("triage: %s: walk did not end (cycle?)", p.ID)
		}
		switch {
		case r == refContinue:
			if w.record {
				w.path = append(w.path, PathStep{Protocol: p.ID, Node: Continue, Kind: "continue", Next: w.pr.ID})
			}
			return nil, nil, true, nil
		case r.isOutcome():
			return p.Outcomes[r.outcome()], nil, false, nil
		case !r.isNode():
			return nil, nil, false, fmt.Errorf("triage: %s: unresolved reference", p.ID)
		}
		n := p.Nodes[r]
		switch {
		case n.Switch != nil:
			next := refNone
			target := ""
			for _, c := range n.Switch {
				if w.match(c.When) {
					next, target = c.ref, c.Next
					break
				}
			}
			if next == refNone {
				return nil, nil, false, fmt.Errorf("triage: %s: switch %s matched no entry", p.ID, n.ID)
			}
			if w.record {
				w.path = append(w.path, PathStep{Protocol: p.ID, Node: n.ID, Kind: "switch", Next: target})
			}
			r = next
		case n.Floor != "":
			if w.record {
				fp, fo := p, (*Outcome)(nil)
				if n.floorIdx >= 0 {
					fo = p.Outcomes[n.floorIdx]
				} else if fp, fo = w.set.Screen, w.set.clinicianNow; fo == nil {
					return nil, nil, false, fmt.Errorf("triage: %s: floor %s: the screen has no clinician_now outcome", p.ID, n.ID)
				}
				w.floors = append(w.floors, floorHit{p: fp, o: w.streamFor(fp, fo), node: n.ID, reason: n.Reason})
				w.path = append(w.path, PathStep{Protocol: p.ID, Node: n.ID, Kind: "floor", Next: n.Next})
			}
			r = n.nextRef
		default:
			v, ok := w.lookup(screen, n.ID)
			from := ""
			if !ok && w.rules >= 1 {
				v, from, ok = w.sameAs(n)
			}
			if !ok {
				id := n.ID
				if screen {
					id = ScreenPrefix + n.ID
				}
				q := questionOf(n, id)
				return nil, &q, false, nil
			}
			next, target := w.branch(n, v)
			w.setFlag(n, v)
			if w.record {
				if n.NG143 != "" && v == Yes {
					w.features = append(w.features, Feature{Name: p.ID + "." + n.ID, Colour: TrafficLight(n.NG143)})
				}
				if n.NG133 != "" && v == Yes && w.rules >= 1 {
					w.ng133 = append(w.ng133, Feature{Name: n.Question, Colour: TrafficLight(n.NG133)})
				}
				w.path = append(w.path, PathStep{Protocol: p.ID, Node: n.ID, Kind: "question", Question: n.Question, Answer: v, Next: target, From: from})
			}
			r = next
		}
	}
}

func (w *walker) branch(n *Node, v string) (ref, string) {
	notSure := func() (ref, string) {
		if n.Branches != nil {
			return n.notSureRef, n.Branches.NotSure
		}
		return n.notSureRef, n.NotSure
	}
	if v == NotSure {
		return notSure()
	}
	switch n.Type {
	case YesNo:
		if v == Yes {
			return n.yesRef, n.Branches.Yes
		}
		return n.noRef, n.Branches.No
	case Choice:
		for _, c := range n.Choices {
			if c.Value == v {
				return c.ref, c.Next
			}
		}
	case Number:
		f, err := strconv.ParseFloat(v, 64)
		if err == nil {
			for _, rg := range n.Ranges {
				if (rg.From == nil || f >= *rg.From) && (rg.Below == nil || f < *rg.Below) {
					return rg.ref, rg.Next
				}
			}
		}
	}
	return notSure()
}

// advance evaluates the session and sets Done/Outcome when decided.
func advance(set *Set, s *Session) (Step, error) {
	pr, ok := set.byID[s.Protocol]
	if !ok {
		return Step{}, fmt.Errorf("%w: %q", ErrUnknownProtocol, s.Protocol)
	}
	w := newWalker(set, pr, s, false)
	out, pending, decided, err := w.walk()
	if err != nil {
		return Step{}, err
	}
	if pending != nil && !demandsImmediate(&w) {
		step := Step{Questions: []Question{*pending}}
		if s.Rules >= 1 {
			step.Questions = formQuestions(set, pr, s, pending, step.Questions)
			step.Interim = interim(set, pr, s)
		}
		return step, nil
	}
	// Second pass, recording the explanation (deterministic: same walk).
	w = newWalker(set, pr, s, true)
	w.path = make([]PathStep, 0, len(set.Screen.Nodes)+len(pr.Nodes)/2+2)
	if out, _, decided, err = w.walk(); err != nil {
		return Step{}, err
	}
	checks, news, ng := globalChecks(&w)
	res := &Result{Path: w.path, Checks: checks, NEWS2: news, NG143: ng}
	if out != nil {
		owner := set.Screen.ID
		if decided == "tree" {
			owner = pr.ID
		}
		res.setOutcome(owner, out, decided)
		res.TreeOutcome, res.TreeProtocol = out.ID, owner
	}
	var stream *floorHit
	for i := range w.floors {
		f := &w.floors[i]
		if f.reason != "" {
			res.Findings = append(res.Findings, f.reason)
		}
		if f.o.Stream != "" {
			if stream == nil || f.o.Intensity() > stream.o.Intensity() {
				stream = f
			}
			continue
		}
		if res.Tier == "" || f.o.Intensity() > res.Intensity() {
			res.setOutcome(f.p.ID, f.o, "floor")
		}
	}
	for i := range checks {
		c := &checks[i]
		if c.Raises && (res.Tier == "" || Intensity(c.Tier, c.Timeframe) > res.Intensity()) {
			res.setCheck(c)
		}
	}
	if stream != nil && clinicianFirstDecides(stream.o, res) {
		res.clinicianFirst(set.Screen.ID, stream, w.floors)
	}
	if s.Rules >= 1 {
		res.adviseFor(&w)
	}
	if res.Tier == ED && res.Timeframe == Immediate {
		if w.channel() == ChannelNHS111 {
			res.Action = "ambulance"
			if info, ok := DxOutcome(res.Dx); !ok || info.Timeframe != Immediate {
				res.Dx = DxAmbulance
			}
		} else {
			res.Action = "clinician_now"
		}
	}
	if res.ClinicianFirst != nil {
		res.Action = res.ClinicianFirst.Stream
	}
	if s.Rules >= 1 && res.Action == "ambulance" {
		// The 111 system passes the ambulance disposition on electronically:
		// the caller is never asked to hang up and redial 999.
		res.Advice = "An ambulance has been requested (" + res.Dx + "), passed to the ambulance service electronically by NHS 111: stay on the line, do not hang up to redial 999. " + res.Advice
	}
	if s.Rules >= 1 {
		res.Flags, res.Pregnant = w.flagList(), w.pregnant
	}
	s.Done, s.Outcome = true, res
	return Step{Done: true, Outcome: res}, nil
}

// clinicianFirstDecides: a walk-in whose red flag stayed uncertain is seen
// by the centre's clinician now, before any onward care short of an
// immediate emergency (which already brings a clinician at once); an NHS
// 111 caller's call-back decides only when it is the most intensive demand
// (a caller told to attend an ED goes, rather than waits for a call).
func clinicianFirstDecides(stream *Outcome, res *Result) bool {
	if res.Tier == "" {
		return true
	}
	if stream.Stream == StreamClinicianNow {
		return !(res.Tier == ED && res.Timeframe == Immediate)
	}
	return stream.Intensity() > res.Intensity()
}

// clinicianFirst makes the outcome a clinician's assessment first: what the
// session reached without the uncertainty becomes Then.
func (r *Result) clinicianFirst(screen string, f *floorHit, floors []floorHit) {
	then := &Then{Disposition: r.Disposition, DecidedBy: r.DecidedBy}
	var reasons []string
	for _, x := range floors {
		if x.o.Stream != "" && x.reason != "" {
			reasons = append(reasons, x.reason)
		}
	}
	r.setOutcome(screen, f.o, "clinician_first")
	r.ClinicianFirst = &ClinicianFirst{Stream: f.o.Stream, Reasons: reasons, Then: then}
	if len(reasons) > 0 {
		r.Title = f.o.Title + ": " + strings.Join(reasons, "; ")
	}
	if then.Title != "" {
		r.Advice = f.o.Advice + " Then, unless the clinician decides otherwise: " + then.Title + "."
	}
}

// adviseFor fits the advice to the person: a DNACPR decision changes the
// resuscitation advice only (never the tier).
func (r *Result) adviseFor(w *walker) {
	if b, _ := flagBit(FlagDNACPR); w.flags&b != 0 && strings.Contains(strings.ToLower(r.Advice), "chest compressions") {
		r.Advice = "A do-not-attempt-CPR (DNACPR) decision is in place: do not start chest compressions; tell the 999 call handler or staff about the DNACPR form and follow its plan."
		r.SafetyNet = "Keep them comfortable and stay with them; show the DNACPR form to the crew or clinician."
	}
}

func (w *walker) flagList() []string {
	var out []string
	for i, n := range flagNames {
		if w.flags&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// formQuestions returns the pending question with the rest of its form: the
// questions of the same group the walk reaches when each is answered "no"
// (a sign not seen). A form is asked in one step; an abnormal answer ends
// it or opens its follow-up on the next step.
func formQuestions(set *Set, pr *Protocol, s *Session, first *Question, qs []Question) []Question {
	if first.Group == "" || first.Type != YesNo {
		return qs
	}
	tmp := *s
	tmp.Answers = append(make([]Reply, 0, len(s.Answers)+16), s.Answers...)
	for q := first; len(qs) < 64; {
		tmp.Answers = append(tmp.Answers, Reply{Question: q.ID, Value: No})
		w := newWalker(set, pr, &tmp, false)
		_, next, _, err := w.walk()
		if err != nil || next == nil || next.Group != first.Group {
			break
		}
		qs = append(qs, *next)
		if next.Type != YesNo {
			break
		}
		q = &qs[len(qs)-1]
	}
	return qs
}

// interim is what a session still asking questions already demands: the
// most intensive of the raising global checks (observations scored at once)
// and the floors passed so far; nil when nothing raises yet.
func interim(set *Set, pr *Protocol, s *Session) *Interim {
	w := newWalker(set, pr, s, true)
	if _, _, _, err := w.walk(); err != nil {
		return nil
	}
	checks, news, _ := globalChecks(&w)
	var in *Interim
	for _, f := range w.floors {
		if in == nil || f.o.Intensity() > Intensity(in.Tier, in.Timeframe) {
			by := "floor"
			if f.o.Stream != "" {
				by = "clinician_first"
			}
			reason := f.reason
			if reason == "" {
				reason = f.o.Title
			}
			in = &Interim{Tier: f.o.Tier, Timeframe: f.o.Timeframe, Dx: f.o.Dx, DecidedBy: by, Stream: f.o.Stream, Reason: reason, CareNeeds: f.o.CareNeeds}
		}
	}
	if c := topCheck(checks); c != nil && (in == nil || Intensity(c.Tier, c.Timeframe) > Intensity(in.Tier, in.Timeframe)) {
		in = &Interim{Tier: c.Tier, Timeframe: c.Timeframe, Dx: c.Dx, DecidedBy: c.Check, Reason: c.Reason, CareNeeds: c.CareNeeds}
	}
	if in != nil {
		in.Checks, in.NEWS2 = checks, news
	}
	return in
}

func newWalker(set *Set, pr *Protocol, s *Session, record bool) walker {
	w := walker{set: set, pr: pr, s: s, a: s.Patient.age(), pregnant: s.Patient.Pregnant, record: record, rules: s.Rules}
	if w.pregnant == "" {
		w.pregnant = "unknown"
	}
	w.flags = pr.implied
	for _, f := range s.Patient.Flags {
		if f == FlagPregnant {
			w.pregnant = Yes
			continue
		}
		b, _ := flagBit(f)
		w.flags |= b
	}
	return w
}

// walk runs the screen and then, on continue, the presentation.
func (w *walker) walk() (out *Outcome, pending *Question, decided string, err error) {
	out, pending, cont, err := w.run(w.set.Screen, true)
	if err != nil || !cont {
		return out, pending, "screen", err
	}
	out, pending, _, err = w.run(w.pr, false)
	return out, pending, "tree", err
}

// demandsImmediate is the cheap form of the global checks used while questions
// remain: does any check already demand ed immediate? (NEWS2 >= 7 or the sepsis
// observations; NG143's immediate case, V/P/U, is also a sepsis one.)
func demandsImmediate(w *walker) bool {
	o := &w.s.Patient.Observations
	if !(w.a.known && w.a.years < 16) && w.pregnant != Yes && news2Score(o) >= 7 {
		return true
	}
	n, severe := sepsisCount(w.a, *o)
	if n >= 2 || (n == 1 && severe) {
		return true
	}
	// NG133: severe hypertension from 20 weeks or after a birth needs
	// maternity assessment now, not more questions first.
	return w.rules >= 1 && maternityCheck(w).Timeframe == Immediate
}

func (r *Result) setOutcome(protocol string, o *Outcome, decidedBy string) {
	r.Outcome, r.Protocol, r.DecidedBy = o.ID, protocol, decidedBy
	r.Tier, r.Dx, r.Timeframe = o.Tier, o.Dx, o.Timeframe
	r.CareNeeds = o.CareNeeds
	if r.CareNeeds == nil {
		r.CareNeeds = []string{}
	}
	r.Title, r.Advice, r.SafetyNet, r.Guidance = o.Title, o.Advice, o.SafetyNet, o.Guidance
}
