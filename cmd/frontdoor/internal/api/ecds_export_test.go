package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestECDSExportRoute: GET /v1/exports/ecds returns today's attendances as
// CSV and as a FHIR Bundle, each exported record read is audited, and bad
// parameters get a 422 naming the parameter and change nothing.
func TestECDSExportRoute(t *testing.T) {
	tc := nodetest.New(t, 1)
	lead := tc.Leader(t)
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "Test 111"))
	clinician := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Test clinician"))
	reception := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Test reception"))
	post := func(body string, h map[string]string) string {
		resp, b := tc.Do(t, lead, http.MethodPost, "/v1/attendances", body, h)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("attendance: %d %s", resp.StatusCode, b)
		}
		var c struct {
			ID string `json:"id"`
		}
		nodetest.DecodeJSON(t, b, &c)
		return c.ID
	}
	referred := post(`{"complaint":"chest pain","channel":"nhs111","dx":{"code":"Dx02"},"patient":{"nhs_number":"9434765919","postcode":"DY1 1AA"},"context":{"age_years":50}}`, nhs111)
	walkIn := post(`{"complaint":"cut finger"}`, reception)
	// Handed over to the ED: discharged, so the extract gives where to.
	if resp, b := tc.Do(t, lead, http.MethodPost, "/v1/attendances/"+referred+"/status", `{"status":"handed_over"}`, reception); resp.StatusCode != http.StatusOK {
		t.Fatalf("hand over: %d %s", resp.StatusCode, b)
	}
	today := time.Now().In(api.London).Format("2006-01-02")
	period := "from=" + today + "&to=" + today

	// Refused first, while nothing else is in flight (the audit of a
	// successful export is written asynchronously).
	before := lead.N.Store().AppliedIndex()
	for _, tc2 := range []struct {
		query, field string
	}{
		{"from=2026-13-01&to=2026-12-01", "from"},
		{"from=" + today, "to"},
		{"from=2026-12-05&to=2026-12-01", "to"},
		{"from=2026-12-01&to=2027-01-01", "to"},
		{period + "&format=xml", "format"},
	} {
		resp, b := tc.Do(t, lead, http.MethodGet, "/v1/exports/ecds?"+tc2.query, "", clinician)
		var p api.Problem
		nodetest.DecodeJSON(t, b, &p)
		if resp.StatusCode != http.StatusUnprocessableEntity || p.Errors[tc2.field] == "" {
			t.Errorf("?%s: %d %s, want 422 naming %s", tc2.query, resp.StatusCode, b, tc2.field)
		}
	}
	if resp, _ := tc.Do(t, lead, http.MethodGet, "/v1/exports/ecds?"+period, "", reception); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reception key: %d, want 403", resp.StatusCode)
	}
	if after := lead.N.Store().AppliedIndex(); after != before {
		t.Errorf("refused exports changed the state: applied index %d -> %d", before, after)
	}
	resp, b := tc.Do(t, lead, http.MethodGet, "/v1/exports/ecds?"+period, "", clinician)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(care.ECDSCSVHeader, ",") {
		t.Fatalf("csv rows: %q", rows)
	}
	col := func(row []string, name string) string {
		for i, h := range care.ECDSCSVHeader {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	byID := map[string][]string{rows[1][0]: rows[1], rows[2][0]: rows[2]}
	r := byID[referred]
	if r == nil || col(r, "acuity") != "1064901000000108" || col(r, "discharge_destination") != "19712007" ||
		col(r, "nhs_number") != "9434765919" || col(r, "dx") != "Dx02" || col(r, "coded") != "true" || col(r, "arrival_date") != today {
		t.Errorf("referral row %q", r)
	}
	if w := byID[walkIn]; w == nil || col(w, "coded") != "false" || col(w, "acuity") != "" {
		t.Errorf("untriaged walk-in row %q", w)
	}

	resp, b = tc.Do(t, lead, http.MethodGet, "/v1/exports/ecds?"+period+"&format=fhir", "", clinician)
	var bundle struct {
		ResourceType, Type string
		Entry              []struct {
			Resource struct {
				ResourceType, ID string
				Subject          *struct {
					Identifier struct{ System, Value string }
				}
				Priority *struct {
					Coding []struct{ System, Code string }
				}
			}
		}
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("fhir: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, &bundle); err != nil || bundle.ResourceType != "Bundle" || bundle.Type != "collection" || len(bundle.Entry) != 2 {
		t.Fatalf("bundle %v: %s", err, b)
	}
	found := false
	for _, e := range bundle.Entry {
		res := e.Resource
		if res.ResourceType != "Encounter" {
			t.Errorf("entry %s is a %s", res.ID, res.ResourceType)
		}
		if res.ID == referred {
			found = res.Subject != nil && res.Subject.Identifier.System == care.SystemNHSNumber && res.Subject.Identifier.Value == "9434765919" &&
				res.Priority != nil && res.Priority.Coding[0].System == care.SystemSNOMED && res.Priority.Coding[0].Code == "1064901000000108"
		}
	}
	if !found {
		t.Errorf("referral encounter not as coded: %s", b)
	}

	// Each exported attendance read is audited.
	nodetest.Eventually(t, "the export audited as record reads", func() error {
		_, b := tc.Do(t, lead, http.MethodGet, "/v1/audit?entity=attendance/"+referred, "", nil)
		if !strings.Contains(string(b), `"record.read"`) || !strings.Contains(string(b), "GET /v1/exports/ecds") {
			return fmt.Errorf("no record.read by the export: %s", b)
		}
		return nil
	})

}
