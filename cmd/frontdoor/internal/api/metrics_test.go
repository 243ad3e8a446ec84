package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsUseRouteTemplates: /metrics exposes the HTTP histogram with
// the route template as label, never the attendance id, plus the cluster's
// own metrics and the Go/process collectors.
func TestMetricsUseRouteTemplates(t *testing.T) {
	tc := newTestCluster(t, 1)
	tn := tc.Nodes[0]
	resp, body := tc.Do(t, tn, http.MethodPost, "/v1/attendances", adaBody, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var c created
	decodeJSON(t, body, &c)
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

// TestStatusCommand runs `frontdoor status --addr` against a 3-node
// cluster: every node, its role and the leader are printed.
func TestStatusCommand(t *testing.T) {
	tc := newTestCluster(t, 3)
	lead := tc.Leader(t)
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"status", "--addr", tc.Follower(t).HTTPAddr})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "leader:      "+lead.ID) {
		t.Fatalf("status does not name leader %s:\n%s", lead.ID, s)
	}
	for _, tn := range tc.Nodes {
		line := ""
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, tn.ID+" ") {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "voter") || !strings.Contains(line, tn.HTTPAddr) {
			t.Fatalf("status has no proper line for %s:\n%s", tn.ID, s)
		}
		if (tn == lead) != strings.Contains(line, " leader ") {
			t.Fatalf("status line for %s has the wrong role:\n%s", tn.ID, line)
		}
	}
}

// TestStatusCommandUnreachable: a member that is not there is a clear error.
func TestStatusCommandUnreachable(t *testing.T) {
	root := newRootCmd()
	root.SetOut(&bytes.Buffer{})
	root.SetArgs([]string{"status", "--addr", freeAddr(t)})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "status:") {
		t.Fatalf("err = %v, want a status error", err)
	}
}
