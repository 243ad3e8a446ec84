package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the root command with args and stdin, returning output and error.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestProtocolsLintCmd(t *testing.T) {
	out, err := runCLI(t, "", "protocols", "lint")
	if err != nil {
		t.Fatalf("embedded set does not lint clean: %v\n%s", err, out)
	}
	if !strings.Contains(out, "files OK") {
		t.Errorf("output %q", out)
	}
	fixtures := filepath.Join("..", "..", "protocols", "testdata", "lint")
	for _, tc := range []struct{ rule, want string }{
		{"cycle", "broken.yaml:28: cycle:"},
		{"dangling_ref", "broken.yaml:32: dangling_ref:"},
		{"missing_safety_net", "broken.yaml:37: missing_safety_net:"},
	} {
		out, err := runCLI(t, "", "protocols", "lint", filepath.Join(fixtures, tc.rule))
		if err == nil {
			t.Errorf("%s: lint passed a broken set", tc.rule)
		}
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "(fix: ") {
			t.Errorf("%s: output lacks %q with a fix hint:\n%s", tc.rule, tc.want, out)
		}
	}
	if _, err := runCLI(t, "", "protocols", "lint", t.TempDir()); err == nil {
		t.Error("lint of an empty directory passed")
	}
}

func TestProtocolsTryInteractive(t *testing.T) {
	dir := filepath.Join("..", "..", "triage", "testdata", "engine")
	// screen.danger, screen.worried, then a bad answer (re-asked), pain, where.
	out, err := runCLI(t, "no\nno\nlots\n3\nthroat\n", "protocols", "try", "mini", "--dir", dir, "--age", "40", "--sex", "male")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"[screen.danger]", "[pain]", "allowed: a number from 0 to 10", "OUTCOME  Pharmacy (pharmacy)",
		"tier pharmacy, Dx28", "decided by: tree", "mini.where", "CHECKS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runCLI(t, "no\n", "protocols", "try", "mini", "--dir", dir); err == nil {
		t.Error("input ending before an outcome should fail")
	}
}

func TestProtocolsTryAnswersFile(t *testing.T) {
	dir := filepath.Join("..", "..", "triage", "testdata", "engine")
	answers := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answers, []byte("patient: {age_years: 70, sex: male, channel: nhs111}\nanswers:\n  pain: 2\n  where: chest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "protocols", "try", "mini", "--dir", dir, "--answers", answers)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"(ed_now)", "tier ed, Dx012, timeframe immediate, action ambulance", "decided by: tree"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Observation flags raise the outcome: a pulse of 135 scores 3 (NEWS2 ed 1h).
	out, err = runCLI(t, "", "protocols", "try", "mini", "--dir", dir, "--answers", answers, "--pulse", "135", "--channel", "walk_in")
	if err != nil || !strings.Contains(out, "action clinician_now") {
		t.Errorf("walk-in: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "", "protocols", "try", "nope", "--dir", dir); err == nil {
		t.Error("unknown protocol accepted")
	}
	out, err = runCLI(t, "", "protocols", "search", "SOB", "--dir", dir)
	if err != nil || !strings.HasPrefix(out, "mini") {
		t.Errorf("search: %v %q", err, out)
	}
}
