package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// TestRoleTableMarkdown: the README's role table (kept in
// /work/notes/roles-table.md for the lead) is generated from routeTable;
// this pins that every keyed row is in it with its roles.
func TestRoleTableMarkdown(t *testing.T) {
	md := routeRoleMarkdown()
	for _, row := range routeTable() {
		line := ""
		for _, l := range strings.Split(md, "\n") {
			if strings.Contains(l, "`"+row.Method+" "+openAPIPath(row.Path)+"`") {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("%s %s missing from the role table:\n%s", row.Method, row.Path, md)
		}
		cells := strings.Split(line, "|")
		for i, role := range access.Roles {
			cell := strings.TrimSpace(cells[2+i])
			want := row.allows(role)
			if (cell == "✓") != want && row.Access == accessKey {
				t.Fatalf("%s %s role %s: cell %q, want allowed=%v", row.Method, row.Path, role, cell, want)
			}
		}
	}
	block := roleTableBegin + "\n" + md + roleTableEnd + "\n"
	if path := os.Getenv("FRONTDOOR_WRITE_ROLE_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The README carries the generated table between the markers; once it
	// does, it must be the table the code enforces.
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	_, rest, found := strings.Cut(string(readme), roleTableBegin+"\n")
	if !found {
		t.Logf("README.md has no %s block yet: generate it with FRONTDOOR_WRITE_ROLE_TABLE=<file> go test -run TestRoleTableMarkdown and paste it", roleTableBegin)
		return
	}
	inREADME, _, _ := strings.Cut(rest, roleTableEnd)
	if inREADME != md {
		t.Fatalf("README.md's role table differs from routeTable; regenerate it with FRONTDOOR_WRITE_ROLE_TABLE=<file> go test ./cmd/frontdoor/internal/api -run TestRoleTableMarkdown and paste it.\nwant:\n%s", md)
	}
}

const (
	roleTableBegin = "<!-- role table: generated from cmd/frontdoor/internal/api/routes.go; TestRoleTableMarkdown checks it -->"
	roleTableEnd   = "<!-- end of role table -->"
)
