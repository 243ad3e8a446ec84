package main

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
	tn := tc.nodes[0]
	resp, body := tc.do(t, tn, http.MethodPost, "/v1/attendances", adaBody, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var c created
	decodeJSON(t, body, &c)
	tc.do(t, tn, http.MethodGet, "/v1/attendances/"+c.ID, "", nil)
	tc.do(t, tn, http.MethodGet, "/no/such/route/"+c.ID, "", nil)
	resp, body = tc.do(t, tn, http.MethodGet, "/metrics", "", nil)
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
	lead := tc.leader(t)
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"status", "--addr", tc.follower(t).httpAddr})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "leader:      "+lead.id) {
		t.Fatalf("status does not name leader %s:\n%s", lead.id, s)
	}
	for _, tn := range tc.nodes {
		line := ""
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, tn.id+" ") {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "voter") || !strings.Contains(line, tn.httpAddr) {
			t.Fatalf("status has no proper line for %s:\n%s", tn.id, s)
		}
		if (tn == lead) != strings.Contains(line, " leader ") {
			t.Fatalf("status line for %s has the wrong role:\n%s", tn.id, line)
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
