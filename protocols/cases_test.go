package protocols

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

func loadSet(t testing.TB) *triage.Set {
	t.Helper()
	set, _, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// loadCleanSet loads the embedded set; if some files fail lint, the test fails
// but carries on with the files that pass, so that one broken protocol does not
// hide the results of the others' cases.
func loadCleanSet(t testing.TB) *triage.Set {
	t.Helper()
	set, files, err := Load()
	if err == nil {
		return set
	}
	t.Errorf("%v", err)
	return cleanSubset(t, files)
}

// cleanSubset builds a set from the files that pass lint on their own.
func cleanSubset(t testing.TB, files map[string][]byte) *triage.Set {
	t.Helper()
	bad := map[string]bool{}
	for _, e := range triage.Lint(files) {
		bad[e.File] = true
	}
	clean := map[string][]byte{}
	for name, b := range files {
		if !bad[name] {
			clean[name] = b
		}
	}
	set, err := triage.NewSet(clean)
	if err != nil {
		t.Fatalf("even the lint-clean files do not load: %v", err)
	}
	return set
}

// TestLintEmbedded lints the embedded set and reports each error with file:line.
func TestLintEmbedded(t *testing.T) {
	files := Files()
	errs := triage.Lint(files)
	for _, e := range errs {
		t.Errorf("protocols/%s", e.Error())
	}
	presentations := 0
	for name := range files {
		if name != "screen.yaml" {
			presentations++
		}
	}
	if presentations < 24 {
		t.Errorf("%d presentations embedded; at least 24 wanted", presentations)
	}
	t.Logf("%d files (%d presentations), %d lint errors", len(files), presentations, len(errs))
}

func caseFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatalf("no case files in testdata/%s", dir)
	}
	return names
}

// TestCases runs every case of protocols/testdata/cases/*.yaml, one subtest per
// protocol and case: go test ./protocols -run 'TestCases/<protocol-id>'.
func TestCases(t *testing.T) {
	set := loadCleanSet(t)
	for _, path := range caseFiles(t, "cases") {
		f, err := ReadCaseFile(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		id := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(id, func(t *testing.T) {
			if f.Protocol != id {
				t.Errorf("%s: protocol %q, want %q (the file name)", path, f.Protocol, id)
			}
			if len(f.Cases) == 0 {
				t.Fatalf("%s has no cases", path)
			}
			for _, c := range f.Cases {
				t.Run(c.Name, func(t *testing.T) {
					if c.Expect == nil {
						t.Fatalf("%s:%d: case has no expect:", path, c.Line)
					}
					pid, err := ProtocolFor(set, f, c)
					if err != nil {
						t.Fatalf("%s:%d: %v", path, c.Line, err)
					}
					_, res, err := RunCase(set, pid, c)
					if err != nil {
						t.Fatalf("%s:%d: %v", path, c.Line, err)
					}
					for _, m := range c.Expect.Check(res) {
						t.Errorf("%s:%d: %s (decided by %s; path %s)", path, c.Line, m, res.DecidedBy, pathString(res))
					}
				})
			}
		})
	}
}

func pathString(r *triage.Result) string {
	var b strings.Builder
	for i, p := range r.Path {
		if i > 0 {
			b.WriteString(" > ")
		}
		b.WriteString(p.Node)
		if p.Answer != "" {
			b.WriteString("=" + p.Answer)
		}
	}
	b.WriteString(" > " + r.TreeOutcome)
	return b.String()
}

// TestOutcomeCoverage proves that every outcome of every protocol is reached by
// at least one case in testdata/cases: the outcome the screen or tree reached,
// the floor or clinician-first outcome that decided, or a floor passed.
func TestOutcomeCoverage(t *testing.T) {
	set := loadCleanSet(t)
	reached := map[string]bool{}
	for _, path := range caseFiles(t, "cases") {
		f, err := ReadCaseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Cases {
			pid, err := ProtocolFor(set, f, c)
			if err != nil {
				continue
			}
			_, res, err := RunCase(set, pid, c)
			if err != nil {
				continue
			}
			reached[res.TreeProtocol+"/"+res.TreeOutcome] = true
			if res.DecidedBy == "floor" || res.DecidedBy == "clinician_first" {
				reached[res.Protocol+"/"+res.Outcome] = true
			}
			// A floor passed on the path reaches its outcome (it applied as a
			// minimum even where something higher decided).
			for _, p := range res.Path {
				if p.Kind != "floor" {
					continue
				}
				if pr, ok := set.Protocol(p.Protocol); ok {
					if n, ok := pr.NodeByID(p.Node); ok {
						reached[pr.ID+"/"+n.Floor] = true
					}
				}
			}
		}
	}
	var missing []string
	protos := append([]*triage.Protocol{set.Screen}, set.Presentations...)
	for _, p := range protos {
		for _, o := range p.Outcomes {
			if !reached[p.ID+"/"+o.ID] {
				missing = append(missing, p.File+": "+o.ID)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d outcome(s) reached by no case in testdata/cases:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// TestSetHashStable: the same bytes give the same set hash; any change alters it.
func TestSetHashStable(t *testing.T) {
	files := Files()
	a, err := triage.NewSet(files)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := triage.NewSet(Files())
	if a.Hash() == "" || a.Hash() != b.Hash() {
		t.Fatalf("hash %q vs %q", a.Hash(), b.Hash())
	}
	files["screen.yaml"] = append(append([]byte(nil), files["screen.yaml"]...), []byte("\n# edited\n")...)
	c, err := triage.NewSet(files)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() == a.Hash() {
		t.Error("an edited file kept the set hash")
	}
}
