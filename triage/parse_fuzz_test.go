package triage

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseProtocol is the protocol YAML parser, seeded with every real
// protocol and fed any bytes: no panic; every problem is a lint error in
// the file, at a line; parsing is deterministic; and Lint over the file
// alone does not panic either.
func FuzzParseProtocol(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "protocols", "*.yaml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("id: x\n  bad: [indent\n"))
	f.Add([]byte("id: &a x\nname: *a\n"))
	f.Add([]byte("- - - -\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, errs := parseFile("fuzz.yaml", data)
		if p == nil {
			t.Fatal("no protocol value")
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Message == "" {
				t.Fatalf("lint error without file, line or message: %+v", e)
			}
		}
		p2, errs2 := parseFile("fuzz.yaml", data)
		if p.Hash != p2.Hash || !reflect.DeepEqual(errs, errs2) {
			t.Fatal("parsing the same bytes twice differs")
		}
		_ = Lint(map[string][]byte{"fuzz.yaml": data})
	})
}
