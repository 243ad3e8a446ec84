package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// goodSecret is a whsec_ secret of 32 bytes.
const goodSecret = "whsec_c2FmZS13ZWJob29rLXNlY3JldC0zMi1ieXRlcy0hIQ=="

// webhookRouteSamples are the allow-list routes' sample requests for the
// role test.
func webhookRouteSamples(*testing.T, *nodetest.Cluster) map[string]sampleFunc {
	return map[string]sampleFunc{
		"GET /v1/webhooks/allow-list": func(*testing.T) (string, string) { return "/v1/webhooks/allow-list", "" },
		"PUT /v1/webhooks/allow-list": func(*testing.T) (string, string) {
			return "/v1/webhooks/allow-list", `{"hosts":["receiver.trust.example"],"cidrs":["10.20.0.0/16"]}`
		},
	}
}

// teamWith is the demo team ucr-north as GET returns it, with its webhook
// replaced.
func teamWith(t *testing.T, tc *nodetest.Cluster, url, secret string) string {
	t.Helper()
	_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ucr-north", "", nil)
	var svc routing.Service
	nodetest.DecodeJSON(t, b, &svc)
	svc.Webhook = &routing.Webhook{URL: url, Secret: secret}
	out, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestWebhookRulesWhenSet: PUT /v1/services refuses a webhook outside the
// rules with a 422 naming webhook.url or webhook.secret, on the leader and
// through a follower, and the raft index does not move; the allow-list is
// admin's, audited, and what it lists is then accepted, except link-local
// and metadata addresses, which never are.
func TestWebhookRulesWhenSet(t *testing.T) {
	tc := nodetest.New(t, 3)
	tests := []struct {
		name, url, secret, field string
	}{
		{"file scheme", "file:///etc/passwd", goodSecret, "webhook.url"},
		{"gopher scheme", "gopher://receiver.trust.example:70/_x", goodSecret, "webhook.url"},
		{"not a url", "not a url", goodSecret, "webhook.url"},
		{"http to another host", "http://receiver.trust.example/hook", goodSecret, "webhook.url"},
		{"metadata address", "https://169.254.169.254/latest/meta-data/", goodSecret, "webhook.url"},
		{"metadata over http", "http://169.254.169.254/latest/meta-data/", goodSecret, "webhook.url"},
		{"IPv6 metadata address", "https://[fd00:ec2::254]/", goodSecret, "webhook.url"},
		{"IPv6 link-local", "https://[fe80::1]/hook", goodSecret, "webhook.url"},
		{"unlisted private address", "https://10.1.2.3/hook", goodSecret, "webhook.url"},
		{"unlisted host", "https://receiver.trust.example/hook", goodSecret, "webhook.url"},
		{"empty secret", "http://127.0.0.1:9/hook", "", "webhook.secret"},
		{"one-letter secret", "http://127.0.0.1:9/hook", "a", "webhook.secret"},
		{"short whsec secret", "http://127.0.0.1:9/hook", "whsec_c2hvcnQ=", "webhook.secret"},
		{"secret not base64", "http://127.0.0.1:9/hook", "whsec_!!!", "webhook.secret"},
	}
	bad := []struct{ name, body, field string }{
		{"allow-list: link-local range", `{"hosts":[],"cidrs":["169.254.0.0/16"]}`, "cidrs[0]"},
		{"allow-list: metadata address", `{"hosts":[],"cidrs":["10.0.0.0/8","169.254.169.254"]}`, "cidrs[1]"},
		{"allow-list: not a cidr", `{"hosts":[],"cidrs":["ten"]}`, "cidrs[0]"},
		{"allow-list: bad host", `{"hosts":["Receiver.example/x"],"cidrs":[]}`, "hosts[0]"},
	}
	before := tc.Leader(t).N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
		for _, tt := range tests {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, tt.url, tt.secret), nil)
				expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, tt.field)
			})
		}
		for _, tt := range bad {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, http.MethodPut, "/v1/webhooks/allow-list", tt.body, nil)
				expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, tt.field)
			})
		}
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d on refused webhooks", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("state hash changed on refused webhooks:\n%s\n%s", hashBefore, after)
	}

	// Only admin manages the list.
	desk := tc.Key(t, access.RoleReception, "Desk")
	if resp, b := tc.Do(t, tc.Follower(t), http.MethodPut, "/v1/webhooks/allow-list", `{"hosts":["x.example"],"cidrs":[]}`, nodetest.BearerHeader(desk)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("reception set the allow-list: %d %s", resp.StatusCode, b)
	}
	list := `{"hosts":["receiver.trust.example","*.ucr.example"],"cidrs":["10.20.0.0/16","169.0.0.0/8"]}`
	if resp, b := tc.Do(t, tc.Follower(t), http.MethodPut, "/v1/webhooks/allow-list", list, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("allow-list: %d %s", resp.StatusCode, b)
	}
	for _, tn := range tc.Nodes {
		_, b := tc.Do(t, tn, http.MethodGet, "/v1/webhooks/allow-list?consistency=linearizable", "", nil)
		var got routing.WebhookAllowList
		nodetest.DecodeJSON(t, b, &got)
		if strings.Join(got.Hosts, ",") != "*.ucr.example,receiver.trust.example" || strings.Join(got.CIDRs, ",") != "10.20.0.0/16,169.0.0.0/8" {
			t.Fatalf("%s: allow-list %s", tn.ID, b)
		}
	}
	clin := tc.Key(t, access.RoleClinician, "Dr Audit")
	if resp, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=webhooks/allow-list", "", nodetest.BearerHeader(clin)); resp.StatusCode != http.StatusOK ||
		!strings.Contains(string(b), `"webhook.allowlist"`) || !strings.Contains(string(b), "receiver.trust.example") {
		t.Fatalf("allow-list audit: %d %s", resp.StatusCode, b)
	}
	for _, tt := range []struct {
		name, url string
		status    int
	}{
		{"listed host", "https://receiver.trust.example/hook", 200},
		{"host under a listed suffix", "https://north.ucr.example/hook", 200},
		{"listed private address", "https://10.20.3.4:8443/hook", 200},
		{"private address outside the listed range", "https://10.21.3.4/hook", 422},
		{"metadata address, though 169.0.0.0/8 is listed", "https://169.254.169.254/latest/meta-data/", 422},
		{"link-local, though 169.0.0.0/8 is listed", "https://169.254.10.10/hook", 422},
	} {
		t.Run("listed: "+tt.name, func(t *testing.T) {
			resp, b := tc.Do(t, tc.Follower(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, tt.url, goodSecret), nil)
			if tt.status == 422 {
				expectProblem(t, resp, b, 422, api.ProblemInvalid, "webhook.url")
				return
			}
			if resp.StatusCode != tt.status || strings.Contains(string(b), goodSecret) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
		})
	}
	// The stored secret is kept when a PUT sends the same URL and no secret.
	if resp, b := tc.Do(t, tc.Leader(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, "https://10.20.3.4:8443/hook", ""), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("same url, no secret: %d %s", resp.StatusCode, b)
	}
}

// TestWebhookHTTPNeedsTheDevelopmentFlag: without serve
// --webhook-dev-loopback a node refuses http (and loopback) webhook URLs
// (422, nothing proposed); nodetest's nodes have the flag, so the same URL
// is accepted there (the dispatch tests' receivers).
func TestWebhookHTTPNeedsTheDevelopmentFlag(t *testing.T) {
	tc := nodetest.NewWith(t, 1, func(cfg *node.Config) { cfg.WebhookDevLoopback = false })
	before := tc.Leader(t).N.Store().Status().LastIndex
	for _, u := range []string{"http://127.0.0.1:9/hook", "https://127.0.0.1:9/hook", "http://localhost:9/hook"} {
		resp, b := tc.Do(t, tc.Leader(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, u, goodSecret), nil)
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "webhook.url")
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d", before, after)
	}
	// Listing loopback makes https to it a listed destination.
	if resp, b := tc.Do(t, tc.Leader(t), http.MethodPut, "/v1/webhooks/allow-list", `{"hosts":[],"cidrs":["127.0.0.1/32"]}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("allow-list: %d %s", resp.StatusCode, b)
	}
	if resp, b := tc.Do(t, tc.Leader(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, "https://127.0.0.1:9/hook", goodSecret), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("listed loopback over https: %d %s", resp.StatusCode, b)
	}
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, tc, "http://127.0.0.1:9/hook", goodSecret), nil)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "webhook.url")

	dev := nodetest.New(t, 1)
	if resp, b := dev.Do(t, dev.Leader(t), http.MethodPut, "/v1/services/ucr-north", teamWith(t, dev, "http://127.0.0.1:9/hook", goodSecret), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the flag: %d %s", resp.StatusCode, b)
	}
}
