package coding

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// TestListsParse: every vendored file parses, names its list version, and
// every SNOMED CT id passes the Verhoeff check (a mistyped digit fails).
func TestListsParse(t *testing.T) {
	l, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ecds-chief-complaint.csv", "ecds-acuity.csv", "ecds-discharge-destination.csv", "ecds-discharge-follow-up.csv", "ecds-refset-members.csv", "local-codes.csv", "nhs-pathways-dx.csv", "outcome-map.csv"} {
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

// embeddedFS copies the embedded code lists into a map file system a test
// can change.
func embeddedFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(files, "codes", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRefsetMembers: the members file names the refsets it cites and holds
// every member the source lists (216 chief complaints, the 5 acuity levels,
// 17 discharge destinations).
func TestRefsetMembers(t *testing.T) {
	l := MustDefault()
	if v := l.Versions["ecds-refset-members.csv"]; v != "ecds-refsets-2023-02" {
		t.Errorf("members list_version %q", v)
	}
	rows, err := readCSV(files, "ecds-refset-members.csv", &Lists{Versions: map[string]string{}}, "refset", "list", "code")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range rows {
		n[r[1]]++
	}
	for list, want := range map[string]int{ListChiefComplaint: 216, ListAcuity: 5, ListDestination: 17} {
		if n[list] != want {
			t.Errorf("%s: %d members, want %d", list, n[list], want)
		}
	}
	if len(n) != 3 {
		t.Errorf("lists in the members file: %v", n)
	}
}

// TestParseRefusesNonMembers plants each fault checkMembers exists for in a
// copy of the embedded files: a code of a checked list that is not a member
// of its ECDS refset fails with the file, the code and the list; a LOCAL
// fallback and the unchecked follow-up list do not.
func TestParseRefusesNonMembers(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string // "" = parses
	}{
		{"chief complaint not a member (Pain in throat)", "ecds-chief-complaint.csv",
			"267102003,Sore throat (finding)\n", "162397003,Pain in throat (finding)\n",
			[]string{"ecds-chief-complaint.csv", "162397003", "chief_complaint", "991401000000107"}},
		{"chief complaint added that is not a member (Allergic reaction)", "ecds-chief-complaint.csv",
			"29857009,Chest pain (finding)\n", "29857009,Chest pain (finding)\n419076005,Allergic reaction (disorder)\n",
			[]string{"ecds-chief-complaint.csv", "419076005", "chief_complaint"}},
		{"acuity not a member", "ecds-acuity.csv",
			"1077251000000100,Low acuity level emergency care acuity\n", "1077251000000100,Low acuity level emergency care acuity\n29857009,Chest pain (finding)\n",
			[]string{"ecds-acuity.csv", "29857009", "acuity", "999003061000000107"}},
		{"discharge destination not a member", "ecds-discharge-destination.csv",
			"306689006,Discharge to home (procedure)\n", "306689006,Discharge to home (procedure)\n3780001,Routine patient disposition no follow-up planned (procedure)\n",
			[]string{"ecds-discharge-destination.csv", "3780001", "discharge_destination", "999003011000000105"}},
		{"a member dropped from the members file", "ecds-refset-members.csv",
			"991401000000107,chief_complaint,29857009\n", "",
			[]string{"ecds-chief-complaint.csv", "29857009", "chief_complaint"}},
		{"a member filed under the wrong refset", "ecds-refset-members.csv",
			"991401000000107,chief_complaint,29857009\n", "999003061000000107,chief_complaint,29857009\n",
			[]string{"ecds-refset-members.csv", "29857009", "999003061000000107"}},
		{"a list without a refset", "ecds-refset-members.csv",
			"991401000000107,chief_complaint,29857009\n", "991401000000107,chief_complaint,29857009\n991401000000107,discharge_follow_up,3780001\n",
			[]string{"ecds-refset-members.csv", "discharge_follow_up"}},
		{"a mistyped member id", "ecds-refset-members.csv",
			"991401000000107,chief_complaint,29857009\n", "991401000000107,chief_complaint,29857009\n991401000000107,chief_complaint,29857008\n",
			[]string{"ecds-refset-members.csv", "29857008", "not a SNOMED CT concept id"}},
		{"a LOCAL chief complaint is exempt", "local-codes.csv",
			"LOCAL:cc-unwell,", "LOCAL:cc-test-only,chief_complaint,a test fallback\nLOCAL:cc-unwell,", nil},
		{"the follow-up list is not checked", "ecds-discharge-follow-up.csv",
			"3780001,Routine patient disposition no follow-up planned (procedure)\n", "3780001,Routine patient disposition no follow-up planned (procedure)\n29857009,Chest pain (finding)\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := embeddedFS(t)
			f := fsys["codes/"+tc.file]
			if !strings.Contains(string(f.Data), tc.old) {
				t.Fatalf("%s has no %q", tc.file, tc.old)
			}
			f.Data = []byte(strings.Replace(string(f.Data), tc.old, tc.new, 1))
			_, err := parse(fsys)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("parsed")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := parse(embeddedFS(t)); err != nil {
		t.Fatalf("the unchanged copy: %v", err)
	}
}
