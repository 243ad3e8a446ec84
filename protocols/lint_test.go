package protocols

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestLintFixtures runs lint on every broken set in testdata/lint/<rule>/ and
// requires the planted fault's rule at its file:line; every rule has a fixture.
func TestLintFixtures(t *testing.T) {
	rules := []string{triage.RuleParse, triage.RuleField, triage.RuleDuplicateID, triage.RuleDanglingRef,
		triage.RuleUnreachable, triage.RuleCycle, triage.RuleAnswerType, triage.RuleMissingOutcome,
		triage.RuleMissingSafetyNet, triage.RuleAgeBandGap, triage.RuleNotSureUnsafe, triage.RuleRangeGap,
		triage.RuleCareNeeds, triage.RuleChoiceNone, triage.RulePolarity}
	for _, rule := range rules {
		t.Run(rule, func(t *testing.T) {
			dir := filepath.Join("testdata", "lint", rule)
			want, err := os.ReadFile(filepath.Join(dir, "want"))
			if err != nil {
				t.Fatalf("no fixture for rule %s: %v", rule, err)
			}
			fields := strings.Fields(string(want))
			if len(fields) != 2 || fields[1] != rule {
				t.Fatalf("%s/want = %q, want \"file:line %s\"", dir, want, rule)
			}
			file, lineStr, _ := strings.Cut(fields[0], ":")
			line, _ := strconv.Atoi(lineStr)
			files, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			errs := triage.Lint(files)
			found := false
			for _, e := range errs {
				if e.File == file && e.Line == line && e.Rule == rule {
					found = true
					if e.Hint == "" || e.Message == "" {
						t.Errorf("error without message or fix hint: %+v", e)
					}
				}
			}
			if !found {
				t.Errorf("lint of %s: no %s error at %s:%d; got:", dir, rule, file, line)
				for _, e := range errs {
					t.Errorf("  %s", e.Error())
				}
			}
			if _, _, err := LoadDir(dir); err == nil {
				t.Errorf("LoadDir(%s) accepted a broken set", dir)
			}
			// The screen beside it is clean: every error is in broken.yaml.
			for _, e := range errs {
				if e.File != file {
					t.Errorf("unexpected error outside %s: %s", file, e.Error())
				}
			}
		})
	}
}

// TestLintFixtureBaseIsClean proves the faults are the planted ones: the
// fixture with its fault undone (the range_gap one, with from: 7) lints clean.
func TestLintFixtureBaseIsClean(t *testing.T) {
	dir := filepath.Join("testdata", "lint", triage.RuleRangeGap)
	files, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(files["broken.yaml"]), "{from: 8, next: ed_now}", "{from: 7, next: ed_now}", 1)
	if fixed == string(files["broken.yaml"]) {
		t.Fatal("fixture text changed; update this test")
	}
	files["broken.yaml"] = []byte(fixed)
	if errs := triage.Lint(files); len(errs) != 0 {
		t.Errorf("base fixture not clean: %v", triage.LintErrors(errs))
	}
}
