package protocols

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Mode is how the accuracy harness answers what a vignette's facts do not
// cover: the way a person at the front door would.
type Mode string

// Modes of the accuracy harness.
const (
	// Realistic: a symptom not mentioned is "no" (yes/no questions); a
	// choice or number the facts do not give is "not sure".
	Realistic Mode = "realistic"
	// Unsure: every question the facts do not cover, screen included, is
	// "not sure"; a sign that is seen or checked (observed: the desk form,
	// what the call handler hears, a check the caller is told how to do) is
	// observed as the facts describe, normal when they do not mention it.
	Unsure Mode = "unsure"
)

// Modes lists the modes in report order.
var Modes = []Mode{Realistic, Unsure}

// Default is the mode's answer to a question the facts do not cover.
func (m Mode) Default(q triage.Question) string {
	switch m {
	case Realistic:
		if q.Type == triage.YesNo {
			return triage.No
		}
	case Unsure:
		if q.Observed && q.Type == triage.YesNo {
			return triage.No
		}
	}
	return triage.NotSure
}

// Effective is the level of care a result means for judging accuracy: a
// clinician-now floor (a walk-in seen by the centre's clinician at once)
// counts as ED-level, as the accuracy measure defines it; otherwise the tier.
func Effective(r *triage.Result) triage.Tier {
	if r.ClinicianFirst != nil && r.ClinicianFirst.Stream == triage.StreamClinicianNow {
		return triage.ED
	}
	return r.Tier
}

// Acceptable reports whether tier t is acceptable for the case: its correct
// tier or one of the tiers its author also accepted beforehand.
func (c *Case) Acceptable(t triage.Tier) bool {
	if c.Correct != nil && triage.Tier(c.Correct.Tier) == t {
		return true
	}
	for _, a := range c.AlsoAcceptable {
		if triage.Tier(a) == t {
			return true
		}
	}
	return false
}

// Verdict is one vignette run in one mode.
type Verdict struct {
	Where     string
	Case      Case
	Mode      Mode
	Result    *triage.Result
	Effective triage.Tier
	Correct   triage.Tier
	Err       error
	// Realistic is the same case's realistic-mode result (set on unsure
	// verdicts by the caller): what the facts give without uncertainty.
	Realistic *triage.Result
}

// OK is true when the effective tier is acceptable.
func (v *Verdict) OK() bool { return v.Err == nil && v.Case.Acceptable(v.Effective) }

// Over is true when the effective tier is above the correct one and not acceptable.
func (v *Verdict) Over() bool {
	return v.Err == nil && !v.OK() && v.Effective.Rank() > v.Correct.Rank()
}

// Under is true when the effective tier is below the correct one and not acceptable.
func (v *Verdict) Under() bool {
	return v.Err == nil && !v.OK() && v.Effective.Rank() < v.Correct.Rank()
}

// Failures are the safety rules a verdict breaks, in any mode: an emergency
// below ED-level, a GP-or-above case at self care or pharmacy; in unsure
// mode also a case that did not need the ED sent there by uncertain answers
// alone (its realistic-mode result on the same facts is not the ED).
func (v *Verdict) Failures() []string {
	if v.Err != nil {
		return []string{v.Err.Error()}
	}
	var out []string
	r := v.Result
	if v.Correct == triage.ED && v.Effective != triage.ED {
		out = append(out, fmt.Sprintf("UNDER-TRIAGE of an emergency: engine %s (%s, decided by %s)", r.Tier, r.Outcome, r.DecidedBy))
	}
	if v.Correct.Rank() >= triage.GP.Rank() && v.Effective.Rank() <= triage.Pharmacy.Rank() && !v.Case.Acceptable(v.Effective) {
		out = append(out, fmt.Sprintf("UNDER-TRIAGE to %s of a %s case (%s)", v.Effective, v.Correct, r.Outcome))
	}
	if v.Mode == Unsure && v.Correct != triage.ED && r.Tier == triage.ED && !v.Case.Acceptable(triage.ED) &&
		v.Realistic != nil && v.Realistic.Tier != triage.ED {
		out = append(out, fmt.Sprintf("ED from uncertain answers alone: a %s case sent to %s (%s, decided by %s) where the same facts without uncertainty give %s",
			v.Correct, r.Tier, r.Outcome, r.DecidedBy, v.Realistic.Tier))
	}
	return out
}

// RunAccuracy runs every case of the accuracy files in one mode.
func RunAccuracy(set *triage.Set, paths []string, m Mode) ([]Verdict, error) {
	var out []Verdict
	for _, path := range paths {
		f, err := ReadCaseFile(path)
		if err != nil {
			return nil, err
		}
		for _, c := range f.Cases {
			v := Verdict{Where: fmt.Sprintf("%s:%d %q", filepath.Base(path), c.Line, c.Name), Case: c, Mode: m}
			if c.Correct == nil || !triage.Tier(c.Correct.Tier).Valid() {
				v.Err = fmt.Errorf("needs correct: {tier: ...}")
				out = append(out, v)
				continue
			}
			v.Correct = triage.Tier(c.Correct.Tier)
			pid, err := ProtocolFor(set, f, c)
			if err == nil {
				_, v.Result, err = RunCaseMode(set, pid, c, m)
			}
			v.Err = err
			if err == nil {
				v.Effective = Effective(v.Result)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// defaultFor is the mode's answer for a case: in realistic mode the
// follow-up of a question the person answered "not sure" (<id>_followup) is
// "not sure" too — the facts did not settle it; otherwise Mode.Default.
func (m Mode) defaultFor(c Case) func(triage.Question) string {
	return func(q triage.Question) string {
		if m == Realistic && q.FollowUp && strings.HasSuffix(q.ID, "_followup") {
			if v, ok := c.Answers[strings.TrimSuffix(q.ID, "_followup")]; ok && v == triage.NotSure {
				return triage.NotSure
			}
		}
		return m.Default(q)
	}
}

// RunCaseMode runs a case with its answers, then the mode's defaults.
func RunCaseMode(set *triage.Set, protocolID string, c Case, m Mode) (triage.Session, *triage.Result, error) {
	return runCase(set, protocolID, c, m.defaultFor(c))
}

// Report tabulates verdicts per correct tier.
func Report(vs []Verdict) string {
	type tally struct{ n, ok, over, under int }
	tiers := []triage.Tier{triage.SelfCare, triage.Pharmacy, triage.GP, triage.RapidResponse, triage.ED}
	per := map[triage.Tier]*tally{}
	for _, t := range tiers {
		per[t] = &tally{}
	}
	var all tally
	for i := range vs {
		v := &vs[i]
		tl := per[v.Correct]
		if tl == nil {
			continue
		}
		tl.n++
		all.n++
		switch {
		case v.OK():
			tl.ok++
			all.ok++
		case v.Over():
			tl.over++
			all.over++
		case v.Under():
			tl.under++
			all.under++
		}
	}
	var b strings.Builder
	mode := Mode("")
	if len(vs) > 0 {
		mode = vs[0].Mode
	}
	fmt.Fprintf(&b, "%s mode: %d cases, acceptable tier %d (%.1f%%), over %d, under %d\n", mode, all.n, all.ok, Pct(all.ok, all.n), all.over, all.under)
	fmt.Fprintf(&b, "  %-15s %5s %10s %9s %6s %6s\n", "correct tier", "cases", "acceptable", "accuracy", "over", "under")
	for _, t := range tiers {
		tl := per[t]
		fmt.Fprintf(&b, "  %-15s %5d %10d %8.1f%% %6d %6d\n", t, tl.n, tl.ok, Pct(tl.ok, tl.n), tl.over, tl.under)
	}
	return b.String()
}

// Accuracy is the share of verdicts at an acceptable tier, in percent.
func Accuracy(vs []Verdict) float64 {
	ok := 0
	for i := range vs {
		if vs[i].OK() {
			ok++
		}
	}
	return Pct(ok, len(vs))
}

// Pct is 100*a/b (0 when b is 0).
func Pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
