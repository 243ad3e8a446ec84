package api_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestOpenAPIMatchesRegisteredRoutes: /openapi.json (open, no key) names
// exactly the routes the app has registered — a registered route missing
// from the document, or a documented route that is not registered, fails
// — and every operation is complete: path parameters declared, a request
// body schema for writes that take one, the roles of keyed routes.
func TestOpenAPIMatchesRegisteredRoutes(t *testing.T) {
	tc := nodetest.New(t, 1)
	n := tc.Nodes[0]
	resp, b := tc.Do(t, n, http.MethodGet, "/openapi.json", "", map[string]string{"Authorization": ""})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, b)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	nodetest.DecodeJSON(t, b, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			for _, p := range strings.Split(path, "/") {
				if strings.HasPrefix(p, "{") && !strings.Contains(string(mustJSON(t, op["parameters"])), `"in":"path","name":"`+strings.Trim(p, "{}")+`"`) {
					t.Errorf("%s: path parameter %s not declared", key, p)
				}
			}
			if sec, ok := op["security"].([]any); ok && len(sec) > 0 {
				if roles, ok := op["x-roles"].([]any); !ok || len(roles) == 0 {
					t.Errorf("%s: keyed operation without x-roles", key)
				}
			}
			if (method == "post" || method == "put") && op["requestBody"] == nil && !strings.Contains(path, "/cluster/") {
				t.Errorf("%s: write without a request body schema (give the row a Body)", key)
			}
		}
	}
	registered := map[string]bool{}
	for _, r := range n.N.App().GetRoutes(true) {
		if r.Method == http.MethodHead {
			continue // fiber registers HEAD with every GET
		}
		registered[r.Method+" "+api.OpenAPIPath(r.Path)] = true
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("registered but not in /openapi.json (add a row to api.RouteTable()): %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("in /openapi.json but not registered: %v", extra)
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered: %v", len(registered), registered)
	}
	// Request schemas come from the Go types: unknown fields are refused,
	// and the schema says so.
	var full map[string]any
	nodetest.DecodeJSON(t, b, &full)
	schemas := full["components"].(map[string]any)["schemas"].(map[string]any)
	pc, ok := schemas["PatientCreate"].(map[string]any)
	if !ok || pc["additionalProperties"] != false || pc["properties"].(map[string]any)["nhs_number"] == nil {
		t.Fatalf("PatientCreate schema %v", schemas["PatientCreate"])
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenAPIDocumentsTheTriageContext: every field of the attendance's
// triage context, of a reported earlier contact and of the observations is
// described in /openapi.json, and the queue's worklist filter too.
func TestOpenAPIDocumentsTheTriageContext(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	b, err := json.Marshal(api.BuildOpenAPI("dev"))
	if err != nil {
		t.Fatal(err)
	}
	nodetest.DecodeJSON(t, b, &doc)
	for _, name := range []string{"TriageContext", "EarlierContact", "Observations", "addressBody"} {
		sch, ok := doc.Components.Schemas[name]
		if !ok || len(sch.Properties) == 0 {
			t.Fatalf("no %s schema", name)
		}
		for field, prop := range sch.Properties {
			if d, _ := prop["description"].(string); d == "" {
				t.Errorf("%s.%s has no description", name, field)
			}
		}
	}
	for _, field := range []string{"age_months", "age_weeks", "age_days", "gestation_weeks", "postnatal_weeks", "earlier_contacts"} {
		if _, ok := doc.Components.Schemas["TriageContext"].Properties[field]; !ok {
			t.Errorf("TriageContext.%s missing", field)
		}
	}
	if !strings.Contains(string(mustJSON(t, doc.Paths["/v1/queue"]["get"]["parameters"])), `"name":"stream"`) {
		t.Error("GET /v1/queue does not document ?stream=")
	}
}
