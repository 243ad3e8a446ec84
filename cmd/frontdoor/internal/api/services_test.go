package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// serviceRouteSamples are sample requests for its routes (routeSamples, auth_test.go).
func serviceRouteSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	static := func(path, body string) sampleFunc {
		return func(*testing.T) (string, string) { return path, body }
	}
	_, svc := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street", "", nil)
	return map[string]sampleFunc{
		"GET /v1/directory":                static("/v1/directory", ""),
		"PUT /v1/directory/bank-holidays":  static("/v1/directory/bank-holidays", `{"dates":["2026-12-29"]}`),
		"POST /v1/directory/import":        static("/v1/directory/import", `{"practices":[{"ods_code":"X99001","name":"Castlegate Medical Practice (fictional)","postcode":"DY1 1AE"}]}`),
		"GET /v1/services":                 static("/v1/services?tier=gp", ""),
		"GET /v1/services/:id":             static("/v1/services/ph-high-street", ""),
		"PUT /v1/services/:id":             static("/v1/services/ph-high-street", string(svc)),
		"POST /v1/services/:id/status":     static("/v1/services/"+scopeSampleService+"/status", `{"status":"amber","note":"one crew off sick"}`),
		"POST /v1/services/:id/exceptions": static("/v1/services/ph-high-street/exceptions", `{"date":"2026-12-24","sessions":[{"start":"09:00","end":"13:00","slots":4}],"note":"Christmas Eve"}`),
		"GET /v1/services/:id/allocations": static("/v1/services/ph-high-street/allocations", ""),
		"GET /v1/practices":                static("/v1/practices", ""),
	}
}

// TestDirectoryIsReplicatedReferenceData: the demo directory enters the
// state at bootstrap (every node serves it); admin changes to a service,
// its staff's RAG status, a date exception and extra bank holidays are
// commands visible on every node and audited with the key holder.
func TestDirectoryIsReplicatedReferenceData(t *testing.T) {
	tc := nodetest.New(t, 3)
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/directory?consistency=stale", "", nil)
		var d api.DirectoryBody
		nodetest.DecodeJSON(t, b, &d)
		if resp.StatusCode != http.StatusOK || d.Name != demo.Name || d.Services != len(demo.Services) || d.Practices != len(demo.Practices) {
			t.Fatalf("%s: directory %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b := tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/services?tier=pharmacy", "", nil)
	var l api.ServiceList
	nodetest.DecodeJSON(t, b, &l)
	if resp.StatusCode != http.StatusOK || len(l.Services) == 0 {
		t.Fatalf("pharmacies: %d %s", resp.StatusCode, b)
	}
	for _, s := range l.Services {
		if s.Tier != routing.TierPharmacy {
			t.Fatalf("tier filter let %s (%s) through", s.ID, s.Tier)
		}
	}
	for _, s := range demo.Services {
		if s.Webhook != nil && s.Webhook.Secret != "" {
			_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/"+s.ID, "", nil)
			if strings.Contains(string(b), s.Webhook.Secret) {
				t.Fatalf("webhook secret of %s shown: %s", s.ID, b)
			}
		}
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/practices", "", nil)
	var pl api.PracticeList
	nodetest.DecodeJSON(t, b, &pl)
	if resp.StatusCode != http.StatusOK || len(pl.Practices) != len(demo.Practices) {
		t.Fatalf("practices: %d %s", resp.StatusCode, b)
	}

	// Admin renames a service through a follower.
	_, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street", "", nil)
	renamed := strings.Replace(string(b), "High Street Pharmacy", "High St Pharmacy", 1)
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPut, "/v1/services/ph-high-street", renamed, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "High St Pharmacy") {
		t.Fatalf("put: %d %s", resp.StatusCode, b)
	}
	// Its staff (a clinician key scoped to it) set it red.
	nurse := tc.ScopedKey(t, access.RoleClinician, "Pharmacist Okafor", "ph-high-street")
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/services/ph-high-street/status",
		`{"status":"red","reset_after_minutes":120,"note":"power cut"}`, nodetest.BearerHeader(nurse))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/services/ph-high-street/exceptions",
		`{"date":"2026-12-26","note":"closed Boxing Day"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exception: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPut, "/v1/directory/bank-holidays", `{"dates":["2027-01-04","2026-12-29","2026-12-29"]}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bank holidays: %d %s", resp.StatusCode, b)
	}
	for _, tn := range tc.Nodes {
		_, b := tc.Do(t, tn, http.MethodGet, "/v1/services/ph-high-street?consistency=linearizable", "", nil)
		var s routing.Service
		nodetest.DecodeJSON(t, b, &s)
		if s.Name != strings.Replace(demo.Services[1].Name, "High Street Pharmacy", "High St Pharmacy", 1) ||
			s.RAG.Status != routing.StatusRed || s.RAG.SetBy != "Pharmacist Okafor" || s.RAG.ResetAfterMinutes != 120 ||
			len(s.Exceptions) != 1 || s.Exceptions[0].Date != "2026-12-26" || len(s.Exceptions[0].Sessions) != 0 {
			t.Fatalf("%s: service after changes: %s", tn.ID, b)
		}
		_, b = tc.Do(t, tn, http.MethodGet, "/v1/directory?consistency=linearizable", "", nil)
		var d api.DirectoryBody
		nodetest.DecodeJSON(t, b, &d)
		if strings.Join(d.ExtraBankHolidays, ",") != "2026-12-29,2027-01-04" {
			t.Fatalf("%s: bank holidays %v", tn.ID, d.ExtraBankHolidays)
		}
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=service/ph-high-street", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"name":"Pharmacist Okafor","role":"clinician"`) ||
		!strings.Contains(string(b), "service.exception") || !strings.Contains(string(b), "service.put") {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street/allocations", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"allocations":[]`) {
		t.Fatalf("allocations: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/no-such/allocations", "", nil)
	expectProblem(t, resp, b, http.StatusNotFound, api.ProblemNotFound, "")
}

// TestDirectoryBadInputChangesNothing for the reference
// data routes: each bad request is a 4xx problem naming the field, on the
// leader and through a follower, and the raft index does not move.
func TestDirectoryBadInputChangesNothing(t *testing.T) {
	tc := nodetest.New(t, 3)
	_, svc := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street", "", nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"malformed JSON", "PUT", "/v1/services/ph-high-street", `{"name":`, 400, ""},
		{"unknown field", "PUT", "/v1/services/ph-high-street", strings.Replace(string(svc), `"id"`, `"colour":"red","id"`, 1), 422, "colour"},
		{"unknown tier", "PUT", "/v1/services/ph-high-street", strings.Replace(string(svc), `"tier":"pharmacy"`, `"tier":"hospital"`, 1), 422, "tier"},
		{"id mismatch", "PUT", "/v1/services/ph-other", string(svc), 422, "id"},
		{"bad session time", "PUT", "/v1/services/ph-high-street", strings.Replace(string(svc), `"end":"18:00"`, `"end":"25:00"`, 1), 422, "service"},
		{"bad RAG status", "POST", "/v1/services/ph-high-street/status", `{"status":"purple"}`, 422, "status"},
		{"negative places", "POST", "/v1/services/ph-high-street/status", `{"status":"green","places":-1}`, 422, "places"},
		{"bad exception date", "POST", "/v1/services/ph-high-street/exceptions", `{"date":"2026-02-30"}`, 422, "date"},
		{"bad bank holiday", "PUT", "/v1/directory/bank-holidays", `{"dates":["2026-12-25","Christmas"]}`, 422, "dates[1]"},
		{"wrong type", "POST", "/v1/services/ph-high-street/status", `{"status":1}`, 422, "status"},
		{"import: nothing", "POST", "/v1/directory/import", `{}`, 422, "postcodes"},
		{"import: practice code", "POST", "/v1/directory/import", `{"practices":[{"ods_code":"XY1234","name":"A","postcode":"DY1 1AE"}]}`, 422, "practices[0].ods_code"},
		{"import: pharmacy code", "POST", "/v1/directory/import", `{"pharmacies":[{"ods_code":"A1234","name":"A","postcode":"DY1 1AE"}]}`, 422, "pharmacies[0].ods_code"},
		{"import: postcode not located", "POST", "/v1/directory/import", `{"practices":[{"ods_code":"A81001","name":"A","postcode":"ZZ9 9ZZ"}]}`, 422, "practices[0].postcode"},
		{"import: postcode not normalised", "POST", "/v1/directory/import", `{"postcodes":{"dy88aa":{"lat":52.4,"lon":-2.1}}}`, 422, "postcodes.dy88aa"},
		{"import: coordinates", "POST", "/v1/directory/import", `{"postcodes":{"DY8 8AA":{"lat":0,"lon":0}}}`, 422, "postcodes.DY8 8AA"},
		{"import: pharmacy hours", "POST", "/v1/directory/import", `{"pharmacies":[{"ods_code":"FQ001","name":"A","postcode":"DY1 1AE"}],"pharmacy_sessions":[{"days":"mon","start":"09:00","end":"25:00","slots":1}]}`, 422, "pharmacy_sessions"},
	}
	before := tc.Leader(t).N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, tt.method, tt.path, tt.body, nil)
				typ := api.ProblemInvalid
				if tt.status == 400 {
					typ = api.ProblemBadRequest
				}
				expectProblem(t, resp, b, tt.status, typ, tt.field)
			})
		}
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d on refused input", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("state hash changed on refused input:\n%s\n%s", hashBefore, after)
	}
	// Refused inside Apply (the handler cannot know): a status for a
	// service that does not exist is a 404 and changes no state.
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/services/nowhere/status", `{"status":"red"}`, nil)
	expectProblem(t, resp, b, http.StatusNotFound, api.ProblemNotFound, "")
}

// stateHashes is every node's state hash and applied index, once all have
// caught up with the leader (so it compares like with like).
func stateHashes(t testing.TB, tc *nodetest.Cluster) string {
	t.Helper()
	lead := tc.Leader(t)
	want := lead.N.Store().Status().CommitIndex
	var out string
	nodetest.Eventually(t, "nodes caught up", func() error {
		out = ""
		for _, tn := range tc.Running() {
			h, applied, err := tn.N.Store().StateHash()
			if err != nil {
				return err
			}
			if applied < want {
				return fmt.Errorf("%s applied %d < %d", tn.ID, applied, want)
			}
			out += fmt.Sprintf("%s@%d ", h[:12], applied)
		}
		return nil
	})
	return out
}
