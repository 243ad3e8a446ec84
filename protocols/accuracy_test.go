package protocols

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

var tiers = []triage.Tier{triage.SelfCare, triage.Pharmacy, triage.GP, triage.RapidResponse, triage.ED}

// TestAccuracy runs every vignette of testdata/accuracy/*.yaml in each mode
// (realistic: a symptom not mentioned is "no"; unsure: every question the
// facts do not cover is "not sure", observed signs as the facts describe)
// against the clinically correct
// tier written before the engine ran, and prints the report (run with -v).
// It fails, in realistic and unsure mode, on an emergency below ED-level (a
// clinician-now floor counts as ED-level), a GP-or-above case at self care or
// pharmacy, an emergency given a less urgent timeframe than it needs
// (realistic; a sooner one is reported as over-referral), a case
// that did not need the ED sent there by uncertain answers (unsure), realistic
// accuracy under 90% or unsure under 80%, and fewer than 60 cases or 8 a tier.
func TestAccuracy(t *testing.T) {
	set := loadCleanSet(t)
	paths := caseFiles(t, "accuracy")
	bar := map[Mode]float64{Realistic: 90, Unsure: 80}
	var report strings.Builder
	realistic := map[string]*triage.Result{}
	for _, m := range Modes {
		vs, err := RunAccuracy(set, paths, m)
		if err != nil {
			t.Fatal(err)
		}
		for i := range vs {
			if m == Realistic {
				realistic[vs[i].Where] = vs[i].Result
			} else {
				vs[i].Realistic = realistic[vs[i].Where]
			}
		}
		report.WriteString(Report(vs))
		for i := range vs {
			v := &vs[i]
			if !v.OK() && v.Err == nil {
				dir := "over "
				if v.Under() {
					dir = "under"
				}
				fmt.Fprintf(&report, "    %s %s: %s -> %s (%s, decided by %s)\n", dir, v.Where, v.Correct, v.Effective, v.Result.Outcome, v.Result.DecidedBy)
			}
			for _, f := range v.Failures() {
				t.Errorf("%s mode: %s: %s", m, v.Where, f)
			}
			if m == Realistic && v.Err == nil && v.Correct == triage.ED && v.Result.Tier == triage.ED {
				c := v.Case.Correct
				switch {
				case c.Timeframe == "" || c.Dx == "":
					t.Errorf("emergency %s: correct: must give dx and timeframe", v.Where)
				case v.Result.Timeframe.Urgency() < triage.Timeframe(c.Timeframe).Urgency():
					t.Errorf("realistic mode: emergency %s less urgent than needed: %s %s, correct %s %s (%s)", v.Where, v.Result.Dx, v.Result.Timeframe, c.Dx, c.Timeframe, v.Result.Outcome)
				case string(v.Result.Timeframe) != c.Timeframe:
					fmt.Fprintf(&report, "    sooner %s: %s %s, correct %s %s (%s)\n", v.Where, v.Result.Dx, v.Result.Timeframe, c.Dx, c.Timeframe, v.Result.Outcome)
				}
			}
		}
		if b, ok := bar[m]; ok && Accuracy(vs) < b {
			t.Errorf("%s mode: accuracy %.1f%% is under the %.0f%% bar", m, Accuracy(vs), b)
		}
		if m == Realistic {
			per := map[triage.Tier]int{}
			for _, v := range vs {
				per[v.Correct]++
			}
			if len(vs) < 60 {
				t.Errorf("only %d accuracy cases; at least 60 wanted", len(vs))
			}
			for _, tr := range tiers {
				if per[tr] < 8 {
					t.Errorf("tier %s has %d accuracy cases; at least 8 wanted", tr, per[tr])
				}
			}
		}
	}
	t.Log("\n" + report.String())
}

// TestAccuracyCoversEveryPresentation: every presentation of the set has
// at least four vignettes, so a new presentation is measured as people
// answer before it is used.
func TestAccuracyCoversEveryPresentation(t *testing.T) {
	set := loadCleanSet(t)
	vs, err := RunAccuracy(set, caseFiles(t, "accuracy"), Realistic)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, v := range vs {
		n[v.Case.Protocol]++
	}
	for _, p := range set.Presentations {
		if n[p.ID] < 4 {
			t.Errorf("%s: %d accuracy vignettes, want at least 4", p.ID, n[p.ID])
		}
	}
}
