package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// sampleFunc makes one valid request for a route: the path with its
// parameters filled in and a body. It may create what the request needs
// (a key to revoke, an attendance to link); it is called once per allowed
// role, so a request that consumes its target gets a fresh one each time.
type sampleFunc func(t *testing.T) (path, body string)

// routeSamples returns a valid request for every keyed route of the table.
// A new row needs a sample here (the role test fails without one).
func routeSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	t.Helper()
	attendance := func(t *testing.T) string {
		resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"fixture"}`, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("fixture attendance: %d %s", resp.StatusCode, b)
		}
		var c created
		nodetest.DecodeJSON(t, b, &c)
		return c.ID
	}
	fixed := attendance(t)
	static := func(path, body string) sampleFunc {
		return func(*testing.T) (string, string) { return path, body }
	}
	m := map[string]sampleFunc{
		"GET /v1/whoami":            static("/v1/whoami", ""),
		"GET /debug/pprof/:profile": static("/debug/pprof/heap", ""),
		"POST /v1/keys":             static("/v1/keys", `{"name":"Sample","role":"reception"}`),
		"GET /v1/keys":              static("/v1/keys", ""),
		"GET /v1/cluster/backup": func(t *testing.T) (string, string) {
			id, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			return "/v1/cluster/backup?recipient=" + id.Recipient().String(), ""
		},
		"DELETE /v1/keys/:id": func(t *testing.T) (string, string) {
			resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/keys", `{"name":"Victim","role":"responder"}`, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("victim key: %d %s", resp.StatusCode, b)
			}
			var k api.KeyView
			nodetest.DecodeJSON(t, b, &k)
			return "/v1/keys/" + k.ID, ""
		},
		"POST /v1/attendances":    static("/v1/attendances", `{"complaint":"cough"}`),
		"GET /v1/attendances":     static("/v1/attendances", ""),
		"GET /v1/attendances/:id": static("/v1/attendances/"+fixed, ""),
		"GET /v1/audit":           static("/v1/audit?entity=attendance/"+fixed, ""),
		"GET /v1/exports/ecds":    static("/v1/exports/ecds?from=2026-01-01&to=2026-01-31&format=csv", ""),
	}
	for k, f := range workflowSamples(t, tc) {
		m[k] = f
	}
	return m
}

// workflowSamples gathers the sample requests each resource's test file
// gives for its routes.
func workflowSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	out := map[string]sampleFunc{}
	for _, h := range []func(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc{
		serviceRouteSamples, webhookRouteSamples, patientRouteSamples, dispatchRouteSamples, workflowRouteSamples, retentionRouteSamples,
		fhirRouteSamples,
	} {
		for k, f := range h(t, tc) {
			out[k] = f
		}
	}
	return out
}

// TestEveryRoleAgainstEveryRoute, over HTTPS (the nodes' certificates from
// the cluster CA, a client that trusts only that CA): for each keyed route
// of the route table and each role, an allowed role succeeds (2xx), any other
// gets a 403 problem, and no key (or an unknown or revoked one) gets a 401
// problem. Requests alternate between the leader and a follower, so the
// follower's key cache and forwarding are exercised too.
func TestEveryRoleAgainstEveryRoute(t *testing.T) {
	tc := nodetest.NewHTTPS(t, 3)
	if resp, _ := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/cluster", "", nil); resp.TLS == nil {
		t.Fatal("the API answered over plain HTTP")
	}
	keys := map[string]string{access.RoleAdmin: tc.AdminKey}
	for _, role := range access.Roles {
		if role != access.RoleAdmin {
			keys[role] = tc.Key(t, role, "Test "+role)
		}
	}
	revoked := tc.Key(t, access.RoleReception, "Leaver")
	var leaver api.KeyView
	{
		_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/keys", "", nil)
		var l api.KeyList
		nodetest.DecodeJSON(t, b, &l)
		for _, k := range l.Keys {
			if k.Name == "Leaver" {
				leaver = k
			}
		}
		resp, b := tc.Do(t, tc.Follower(t), http.MethodDelete, "/v1/keys/"+leaver.ID, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d %s", resp.StatusCode, b)
		}
	}
	// Scoped keys: the staff of the service the status sample names (each
	// role that may be scoped), another service's desk, and a responder
	// of each rapid response team.
	staff := map[string]string{}
	for _, role := range []string{access.RoleReception, access.RoleClinician, access.RoleResponder} {
		staff[role] = tc.ScopedKey(t, role, "Staff "+role+" of "+scopeSampleService, scopeSampleService)
	}
	pharmacyDesk := tc.ScopedKey(t, access.RoleReception, "High Street pharmacy desk", "ph-high-street")
	teamKeys := map[string]string{}
	for _, team := range []string{"ucr-north", "ucr-south"} {
		teamKeys[team] = tc.ScopedKey(t, access.RoleResponder, "Responder of "+team, team)
	}
	samples := routeSamples(t, tc)
	nodes := []*nodetest.Node{tc.Leader(t), tc.Follower(t)}
	call := 0
	// A 503 "not accepted, safe to retry" (an election on a loaded
	// machine: with no leader a node cannot renew its key lease) is
	// retried; every other answer is the one checked.
	send := func(t *testing.T, row *api.RouteRow, path, body string, header map[string]string) (*http.Response, []byte) {
		call++
		return tc.DoRetry(t, nodes[call%len(nodes)], row.Method, path, body, withFHIRHeaders(path, header))
	}
	for i := range api.RouteTable() {
		row := &api.RouteTable()[i]
		if row.Access != api.AccessKey {
			continue
		}
		t.Run(row.Method+" "+row.Path, func(t *testing.T) {
			sample, ok := samples[api.RowKey(row.Method, row.Path)]
			if !ok {
				t.Fatalf("no sample request for %s %s: add one to routeSamples", row.Method, row.Path)
			}
			path, body := sample(t)
			for _, h := range []map[string]string{
				{"Authorization": ""},
				{"Authorization": "Bearer fdk_not-a-key"},
				{"Authorization": "Basic " + tc.AdminKey},
				nodetest.BearerHeader(revoked),
			} {
				resp, b := send(t, row, path, body, h)
				expectRefusal(t, path, resp, b, http.StatusUnauthorized, api.ProblemUnauthorized)
			}
			for _, role := range access.Roles {
				key := keys[role]
				if row.Scope == api.ScopeService && role != access.RoleAdmin && staff[role] != "" {
					key = staff[role] // the service's own staff
				}
				if row.Allows(role) {
					path, body := sample(t)
					resp, b := send(t, row, path, body, nodetest.BearerHeader(key))
					if resp.StatusCode/100 != 2 {
						t.Errorf("%s (allowed): %d %s", role, resp.StatusCode, b)
					}
					continue
				}
				resp, b := send(t, row, path, body, nodetest.BearerHeader(key))
				expectRefusal(t, path, resp, b, http.StatusForbidden, api.ProblemForbidden)
			}
			switch row.Scope {
			case api.ScopeService:
				// Another service's staff, a rapid response team's
				// responder and an unscoped key of each role may not.
				others := map[string]string{"another service's desk": pharmacyDesk, "ucr-north's responder": teamKeys["ucr-north"]}
				for _, role := range row.Roles {
					others["unscoped "+role] = keys[role]
				}
				for who, k := range others {
					path, body := sample(t)
					resp, b := send(t, row, path, body, nodetest.BearerHeader(k))
					if resp.StatusCode != http.StatusForbidden {
						t.Errorf("%s: %d %s", who, resp.StatusCode, b)
					}
				}
			case api.ScopeTeam:
				checkTeamScope(t, tc, row, teamKeys, send)
			case "":
			default:
				t.Fatalf("scope %q has no check here", row.Scope)
			}
		})
	}
	// Open routes need no key.
	for i := range api.RouteTable() {
		row := &api.RouteTable()[i]
		if row.Access != api.AccessOpen || row.Method != http.MethodGet {
			continue
		}
		resp, b := tc.Do(t, tc.Leader(t), row.Method, row.Path, "", map[string]string{"Authorization": ""})
		if resp.StatusCode/100 != 2 {
			t.Errorf("open route %s: %d %s", row.Path, resp.StatusCode, b)
		}
	}
}

// TestAuditNamesTheKeyHolder: a command made with a reception key is
// audited with that key's holder and role, on every node.
func TestAuditNamesTheKeyHolder(t *testing.T) {
	tc := nodetest.New(t, 3)
	desk := tc.Key(t, access.RoleReception, "Desk 1 (Mary Jones)")
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/attendances", `{"complaint":"cut hand"}`, nodetest.BearerHeader(desk))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var c struct {
		ID        string        `json:"id"`
		CreatedBy cluster.Actor `json:"created_by"`
	}
	nodetest.DecodeJSON(t, b, &c)
	if c.CreatedBy.Name != "Desk 1 (Mary Jones)" || c.CreatedBy.Role != access.RoleReception || c.CreatedBy.ID == "" {
		t.Fatalf("created_by %+v", c.CreatedBy)
	}
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/audit?consistency=linearizable&entity=attendance/"+c.ID, "", nil)
		var a struct {
			Events []cluster.AuditEvent `json:"events"`
		}
		nodetest.DecodeJSON(t, b, &a)
		if resp.StatusCode != http.StatusOK || len(a.Events) == 0 || a.Events[0].Actor != c.CreatedBy {
			t.Fatalf("%s: audit %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/whoami", "", nodetest.BearerHeader(desk))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"role":"reception"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, b)
	}
}

// TestKeySecretsNeverReplicated: the admin key file is 0600 and never
// printed (its path is); the state holds only hashes (no secret in any list, audit or
// idempotent replay); revoking takes effect at once on every node; the
// last admin key cannot be revoked.
func TestKeySecretsNeverReplicated(t *testing.T) {
	tc := nodetest.New(t, 3)
	st, err := os.Stat(filepath.Join(tc.Nodes[0].Dir, node.AdminKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key: %v mode %v", err, st.Mode())
	}
	if out := tc.Nodes[0].Out.String(); strings.Contains(out, tc.AdminKey) || !strings.Contains(out, node.AdminKeyFile) {
		t.Fatalf("the bootstrapping node printed the admin key, or not where it is:\n%s", out)
	}
	for _, tn := range tc.Nodes[1:] {
		if strings.Contains(tn.Out.String(), tc.AdminKey) {
			t.Fatalf("%s printed the admin key", tn.ID)
		}
		if _, err := os.Stat(filepath.Join(tn.Dir, node.AdminKeyFile)); err == nil {
			t.Fatalf("%s has an admin.key", tn.ID)
		}
	}
	idem := map[string]string{api.HeaderIdempotencyKey: "key-for-nurse"}
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/keys", `{"name":"Nurse Patel","role":"clinician"}`, idem)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var k api.KeyView
	nodetest.DecodeJSON(t, b, &k)
	if !strings.HasPrefix(k.Key, api.KeySecretPrefix) || k.Role != access.RoleClinician {
		t.Fatalf("created %s", b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/keys", `{"name":"Nurse Patel","role":"clinician"}`, idem)
	var replay api.KeyView
	nodetest.DecodeJSON(t, b, &replay)
	if resp.StatusCode != http.StatusCreated || replay.ID != k.ID || replay.Key != "" {
		t.Fatalf("replay: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/v1/keys", "/v1/audit?entity=key/" + k.ID} {
		_, b := tc.Do(t, tc.Follower(t), http.MethodGet, path+"&consistency=linearizable", "", nil)
		if bytes.Contains(b, []byte(k.Key)) || bytes.Contains(b, []byte(tc.AdminKey)) || bytes.Contains(b, []byte(access.HashKey(k.Key))) {
			t.Fatalf("%s shows a secret or hash: %s", path, b)
		}
	}
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/audit?consistency=linearizable&entity=attendance/x", "", nodetest.BearerHeader(k.Key))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: new clinician key: %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+k.ID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	// The leader applied the revocation before answering: refused at once.
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/whoami", "", nodetest.BearerHeader(k.Key))
	expectProblem(t, resp, b, http.StatusUnauthorized, api.ProblemUnauthorized, "")
	for _, tn := range tc.Nodes {
		nodetest.Eventually(t, tn.ID+" refuses the revoked key", func() error {
			resp, _ := tc.Do(t, tn, http.MethodGet, "/v1/whoami", "", nodetest.BearerHeader(k.Key))
			if resp.StatusCode != http.StatusUnauthorized {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+k.ID, "", nil)
	expectProblem(t, resp, b, http.StatusConflict, api.ProblemConflict, "")
	// The bootstrap admin key is the only admin: it cannot be revoked.
	_, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/keys", "", nil)
	var l api.KeyList
	nodetest.DecodeJSON(t, b, &l)
	for _, key := range l.Keys {
		if key.Role == access.RoleAdmin {
			resp, b := tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+key.ID, "", nil)
			expectProblem(t, resp, b, http.StatusConflict, api.ProblemConflict, "")
		}
	}
	// Bad input names the field; nothing is proposed.
	before := tc.Leader(t).N.Store().Status().LastIndex
	for _, tt := range []struct{ body, field string }{
		{`{"name":"X","role":"porter"}`, "role"},
		{`{"name":"","role":"reception"}`, "name"},
		{`{"name":"X","role":"reception","hash":"00"}`, "hash"},
	} {
		resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/keys", tt.body, nil)
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, tt.field)
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("refused key requests moved the raft index %d -> %d", before, after)
	}
}

// BenchmarkKeyLookup: the per-request key check. "hit" is the common case
// (nothing applied since the last request); "after-write" re-checks the
// access generation with one local point read because the applied index
// moved. Neither touches raft.
func BenchmarkKeyLookup(b *testing.B) {
	tc := nodetest.New(b, 1)
	st := tc.Nodes[0].N.Store()
	kc := api.NewKeyCache(st)
	hash := access.HashKey(tc.AdminKey)
	ctx := b.Context()
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := kc.Lookup(ctx, hash); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("after-write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			kc.ForgetApplied() // as if the node had applied a write since
			if _, ok, err := kc.Lookup(ctx, hash); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// scopeSampleService is the service whose status the role test sets: a
// rapid response team, so every role that may be scoped can be its staff.
const scopeSampleService = "ucr-south"

// checkTeamScope: a team-scoped route called with a responder key of the
// team the sample's dispatch is for (ucr-north: a fall at home) succeeds;
// with the other team's key, reads of one record and writes are refused
// (403) and lists and streams carry none of the first team's records.
func checkTeamScope(t *testing.T, tc *nodetest.Cluster, row *api.RouteRow, teamKeys map[string]string,
	send func(*testing.T, *api.RouteRow, string, string, map[string]string) (*http.Response, []byte)) {
	t.Helper()
	const own, other = "ucr-north", "ucr-south"
	sample := func() (string, string) {
		// A fresh fall referral, dispatched to ucr-north.
		att := referFall(t, tc, tc.Leader(t), nil)
		d := att + "-d1"
		if v := getDispatchView(t, tc, tc.Leader(t), d); v.ServiceID != own {
			t.Fatalf("the fall went to %s, not %s", v.ServiceID, own)
		}
		eta := `{"eta":"` + time.Now().Add(30*time.Minute).UTC().Format(time.RFC3339) + `"}`
		switch api.RowKey(row.Method, row.Path) {
		case "GET /v1/attendances/:id":
			return "/v1/attendances/" + att, ""
		case "GET /v1/dispatches":
			return "/v1/dispatches", ""
		case "GET /v1/dispatches/stream":
			return "/v1/dispatches/stream?once=true&last_event_id=0", ""
		case "GET /v1/dispatches/:id":
			return "/v1/dispatches/" + d, ""
		case "POST /v1/dispatches/:id/accept":
			return "/v1/dispatches/" + d + "/accept", eta
		case "POST /v1/dispatches/:id/decline":
			return "/v1/dispatches/" + d + "/decline", `{"reason":"no crew"}`
		case "POST /v1/dispatches/:id/status":
			if resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/dispatches/"+d+"/accept", eta, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("accept: %d %s", resp.StatusCode, b)
			}
			return "/v1/dispatches/" + d + "/status", `{"status":"en_route"}`
		}
		t.Fatalf("no team scope sample for %s %s", row.Method, row.Path)
		return "", ""
	}
	path, body := sample()
	resp, b := send(t, row, path, body, nodetest.BearerHeader(teamKeys[other]))
	switch {
	case row.Method == http.MethodGet && (strings.HasSuffix(row.Path, "/dispatches") || strings.HasSuffix(row.Path, "/stream")):
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s's key: %d %s", other, resp.StatusCode, b)
		}
		teams := teamsIn(t, b)
		if teams[own] > 0 {
			t.Errorf("%s's key was shown %d records of %s: %s", other, teams[own], own, b)
		}
		// Positive control: the same request with the team's own key
		// does show them.
		resp, b = send(t, row, path, body, nodetest.BearerHeader(teamKeys[own]))
		if teams := teamsIn(t, b); resp.StatusCode != http.StatusOK || teams[own] == 0 || teams[other] > 0 {
			t.Errorf("%s's key: %d, teams %v", own, resp.StatusCode, teams)
		}
	default:
		expectProblem(t, resp, b, http.StatusForbidden, api.ProblemForbidden, "")
		path, body = sample()
		if resp, b := send(t, row, path, body, nodetest.BearerHeader(teamKeys[own])); resp.StatusCode/100 != 2 {
			t.Errorf("%s's own key: %d %s", own, resp.StatusCode, b)
		}
	}
}

// teamsIn counts the records of each team in a dispatch list or an event
// stream's data lines.
func teamsIn(t *testing.T, b []byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	var list struct {
		Dispatches []struct {
			ServiceID string `json:"service_id"`
		} `json:"dispatches"`
	}
	if json.Unmarshal(b, &list) == nil {
		for _, d := range list.Dispatches {
			out[d.ServiceID]++
		}
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var rec struct {
			ServiceID string `json:"service_id"`
		}
		if json.Unmarshal([]byte(data), &rec) == nil && rec.ServiceID != "" {
			out[rec.ServiceID]++
		}
	}
	return out
}
