package protocols

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/frontdoor-ucc/frontdoor/triage/complaint"
)

// complaintStatement is one complaint in a person's own words, labelled
// with its protocol before the search ran (testdata/complaints).
type complaintStatement struct {
	Text      string `yaml:"text"`
	AgeYears  *int   `yaml:"age_years"`
	AgeMonths *int   `yaml:"age_months"`
	AgeWeeks  *int   `yaml:"age_weeks"`
	Sex       string `yaml:"sex"`
	Protocol  string `yaml:"protocol"`
}

func (s complaintStatement) query() complaint.Query {
	q := complaint.Query{Text: s.Text, Sex: s.Sex}
	var d int
	switch {
	case s.AgeYears != nil:
		d = int(float64(*s.AgeYears) * 365.25)
	case s.AgeMonths != nil:
		d = int(float64(*s.AgeMonths) * 30.4375)
	case s.AgeWeeks != nil:
		d = *s.AgeWeeks * 7
	default:
		return q
	}
	q.AgeDays = &d
	return q
}

func readStatements(t testing.TB, part string) []complaintStatement {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "complaints", part+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Statements []complaintStatement }
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", part, err)
	}
	return doc.Statements
}

// TestComplaintSearch: statements written blind in people's own words
// (tune and tune2, two authors: used to choose synonyms and to find the
// search's weaknesses; holdout: never looked at while tuning, only its
// figures) find their protocol first and among the first three at least
// as often as the floors below. Every label is a protocol of the set.
func TestComplaintSearch(t *testing.T) {
	set := loadSet(t)
	ix := complaint.New(set)
	// The goal is 90% first and 98% in the first three on every part; it
	// is met. The floors are today's figures rounded down to 0.5, so the
	// test catches a regression; raise them as the search improves.
	floors := map[string]struct{ first, top3 float64 }{
		"tune":    {99.5, 100}, // 99.6% / 100%
		"tune2":   {99, 100},   // second blind author, inventive phrasing: 99.0% / 100% (79.5% / 92.0% before tuning on it)
		"holdout": {94.5, 100}, // never tuned on: 94.9% / 100% (91.2% / 97.8% before)
	}
	total := 0
	for _, part := range []string{"tune", "tune2", "holdout"} {
		sts := readStatements(t, part)
		total += len(sts)
		first, top3 := 0, 0
		var misses []string
		for _, s := range sts {
			if _, ok := set.Protocol(s.Protocol); !ok {
				t.Errorf("%s: %q labelled %q: no such protocol", part, s.Text, s.Protocol)
				continue
			}
			hits := ix.Search(s.query())
			ids := make([]string, 0, 3)
			for _, h := range hits[:min(3, len(hits))] {
				ids = append(ids, h.ID)
			}
			switch i := slices.Index(ids, s.Protocol); {
			case i == 0:
				first++
				top3++
			case i > 0:
				top3++
				misses = append(misses, fmt.Sprintf("%d: %q → %v", i+1, s.Text, ids))
			default:
				misses = append(misses, fmt.Sprintf("-: %q (%s) → %v", s.Text, s.Protocol, ids))
			}
		}
		n := float64(len(sts))
		pFirst, pTop3 := 100*float64(first)/n, 100*float64(top3)/n
		t.Logf("%s: %d statements, right protocol first %.1f%%, in the first three %.1f%%", part, len(sts), pFirst, pTop3)
		if testing.Verbose() && len(misses) > 0 && part != "holdout" {
			t.Logf("%s misses:\n  %s", part, strings.Join(misses, "\n  "))
		}
		if f := floors[part]; pFirst < f.first || pTop3 < f.top3 {
			t.Errorf("%s: first %.1f%% (want >= %.1f%%), first three %.1f%% (want >= %.1f%%)", part, pFirst, f.first, pTop3, f.top3)
		}
	}
	if total < 300 {
		t.Errorf("%d statements, want at least 300", total)
	}
}

// BenchmarkComplaintSearch: one search per statement of the whole set,
// as the complaint box asks while the receptionist types.
func BenchmarkComplaintSearch(b *testing.B) {
	set := loadSet(b)
	ix := complaint.New(set)
	sts := append(append(readStatements(b, "tune"), readStatements(b, "tune2")...), readStatements(b, "holdout")...)
	qs := make([]complaint.Query, len(sts))
	for i, s := range sts {
		qs[i] = s.query()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.Search(qs[i%len(qs)])
	}
}
