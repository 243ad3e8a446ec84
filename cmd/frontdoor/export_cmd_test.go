package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestExportECDSCommand drives `frontdoor export ecds` against a one-node
// cluster: CSV to standard output, a FHIR Bundle to a file, and clear
// errors for bad flags and for a period the API refuses.
func TestExportECDSCommand(t *testing.T) {
	tc := nodetest.New(t, 1)
	n := tc.Nodes[0]
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "Test 111"))
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/attendances", `{"complaint":"chest pain","channel":"nhs111","dx":{"code":"Dx02"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":50}}`, nhs111)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("attendance: %d %s", resp.StatusCode, b)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.UTC
	}
	today := time.Now().In(london).Format("2006-01-02")
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(append([]string{"export", "ecds"}, args...), "--addr", n.HTTPAddr, "--data-dir", n.Dir))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("--from", today, "--to", today)
	if err != nil || !strings.HasPrefix(out, "attendance_id,arrival_date,") || !strings.Contains(out, ",1064901000000108,") {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "ecds.json")
	if out, err := run("--from", today, "--to", today, "--format", "fhir", "--out", file); err != nil {
		t.Fatalf("fhir: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.HasPrefix(b, []byte(`{"resourceType":"Bundle","type":"collection"`)) {
		t.Fatalf("fhir file: %v %s", err, b)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", today, "--to", today, "--format", "xml"}, "--format must be csv or fhir"},
		{[]string{"--from", "1 Dec", "--to", today}, "--from must be a date"},
		{[]string{"--from", "2026-01-01", "--to", "2026-03-01"}, "at most 30 days after from"},
		{[]string{"--from", today}, `"to" not set`},
	} {
		if out, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q\n%s", tc.args, err, tc.want, out)
		}
	}
}
