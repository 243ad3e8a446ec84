package clinic_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection holds the layout's arrows (README, Architecture):
// the engine imports no domain package; no domain package imports Badger
// (they read and write through cluster.Reader and cluster.Tx); triage and
// routing import nothing of the project; the HTTP layer sits above the
// domain, never the other way.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/frontdoor-ucc/frontdoor/"
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Deps,Imports", mod+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}    // package -> every package it depends on
	imports := map[string][]string{} // package -> what it imports itself
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Deps       []string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, mod) {
			deps[strings.TrimPrefix(p.ImportPath, mod)] = p.Deps
			imports[strings.TrimPrefix(p.ImportPath, mod)] = p.Imports
		}
	}
	domains := []string{"cluster/access", "cluster/directory", "cluster/protocolset", "cluster/care", "cluster/clinic"}
	dependsOn := func(pkg, on string) bool {
		for _, d := range deps[pkg] {
			if d == on || strings.HasPrefix(d, on+"/") {
				return true
			}
		}
		return false
	}
	if len(deps["cluster"]) == 0 {
		t.Fatal("go list did not list the cluster package")
	}
	for _, d := range domains {
		if dependsOn("cluster", mod+d) {
			t.Errorf("the engine (cluster) depends on the domain package %s", d)
		}
		for _, imp := range imports[d] {
			if strings.HasPrefix(imp, "github.com/dgraph-io/badger") {
				t.Errorf("%s imports Badger; domain packages use cluster.Reader and cluster.Tx", d)
			}
		}
		if dependsOn(d, mod+"cmd") || dependsOn(d, "github.com/gofiber/fiber") {
			t.Errorf("%s depends on the HTTP layer", d)
		}
	}
	// triage and routing are pure: they depend on nothing of the project
	// but their own subpackages (triage/coding, the vendored code lists),
	// which are held to the same rule, as Deps is transitive.
	for _, pure := range []string{"triage", "routing"} {
		for _, d := range deps[pure] {
			if strings.HasPrefix(d, mod) && !strings.HasPrefix(d, mod+pure+"/") {
				t.Errorf("%s depends on %s; it must import nothing of the project", pure, d)
			}
		}
	}
	for pkg := range deps {
		if strings.HasPrefix(pkg, "loadtest") {
			for _, d := range deps[pkg] {
				// the engine's own part, under its settings; the fault proxy is test tooling
				engine := d == mod+"cluster/trust" || d == mod+"cluster/faultproxy"
				if (strings.HasPrefix(d, mod+"cluster/") && !engine) || strings.HasPrefix(d, mod+"cmd/") {
					t.Errorf("%s depends on %s; the load tool talks HTTP (only its baseline shares the engine's settings)", pkg, d)
				}
			}
		}
	}
}
