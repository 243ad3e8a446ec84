package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// TestScopedResponderKeyDispatch: POST /v1/keys takes a service_id for a
// responder key (422 naming service_id when it is not a rapid_response team
// of the directory, or the key is not a responder's, and nothing is
// proposed); GET /v1/keys and `frontdoor keys list` show the scope; a key
// scoped to another team gets 403 on the dispatch, the team's own key
// accepts it.
func TestScopedResponderKeyDispatch(t *testing.T) {
	clk := &testClock{}
	tc := newTestClusterWith(t, 1, func(cfg *Config) {
		cfg.Clock = clk.Now
		cfg.Dispatch = cluster.DispatchConfig{Notifier: fastNotifier(), Poll: 200 * time.Millisecond,
			LeaderPoll: 50 * time.Millisecond, EscalateRetry: 300 * time.Millisecond, Now: clk.Now}
	})
	pointTeamsAt(t, tc, newWebhookReceiver(t), false)
	n := tc.Leader(t)

	before := n.N.Store().Status().LastIndex
	for _, body := range []string{
		`{"name":"UCR West","role":"responder","service_id":"ucr-west"}`,
		`{"name":"Market pharmacy","role":"responder","service_id":"ph-market"}`,
		`{"name":"Desk 1","role":"reception","service_id":"ucr-north"}`,
	} {
		resp, b := tc.Do(t, n, http.MethodPost, "/v1/keys", body, nil)
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, problemInvalid, "service_id")
	}
	if after := n.N.Store().Status().LastIndex; after != before {
		t.Fatalf("refused key requests moved the raft index %d -> %d", before, after)
	}

	scoped := func(name, service string) map[string]string {
		t.Helper()
		resp, b := tc.Do(t, n, http.MethodPost, "/v1/keys", fmt.Sprintf(`{"name":%q,"role":"responder","service_id":%q}`, name, service), nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s key: %d %s", service, resp.StatusCode, b)
		}
		var k KeyView
		decodeJSON(t, b, &k)
		if k.ServiceID != service || k.Key == "" {
			t.Fatalf("created key %s", b)
		}
		return bearerHeader(k.Key)
	}
	north, south := scoped("UCR North crew", "ucr-north"), scoped("UCR South crew", "ucr-south")
	tc.Key(t, cluster.RoleResponder, "On-call responder")

	var l KeyList
	_, b := tc.Do(t, n, http.MethodGet, "/v1/keys", "", nil)
	decodeJSON(t, b, &l)
	scopes := map[string]string{}
	for _, k := range l.Keys {
		scopes[k.Name] = k.ServiceID
	}
	if scopes["UCR North crew"] != "ucr-north" || scopes["UCR South crew"] != "ucr-south" || scopes["On-call responder"] != "" {
		t.Fatalf("GET /v1/keys scopes %v: %s", scopes, b)
	}
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
	out := run("keys", "list")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "On-call responder") && !strings.Contains(line, "any team") ||
			strings.Contains(line, "UCR North") && !strings.Contains(line, "ucr-north") {
			t.Fatalf("keys list line %q:\n%s", line, out)
		}
	}

	att := referFall(t, tc, n, nil)
	id := att + "-d1"
	if d := getDispatchView(t, tc, n, id); d.ServiceID != "ucr-north" {
		t.Fatalf("dispatch to %s, want ucr-north", d.ServiceID)
	}
	accept := fmt.Sprintf(`{"eta":%q}`, clk.Now().Add(40*time.Minute).UTC().Format(time.RFC3339))
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/dispatches/"+id+"/accept", accept, south)
	expectProblem(t, resp, b, http.StatusForbidden, problemForbidden, "")
	if d := getDispatchView(t, tc, n, id); d.AcceptedBy != nil {
		t.Fatalf("another team's key accepted the dispatch: %+v", d.AcceptedBy)
	}
	if resp, b := tc.Do(t, n, http.MethodPost, "/v1/dispatches/"+id+"/accept", accept, north); resp.StatusCode != http.StatusOK {
		t.Fatalf("own team's accept: %d %s", resp.StatusCode, b)
	}
}
