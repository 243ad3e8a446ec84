package coding

import (
	"strings"
	"testing"
)

// TestListsParse: every vendored file parses, names its list version, and
// every SNOMED CT id passes the Verhoeff check (a mistyped digit fails).
func TestListsParse(t *testing.T) {
	l, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ecds-chief-complaint.csv", "ecds-acuity.csv", "ecds-discharge-destination.csv", "ecds-discharge-follow-up.csv", "local-codes.csv", "nhs-pathways-dx.csv", "outcome-map.csv"} {
		if l.Versions[f] == "" {
			t.Errorf("%s: no list version", f)
		}
	}
	for list, m := range l.lists {
		for code, c := range m {
			if !c.Local && !snomedID(code) {
				t.Errorf("%s %s: not a SNOMED CT id", list, code)
			}
			if c.Local != IsLocal(code) {
				t.Errorf("%s %s: local flag %v", list, code, c.Local)
			}
		}
	}
}

func TestSNOMEDCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"29857009", true}, {"1064891000000107", true}, {"306689006", true}, {"3780001", true},
		{"29857008", false}, {"1064891000000108", false}, {"012345", false}, {"12a456", false}, {"123", false},
	} {
		if got := snomedID(tc.id); got != tc.want {
			t.Errorf("snomedID(%s) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// TestOutcomeMap covers every tier and timeframe frontdoor's outcomes use.
func TestOutcomeMap(t *testing.T) {
	l := MustDefault()
	for _, tc := range []struct {
		tier, tf string
		needs    []string
		want     Mapping
	}{
		{"ed", "immediate", []string{"emergency"}, Mapping{"1064891000000107", "19712007", "LOCAL:fu-transferred"}},
		{"ed", "1h", []string{"emergency", "dental"}, Mapping{"1064901000000108", "19712007", "LOCAL:fu-transferred"}},
		{"ed", "4h", nil, Mapping{"1077241000000103", "19712007", "LOCAL:fu-transferred"}},
		{"gp", "immediate", nil, Mapping{"1064911000000105", "306689006", "LOCAL:fu-gp"}},
		{"gp", "6h", []string{"dental"}, Mapping{"1077251000000100", "306689006", "LOCAL:fu-dental"}},
		{"gp", "24h", []string{"gp_assessment"}, Mapping{"1077251000000100", "306689006", "LOCAL:fu-gp"}},
		{"pharmacy", "2h", []string{"repeat_medicine"}, Mapping{"1077241000000103", "306689006", "LOCAL:fu-pharmacy"}},
		{"self_care", "none", []string{"self_care"}, Mapping{"1077251000000100", "306689006", "3780001"}},
		{"rapid_response", "2h", []string{"ucr:falls"}, Mapping{"1077241000000103", "306689006", "LOCAL:fu-community"}},
	} {
		got, ok := l.Outcome(tc.tier, tc.tf, tc.needs)
		if !ok || got != tc.want {
			t.Errorf("Outcome(%s,%s,%v) = %+v %v, want %+v", tc.tier, tc.tf, tc.needs, got, ok, tc.want)
		}
	}
	if _, ok := l.Outcome("nowhere", "1h", nil); ok {
		t.Error("an unknown tier mapped")
	}
}

func TestDxMeaning(t *testing.T) {
	l := MustDefault()
	for code, family := range map[string]string{"Dx28": "pharmacy", "Dx17": "dental", "Dx80": "prescription", "Dx9003": "dental", "Dx9006": "prescription", "Dx06": "primary_care"} {
		d, ok := l.Dx(code)
		if !ok || d.Family != family {
			t.Errorf("Dx(%s) = %+v %v, want family %s", code, d, ok, family)
		}
		if d.Local != strings.HasPrefix(code, "Dx9") {
			t.Errorf("%s local = %v", code, d.Local)
		}
	}
}
