package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// sampleFunc makes one valid request for a route: the path with its
// parameters filled in and a body. It may create what the request needs
// (a key to revoke, an attendance to link); it is called once per allowed
// role, so a request that consumes its target gets a fresh one each time.
type sampleFunc func(t *testing.T) (path, body string)

// routeSamples returns a valid request for every keyed route of the table.
// A new row needs a sample here (the role test fails without one).
func routeSamples(t *testing.T, tc *testCluster) map[string]sampleFunc {
	t.Helper()
	attendance := func(t *testing.T) string {
		resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"fixture"}`, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("fixture attendance: %d %s", resp.StatusCode, b)
		}
		var c created
		decodeJSON(t, b, &c)
		return c.ID
	}
	fixed := attendance(t)
	static := func(path, body string) sampleFunc {
		return func(*testing.T) (string, string) { return path, body }
	}
	m := map[string]sampleFunc{
		"GET /v1/whoami": static("/v1/whoami", ""),
		"POST /v1/keys":  static("/v1/keys", `{"name":"Sample","role":"reception"}`),
		"GET /v1/keys":   static("/v1/keys", ""),
		"DELETE /v1/keys/:id": func(t *testing.T) (string, string) {
			resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/keys", `{"name":"Victim","role":"responder"}`, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("victim key: %d %s", resp.StatusCode, b)
			}
			var k KeyView
			decodeJSON(t, b, &k)
			return "/v1/keys/" + k.ID, ""
		},
		"POST /v1/attendances":    static("/v1/attendances", `{"complaint":"cough"}`),
		"GET /v1/attendances":     static("/v1/attendances", ""),
		"GET /v1/attendances/:id": static("/v1/attendances/"+fixed, ""),
		"GET /v1/audit":           static("/v1/audit?entity=attendance/"+fixed, ""),
	}
	for k, f := range workflowSamples(t, tc) {
		m[k] = f
	}
	return m
}

// workflowSamples is where later routes add their samples (filled in by
// the files that add the routes; see services_test.go, patients_test.go).
var workflowSampleHooks []func(t *testing.T, tc *testCluster) map[string]sampleFunc

func workflowSamples(t *testing.T, tc *testCluster) map[string]sampleFunc {
	out := map[string]sampleFunc{}
	for _, h := range workflowSampleHooks {
		for k, f := range h(t, tc) {
			out[k] = f
		}
	}
	return out
}

// TestEveryRoleAgainstEveryRoute is acceptance 5: for each keyed route of
// the route table and each role, an allowed role succeeds (2xx), any other
// gets a 403 problem, and no key (or an unknown or revoked one) gets a 401
// problem. Requests alternate between the leader and a follower, so the
// follower's key cache and forwarding are exercised too.
func TestEveryRoleAgainstEveryRoute(t *testing.T) {
	tc := newTestCluster(t, 3)
	keys := map[string]string{cluster.RoleAdmin: tc.AdminKey}
	for _, role := range cluster.Roles {
		if role != cluster.RoleAdmin {
			keys[role] = tc.Key(t, role, "Test "+role)
		}
	}
	revoked := tc.Key(t, cluster.RoleReception, "Leaver")
	var leaver KeyView
	{
		_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/keys", "", nil)
		var l KeyList
		decodeJSON(t, b, &l)
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
	samples := routeSamples(t, tc)
	nodes := []*testNode{tc.Leader(t), tc.Follower(t)}
	call := 0
	send := func(t *testing.T, row *routeRow, path, body string, header map[string]string) (*http.Response, []byte) {
		call++
		return tc.Do(t, nodes[call%len(nodes)], row.Method, path, body, header)
	}
	for i := range routeTable {
		row := &routeTable[i]
		if row.Access != accessKey {
			continue
		}
		t.Run(row.Method+" "+row.Path, func(t *testing.T) {
			sample, ok := samples[rowKey(row.Method, row.Path)]
			if !ok {
				t.Fatalf("no sample request for %s %s: add one to routeSamples", row.Method, row.Path)
			}
			path, body := sample(t)
			for _, h := range []map[string]string{
				{"Authorization": ""},
				{"Authorization": "Bearer fdk_not-a-key"},
				{"Authorization": "Basic " + tc.AdminKey},
				bearerHeader(revoked),
			} {
				resp, b := send(t, row, path, body, h)
				expectProblem(t, resp, b, http.StatusUnauthorized, problemUnauthorized, "")
			}
			for _, role := range cluster.Roles {
				if row.allows(role) {
					path, body := sample(t)
					resp, b := send(t, row, path, body, bearerHeader(keys[role]))
					if resp.StatusCode/100 != 2 {
						t.Errorf("%s (allowed): %d %s", role, resp.StatusCode, b)
					}
					continue
				}
				resp, b := send(t, row, path, body, bearerHeader(keys[role]))
				expectProblem(t, resp, b, http.StatusForbidden, problemForbidden, "")
			}
		})
	}
	// Open routes need no key.
	for i := range routeTable {
		row := &routeTable[i]
		if row.Access != accessOpen || row.Method != http.MethodGet {
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
	tc := newTestCluster(t, 3)
	desk := tc.Key(t, cluster.RoleReception, "Desk 1 (Mary Jones)")
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/attendances", `{"complaint":"cut hand"}`, bearerHeader(desk))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var c struct {
		ID        string        `json:"id"`
		CreatedBy cluster.Actor `json:"created_by"`
	}
	decodeJSON(t, b, &c)
	if c.CreatedBy.Name != "Desk 1 (Mary Jones)" || c.CreatedBy.Role != cluster.RoleReception || c.CreatedBy.ID == "" {
		t.Fatalf("created_by %+v", c.CreatedBy)
	}
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/audit?consistency=linearizable&entity=attendance/"+c.ID, "", nil)
		var a struct {
			Events []cluster.AuditEvent `json:"events"`
		}
		decodeJSON(t, b, &a)
		if resp.StatusCode != http.StatusOK || len(a.Events) == 0 || a.Events[0].Actor != c.CreatedBy {
			t.Fatalf("%s: audit %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/whoami", "", bearerHeader(desk))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"role":"reception"`) {
		t.Fatalf("whoami: %d %s", resp.StatusCode, b)
	}
}

// TestKeySecretsNeverReplicated: the admin key file is 0600 and printed
// once; the state holds only hashes (no secret in any list, audit or
// idempotent replay); revoking takes effect at once on every node; the
// last admin key cannot be revoked.
func TestKeySecretsNeverReplicated(t *testing.T) {
	tc := newTestCluster(t, 3)
	st, err := os.Stat(filepath.Join(tc.Nodes[0].Dir, AdminKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key: %v mode %v", err, st.Mode())
	}
	if n := strings.Count(tc.Nodes[0].Out.String(), tc.AdminKey); n != 1 {
		t.Fatalf("admin key printed %d times on the bootstrapping node", n)
	}
	for _, tn := range tc.Nodes[1:] {
		if strings.Contains(tn.Out.String(), tc.AdminKey) {
			t.Fatalf("%s printed the admin key", tn.ID)
		}
		if _, err := os.Stat(filepath.Join(tn.Dir, AdminKeyFile)); err == nil {
			t.Fatalf("%s has an admin.key", tn.ID)
		}
	}
	idem := map[string]string{headerIdempotencyKey: "key-for-nurse"}
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/keys", `{"name":"Nurse Patel","role":"clinician"}`, idem)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var k KeyView
	decodeJSON(t, b, &k)
	if !strings.HasPrefix(k.Key, keySecretPrefix) || k.Role != cluster.RoleClinician {
		t.Fatalf("created %s", b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/keys", `{"name":"Nurse Patel","role":"clinician"}`, idem)
	var replay KeyView
	decodeJSON(t, b, &replay)
	if resp.StatusCode != http.StatusCreated || replay.ID != k.ID || replay.Key != "" {
		t.Fatalf("replay: %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/v1/keys", "/v1/audit?entity=key/" + k.ID} {
		_, b := tc.Do(t, tc.Follower(t), http.MethodGet, path+"&consistency=linearizable", "", nil)
		if bytes.Contains(b, []byte(k.Key)) || bytes.Contains(b, []byte(tc.AdminKey)) || bytes.Contains(b, []byte(cluster.HashKey(k.Key))) {
			t.Fatalf("%s shows a secret or hash: %s", path, b)
		}
	}
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/audit?consistency=linearizable&entity=attendance/x", "", bearerHeader(k.Key))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: new clinician key: %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+k.ID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	// The leader applied the revocation before answering: refused at once.
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/whoami", "", bearerHeader(k.Key))
	expectProblem(t, resp, b, http.StatusUnauthorized, problemUnauthorized, "")
	for _, tn := range tc.Nodes {
		eventually(t, tn.ID+" refuses the revoked key", func() error {
			resp, _ := tc.Do(t, tn, http.MethodGet, "/v1/whoami", "", bearerHeader(k.Key))
			if resp.StatusCode != http.StatusUnauthorized {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+k.ID, "", nil)
	expectProblem(t, resp, b, http.StatusConflict, problemConflict, "")
	// The bootstrap admin key is the only admin: it cannot be revoked.
	_, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/keys", "", nil)
	var l KeyList
	decodeJSON(t, b, &l)
	for _, key := range l.Keys {
		if key.Role == cluster.RoleAdmin {
			resp, b := tc.Do(t, tc.Leader(t), http.MethodDelete, "/v1/keys/"+key.ID, "", nil)
			expectProblem(t, resp, b, http.StatusConflict, problemConflict, "")
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
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, problemInvalid, tt.field)
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("refused key requests moved the raft index %d -> %d", before, after)
	}
}

// TestKeysCommand drives `frontdoor keys create|list|revoke` against a
// one-node cluster, reading the admin key from --data-dir.
func TestKeysCommand(t *testing.T) {
	tc := newTestCluster(t, 1)
	n := tc.Nodes[0]
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--addr", n.HTTPAddr, "--data-dir", n.Dir))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("keys", "create", "--role", "nhs111", "--name", "NHS 111 Castlegate CAS")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	var id, secret string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "id:"); ok {
			id = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "key:"); ok {
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || !strings.HasPrefix(secret, keySecretPrefix) {
		t.Fatalf("create printed %q", out)
	}
	resp, b := tc.Do(t, n, http.MethodGet, "/v1/whoami", "", bearerHeader(secret))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "NHS 111 Castlegate CAS") {
		t.Fatalf("whoami with the new key: %d %s", resp.StatusCode, b)
	}
	out, err = run("keys", "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "nhs111") || !strings.Contains(out, "bootstrap admin") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("list shows a secret:\n%s", out)
	}
	if out, err = run("keys", "revoke", id); err != nil || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	if out, err = run("keys", "create", "--role", "porter", "--name", "X"); err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("bad role: %v\n%s", err, out)
	}
	// Without a key: a clear error, nothing sent.
	cmd := newRootCmd()
	cmd.SetArgs([]string{"keys", "list", "--addr", n.HTTPAddr, "--data-dir", t.TempDir()})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "no admin key") {
		t.Fatalf("no key: %v", err)
	}
}

// TestRoleTableMarkdown: the README's role table (kept in
// /work/notes/roles-table.md for the lead) is generated from routeTable;
// this pins that every keyed row is in it with its roles.
func TestRoleTableMarkdown(t *testing.T) {
	md := routeRoleMarkdown()
	for _, row := range routeTable {
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
		for i, role := range cluster.Roles {
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
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	_, rest, found := strings.Cut(string(readme), roleTableBegin+"\n")
	if !found {
		t.Logf("README.md has no %s block yet: paste /work/notes/roles-table.md (regenerate with FRONTDOOR_WRITE_ROLE_TABLE=<file> go test -run TestRoleTableMarkdown)", roleTableBegin)
		return
	}
	inREADME, _, _ := strings.Cut(rest, roleTableEnd)
	if inREADME != md {
		t.Fatalf("README.md's role table differs from routeTable; regenerate it with FRONTDOOR_WRITE_ROLE_TABLE=<file> go test ./cmd/frontdoor -run TestRoleTableMarkdown and paste it.\nwant:\n%s", md)
	}
}

const (
	roleTableBegin = "<!-- role table: generated from cmd/frontdoor/auth_routes.go; TestRoleTableMarkdown checks it -->"
	roleTableEnd   = "<!-- end of role table -->"
)

// BenchmarkKeyLookup: the per-request key check. "hit" is the common case
// (nothing applied since the last request); "after-write" re-checks the
// access generation with one local point read because the applied index
// moved. Neither touches raft.
func BenchmarkKeyLookup(b *testing.B) {
	tc := newTestCluster(b, 1)
	st := tc.Nodes[0].N.Store()
	kc := newKeyCache(st)
	hash := cluster.HashKey(tc.AdminKey)
	ctx := b.Context()
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := kc.lookup(ctx, hash); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("after-write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			kc.cur.Load().applied = 0 // as if the node had applied a write since
			if _, ok, err := kc.lookup(ctx, hash); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
