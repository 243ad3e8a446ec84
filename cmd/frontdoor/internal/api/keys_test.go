package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestScopedResponderKeyDispatch: POST /v1/keys takes a service_id for a
// responder key (422 naming service_id when it is not a rapid_response team
// of the directory, or the key's role cannot be scoped, or a reception
// key's service is not in the directory, and nothing is proposed); GET /v1/keys shows the scope (`frontdoor keys list` too:
// TestKeysCommandShowsTheScope in cmd/frontdoor); a key
// scoped to another team gets 403 on the dispatch, the team's own key
// accepts it.
func TestScopedResponderKeyDispatch(t *testing.T) {
	clk := &testClock{}
	tc := nodetest.NewWith(t, 1, func(cfg *node.Config) {
		cfg.Clock = clk.Now
		cfg.Dispatch = care.DispatchConfig{Notifier: fastNotifier(), Poll: 200 * time.Millisecond,
			LeaderPoll: 50 * time.Millisecond, EscalateRetry: 300 * time.Millisecond, Now: clk.Now}
	})
	pointTeamsAt(t, tc, newWebhookReceiver(t), false)
	n := tc.Leader(t)

	before := n.N.Store().Status().LastIndex
	for _, body := range []string{
		`{"name":"UCR West","role":"responder","service_id":"ucr-west"}`,
		`{"name":"Market pharmacy","role":"responder","service_id":"ph-market"}`,
		`{"name":"NHS 111 line","role":"nhs111","service_id":"ucr-north"}`,
		`{"name":"Desk 1","role":"reception","service_id":"nowhere"}`,
	} {
		resp, b := tc.Do(t, n, http.MethodPost, "/v1/keys", body, nil)
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "service_id")
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
		var k api.KeyView
		nodetest.DecodeJSON(t, b, &k)
		if k.ServiceID != service || k.Key == "" {
			t.Fatalf("created key %s", b)
		}
		return nodetest.BearerHeader(k.Key)
	}
	north, south := scoped("UCR North crew", "ucr-north"), scoped("UCR South crew", "ucr-south")
	tc.Key(t, access.RoleResponder, "On-call responder")

	var l api.KeyList
	_, b := tc.Do(t, n, http.MethodGet, "/v1/keys", "", nil)
	nodetest.DecodeJSON(t, b, &l)
	scopes := map[string]string{}
	for _, k := range l.Keys {
		scopes[k.Name] = k.ServiceID
	}
	if scopes["UCR North crew"] != "ucr-north" || scopes["UCR South crew"] != "ucr-south" || scopes["On-call responder"] != "" {
		t.Fatalf("GET /v1/keys scopes %v: %s", scopes, b)
	}
	att := referFall(t, tc, n, nil)
	id := att + "-d1"
	if d := getDispatchView(t, tc, n, id); d.ServiceID != "ucr-north" {
		t.Fatalf("dispatch to %s, want ucr-north", d.ServiceID)
	}
	accept := fmt.Sprintf(`{"eta":%q}`, clk.Now().Add(40*time.Minute).UTC().Format(time.RFC3339))
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/dispatches/"+id+"/accept", accept, south)
	expectProblem(t, resp, b, http.StatusForbidden, api.ProblemForbidden, "")
	if d := getDispatchView(t, tc, n, id); d.AcceptedBy != nil {
		t.Fatalf("another team's key accepted the dispatch: %+v", d.AcceptedBy)
	}
	if resp, b := tc.Do(t, n, http.MethodPost, "/v1/dispatches/"+id+"/accept", accept, north); resp.StatusCode != http.StatusOK {
		t.Fatalf("own team's accept: %d %s", resp.StatusCode, b)
	}
}
