package complaint_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/frontdoor-ucc/frontdoor/triage/complaint"
)

func testIndex(t testing.TB) *complaint.Index {
	t.Helper()
	files := map[string][]byte{}
	paths, err := filepath.Glob("testdata/set/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	set, err := triage.NewSet(files)
	if err != nil {
		t.Fatal(err)
	}
	return complaint.New(set)
}

type queryCase struct {
	Q       string   `yaml:"q"`
	AgeYear *int     `yaml:"age_years"`
	Sex     string   `yaml:"sex"`
	First   string   `yaml:"first"`
	Top     string   `yaml:"top"`
	Absent  string   `yaml:"absent"`
	Below   []string `yaml:"below"`
}

func (c queryCase) query() complaint.Query {
	q := complaint.Query{Text: c.Q, Sex: c.Sex}
	if c.AgeYear != nil {
		d := *c.AgeYear * 365
		q.AgeDays = &d
	}
	return q
}

func ids(hits []complaint.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// TestSearchBehaviour: stems, misspellings, negation, decisive words,
// words that belong to no complaint, and age and sex (testdata/queries.yaml).
func TestSearchBehaviour(t *testing.T) {
	ix := testIndex(t)
	raw, err := os.ReadFile("testdata/queries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Queries []queryCase }
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Queries) < 20 {
		t.Fatalf("only %d queries read", len(doc.Queries))
	}
	for _, c := range doc.Queries {
		got := ids(ix.Search(c.query()))
		if c.First != "" && (len(got) == 0 || got[0] != c.First) {
			t.Errorf("%q: got %v, want %s first", c.Q, got, c.First)
		}
		if c.Top != "" && !slices.Contains(got[:min(3, len(got))], c.Top) {
			t.Errorf("%q: got %v, want %s in the first three", c.Q, got, c.Top)
		}
		if c.Absent != "" && slices.Contains(got, c.Absent) {
			t.Errorf("%q: got %v, want no %s", c.Q, got, c.Absent)
		}
		if len(c.Below) == 2 {
			lo, hi := slices.Index(got, c.Below[0]), slices.Index(got, c.Below[1])
			if hi < 0 || (lo >= 0 && lo < hi) {
				t.Errorf("%q: got %v, want %s below %s", c.Q, got, c.Below[0], c.Below[1])
			}
		}
	}
}

// TestSearchExplains: a hit says which words matched and how, what was
// not counted, and why it is ranked lower.
func TestSearchExplains(t *testing.T) {
	ix := testIndex(t)
	four := 4 * 365
	hits := ix.Search(complaint.Query{Text: "diarea, no rash, pregnant and bleeding", AgeDays: &four, Sex: "male"})
	byID := map[string]complaint.Hit{}
	for _, h := range hits {
		byID[h.ID] = h
	}
	dv, ok := byID["diarrhoea-vomiting"]
	if !ok || len(dv.Words) != 1 || dv.Words[0].Said != "diarea" || dv.Words[0].How != "spelling" || dv.Words[0].As == "" {
		t.Errorf("diarrhoea hit = %+v, want diarea read as a spelling of a synonym", dv)
	}
	if _, ok := byID["rash"]; ok {
		t.Errorf("rash matched although said to be absent: %+v", byID["rash"])
	}
	pb, ok := byID["pregnancy-bleeding"]
	if !ok || pb.Demoted == "" || pb.Matched != "pregnant and bleeding" || pb.Why == "" {
		t.Errorf("pregnancy hit = %+v, want it demoted for a boy of 4 with the phrase matched", pb)
	}
}

// TestSearchNoMatch: nothing matching is an empty list, never nil.
func TestSearchNoMatch(t *testing.T) {
	ix := testIndex(t)
	for _, q := range []string{"", "   ", "xyzzy plugh", "the and of my", "no no no"} {
		hits := ix.Search(complaint.Query{Text: q})
		if hits == nil || len(hits) != 0 {
			t.Errorf("Search(%q) = %#v, want []", q, hits)
		}
	}
}

// TestSearchDeterministic: the same query gives the same ranking.
func TestSearchDeterministic(t *testing.T) {
	ix := testIndex(t)
	a := ids(ix.Search(complaint.Query{Text: "pain"}))
	for range 20 {
		if b := ids(ix.Search(complaint.Query{Text: "pain"})); !slices.Equal(a, b) {
			t.Fatalf("ranking changed: %v then %v", a, b)
		}
	}
}
