package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestStatusCommand runs `frontdoor status --addr` against a 3-node
// cluster: every node, its role and the leader are printed.
func TestStatusCommand(t *testing.T) {
	tc := nodetest.New(t, 3)
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
	root.SetArgs([]string{"status", "--addr", nodetest.FreeAddr(t)})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "status:") {
		t.Fatalf("err = %v, want a status error", err)
	}
}
