package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestMetricsUseRouteTemplates: /metrics exposes the HTTP histogram with
// the route template as label, never the attendance id, plus the cluster's
// own metrics and the Go/process collectors.
func TestMetricsUseRouteTemplates(t *testing.T) {
	tc := nodetest.New(t, 1)
	tn := tc.Nodes[0]
	resp, body := tc.Do(t, tn, http.MethodPost, "/v1/attendances", adaBody, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var c created
	nodetest.DecodeJSON(t, body, &c)
	tc.Do(t, tn, http.MethodGet, "/v1/attendances/"+c.ID, "", nil)
	tc.Do(t, tn, http.MethodGet, "/no/such/route/"+c.ID, "", nil)
	resp, body = tc.Do(t, tn, http.MethodGet, "/metrics", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	m := string(body)
	for _, want := range []string{
		`frontdoor_http_request_duration_seconds_count{code="201",method="POST",route="/v1/attendances"} 1`,
		`frontdoor_http_request_duration_seconds_count{code="200",method="GET",route="/v1/attendances/:id"} 1`,
		`frontdoor_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
		"go_goroutines", "process_open_fds", "go_build_info",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(m, c.ID) {
		t.Errorf("/metrics contains the attendance id %s", c.ID)
	}
	if !strings.Contains(m, "frontdoor_fsm_") {
		t.Errorf("/metrics lacks the cluster's frontdoor_fsm_* metrics")
	}
}
