package protocols

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The care-needs vocabulary lives in routing (routing.CareNeeds). triage
// may not import routing, so its lint keeps a copy; these tests, in a
// package that sees both, hold the protocols and that copy to routing's
// list, and check that the demo directory can meet every outcome.

// outcomeNeeds is what these tests read of a protocol file: each outcome's
// tier and care needs (read directly, so a file that does not lint yet is
// still checked).
type outcomeNeeds struct {
	ID       string `yaml:"id"`
	Outcomes []struct {
		ID        string   `yaml:"id"`
		Tier      string   `yaml:"tier"`
		CareNeeds []string `yaml:"care_needs"`
	} `yaml:"outcomes"`
}

func protocolOutcomes(t *testing.T) map[string]outcomeNeeds {
	t.Helper()
	out := map[string]outcomeNeeds{}
	for name, b := range Files() {
		var p outcomeNeeds
		if err := yaml.Unmarshal(b, &p); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out[name] = p
	}
	if len(out) == 0 {
		t.Fatal("no protocol files")
	}
	return out
}

func sortedNames(m map[string]outcomeNeeds) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestOutcomeCareNeedsAreInTheVocabulary: every care need an outcome names
// is one routing knows (a word outside it matches no service, and the
// patient would fall back to the ED).
func TestOutcomeCareNeedsAreInTheVocabulary(t *testing.T) {
	all := protocolOutcomes(t)
	for _, name := range sortedNames(all) {
		for _, o := range all[name].Outcomes {
			for _, c := range o.CareNeeds {
				if !routing.KnownCareNeed(c) {
					t.Errorf("%s: outcome %s names care need %q, which is not in routing.CareNeeds", name, o.ID, c)
				}
			}
		}
	}
}

// TestEveryOutcomeNamesACareNeed: the first protocol rule of care needs: an outcome
// without a care need matches any service of its tier.
func TestEveryOutcomeNamesACareNeed(t *testing.T) {
	all := protocolOutcomes(t)
	for _, name := range sortedNames(all) {
		for _, o := range all[name].Outcomes {
			if len(o.CareNeeds) == 0 {
				t.Errorf("%s: outcome %s (%s) names no care need", name, o.ID, o.Tier)
			}
		}
	}
}

// TestDemoDirectoryMeetsEveryOutcome: for every outcome some service of
// its tier or above in the demo directory provides all its care needs
// (opening times, capacity and eligibility aside), so no outcome falls
// back to the ED for want of a service that exists.
func TestDemoDirectoryMeetsEveryOutcome(t *testing.T) {
	d, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	all := protocolOutcomes(t)
	for _, name := range sortedNames(all) {
		for _, o := range all[name].Outcomes {
			if len(o.CareNeeds) == 0 {
				continue // TestEveryOutcomeNamesACareNeed says so
			}
			min := routing.Tier(o.Tier).Rank()
			met := false
			for _, s := range d.Services {
				if s.Tier.Rank() < min {
					continue
				}
				have := map[string]bool{}
				for _, p := range s.Provides {
					have[p.Need] = true
				}
				all := true
				for _, c := range o.CareNeeds {
					all = all && have[c]
				}
				if all {
					met = true
					break
				}
			}
			if !met {
				t.Errorf("%s: outcome %s (%s %v): no service of its tier or above provides all of them", name, o.ID, o.Tier, o.CareNeeds)
			}
		}
	}
}

// TestTriageLintKnowsRoutingsVocabulary: triage's lint accepts every care
// need in routing's vocabulary and refuses a word outside it.
func TestTriageLintKnowsRoutingsVocabulary(t *testing.T) {
	codes := append(routing.CareNeedCodes(), "not_a_care_need")
	probe := fmt.Sprintf(`id: vocabulary-probe
version: 1
kind: presentation
title: Vocabulary probe
synonyms: [probe]
applies_to:
  min_age_years: 0
  max_age_years: 120
start: q
nodes:
  - id: q
    question: "Is this a probe?"
    type: yes_no
    branches:
      yes: every_need
      no: every_need
      not_sure: every_need
outcomes:
  - id: every_need
    tier: gp
    dx: Dx06
    timeframe: 6h
    title: "Every care need"
    advice: "None."
    safety_net: "None."
    care_needs: [%s]
`, `"`+strings.Join(codes, `", "`)+`"`)
	var unknown []string
	for _, e := range triage.Lint(map[string][]byte{"vocabulary-probe.yaml": []byte(probe)}) {
		if strings.Contains(e.Message, "unknown care need") {
			unknown = append(unknown, e.Message)
		}
	}
	if len(unknown) != 1 || !strings.Contains(unknown[0], `"not_a_care_need"`) {
		t.Errorf("triage lint's unknown care needs: %q; want only not_a_care_need (triage/lint.go careNeedVocab must equal routing.CareNeeds)", unknown)
	}
}
