package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestRecoverFromLostQuorum: a 3-node cluster takes writes, two nodes are
// lost for good (killed, data dirs deleted), `frontdoor recover` rebuilds
// a one-node cluster from the survivor, which then leads, holds every
// acknowledged write, takes new ones, drops the dead members from its
// registry, and lets a new member join with the cluster's token.
func TestRecoverFromLostQuorum(t *testing.T) {
	// The nodes encrypt at rest: recover opens the log, snapshots and
	// state with the key, as serve does.
	keyFile := filepath.Join(t.TempDir(), "cluster.key")
	key, _, err := cluster.EnsureKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tc := nodetest.NewWith(t, 3, func(c *node.Config) { c.EncryptionKey = key })
	var a acked
	a.write(t, tc, tc.Leader(t), "quorum", 15)
	a.write(t, tc, tc.Follower(t), "follower", 5)
	survivor := tc.Nodes[0]
	tc.WaitCaughtUp(t, survivor)

	// A running node is refused: its state store is locked.
	if out, err := runCLI(t, "", "recover", "--data-dir", survivor.Dir); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("recover on a running node: %v\n%s", err, out)
	}

	for _, i := range []int{1, 2} {
		tc.Kill(t, i)
		if err := os.RemoveAll(tc.Nodes[i].Dir); err != nil {
			t.Fatal(err)
		}
	}
	tc.Kill(t, 0)

	if out, err := runCLI(t, "", "recover", "--data-dir", survivor.Dir); err == nil || !strings.Contains(err.Error(), "encryption-key-file") {
		t.Fatalf("recover without the key: %v\n%s", err, out)
	}
	out, err := runCLI(t, "", "recover", "--data-dir", survivor.Dir, "--encryption-key-file", keyFile)
	if err != nil {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	t.Logf("recover:\n%s", out)
	for _, dead := range []string{tc.Nodes[1].ID, tc.Nodes[2].ID} {
		if !strings.Contains(out, "/v1/cluster/nodes/"+dead) {
			t.Errorf("recover does not name the dead member %s:\n%s", dead, out)
		}
	}

	tc.Start(t, 0)
	tc.WaitReady(t)
	if l := tc.Leader(t); l != survivor {
		t.Fatalf("leader %s, want the survivor", l.ID)
	}
	a.check(t, tc)
	var later acked
	later.write(t, tc, survivor, "later", 3)

	for _, dead := range []string{tc.Nodes[1].ID, tc.Nodes[2].ID} {
		resp, b := tc.Do(t, survivor, http.MethodDelete, "/v1/cluster/nodes/"+dead, "", nodetest.BearerHeader(tc.Token))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("remove %s: %d %s", dead, resp.StatusCode, b)
		}
	}
	var cv api.ClusterView
	_, b := tc.Do(t, survivor, http.MethodGet, "/v1/cluster", "", nil)
	nodetest.DecodeJSON(t, b, &cv)
	if len(cv.Nodes) != 1 || cv.Nodes[0].ID != survivor.ID {
		t.Fatalf("members after recovery and removal: %s", b)
	}

	// A new member joins as usual.
	tc.Nodes[1].Dir = filepath.Join(t.TempDir(), "new-member")
	tc.Start(t, 1)
	tc.WaitVoters(t, 2)
	tc.WaitCaughtUp(t, tc.Nodes[1])
	a.check(t, tc)
	later.check(t, tc)
}
