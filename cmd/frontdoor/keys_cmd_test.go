package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestKeysCommand drives `frontdoor keys create|list|revoke` against a
// one-node cluster, reading the admin key from --data-dir.
func TestKeysCommand(t *testing.T) {
	tc := nodetest.New(t, 1)
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
	if id == "" || !strings.HasPrefix(secret, "fdk_") { // fdk_: the API key prefix
		t.Fatalf("create printed %q", out)
	}
	resp, b := tc.Do(t, n, http.MethodGet, "/v1/whoami", "", nodetest.BearerHeader(secret))
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

// TestKeysCommandShowsTheScope: `frontdoor keys create --service` makes a
// responder key scoped to one team, and `frontdoor keys list` shows each
// key's scope ("any team" for an unscoped responder key). The API side of
// scoped keys is TestScopedResponderKeyDispatch (internal/api).
func TestKeysCommandShowsTheScope(t *testing.T) {
	tc := nodetest.New(t, 1)
	n := tc.Leader(t)
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/keys", `{"name":"UCR North crew","role":"responder","service_id":"ucr-north"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create ucr-north key: %d %s", resp.StatusCode, b)
	}
	tc.Key(t, access.RoleResponder, "On-call responder")
	run := func(args ...string) string {
		t.Helper()
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(append(args, "--addr", n.HTTPAddr, "--data-dir", n.Dir))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := run("keys", "create", "--role", "responder", "--name", "UCR North", "--service", "ucr-north"); !strings.Contains(out, "service: ucr-north") {
		t.Fatalf("keys create --service printed:\n%s", out)
	}
	if out := run("keys", "create", "--role", "clinician", "--name", "Market pharmacist", "--service", "ph-market"); !strings.Contains(out, "service: ph-market") {
		t.Fatalf("keys create --service for a clinician printed:\n%s", out)
	}
	out := run("keys", "list")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "On-call responder") && !strings.Contains(line, "any team") ||
			strings.Contains(line, "UCR North") && !strings.Contains(line, "ucr-north") ||
			strings.Contains(line, "Market pharmacist") && !strings.Contains(line, "ph-market") {
			t.Fatalf("keys list line %q:\n%s", line, out)
		}
	}
}
