package protocols

import (
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestCodingLint: every presentation names its ECDS chief complaint from the
// vendored list, every outcome maps to an ECDS acuity, discharge destination
// and follow-up, and every Dx is in the vendored NHS Pathways list with the
// meaning its outcome needs. Local fallbacks are reported, not failed.
func TestCodingLint(t *testing.T) {
	files := Files()
	errs, notes := triage.LintCoding(files)
	for _, e := range errs {
		t.Error(e.Error())
	}
	local := map[string]int{}
	for _, n := range notes {
		if n.Rule != triage.RuleLocalCode {
			t.Errorf("note with rule %s: %s", n.Rule, n.Error())
		}
		local[n.File]++
	}
	t.Logf("%d local fallbacks in %d files (see triage/coding/codes/local-codes.csv)", len(notes), len(local))
}

// TestCodingLintCatches plants each fault the coding rules exist for in a
// copy of the embedded set and requires the rule at the outcome or
// protocol: a regression to the old dental or repeat-medicine Dx fails.
func TestCodingLintCatches(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, rule, want string
	}{
		{"dental back to a primary-care Dx", "dental-pain.yaml", "dx: Dx9003", "dx: Dx06", triage.RuleDxMeaning, "dental_gp_6h needs a dentist"},
		{"repeat supply back to the pharmacist code", "medication-repeat-prescription.yaml", "    dx: Dx80\n", "    dx: Dx06\n", triage.RuleDxMeaning, "med_controlled_gp_6h supplies a regular medicine"},
		{"pharmacy supply as Dx28", "diabetes-blood-sugar.yaml", "    dx: Dx9006\n", "    dx: Dx28\n", triage.RuleDxMeaning, "pharmacy_insulin supplies a regular medicine"},
		{"a dental code on a GP outcome", "earache.yaml", "    dx: Dx08\n", "    dx: Dx9004\n", triage.RuleDxMeaning, "does not match its care needs"},
		{"Dx not in the list", "headache.yaml", "    dx: Dx08\n", "    dx: Dx99\n", triage.RuleDxMeaning, "not in the vendored Dx list"},
		{"Dx of another tier", "headache.yaml", "    dx: Dx08\n", "    dx: Dx9006\n", triage.RuleDxMeaning, "is tier pharmacy"},
		{"no chief complaint", "chest-pain.yaml", `chief_complaint: ["29857009"]`, "", triage.RuleECDSCode, "names no ECDS chief complaint"},
		{"a mistyped SNOMED id", "chest-pain.yaml", `["29857009"]`, `["29857008"]`, triage.RuleECDSCode, "not in the vendored ECDS list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range Files() {
				files[k] = v
			}
			src := string(files[tc.file])
			if !strings.Contains(src, tc.old) {
				t.Fatalf("%s has no %q", tc.file, tc.old)
			}
			files[tc.file] = []byte(strings.Replace(src, tc.old, tc.new, 1))
			errs, _ := triage.LintCoding(files)
			found := false
			for _, e := range errs {
				if e.File == tc.file && e.Rule == tc.rule && strings.Contains(e.Message, tc.want) && e.Hint != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s error %q in %s; got %v", tc.rule, tc.want, tc.file, errs)
			}
		})
	}
}
