package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// corruptStateHash changes a stopped node's state in place, as a flipped
// byte in its state store would: the running state hash it keeps.
func corruptStateHash(t *testing.T, dataDir string) {
	t.Helper()
	cur, err := os.ReadFile(filepath.Join(dataDir, "fsm", "CURRENT"))
	gen := 0
	if err == nil {
		fmt.Sscanf(strings.TrimSpace(string(cur)), "%d", &gen)
	}
	db, err := badger.Open(cluster.BadgerOptions(filepath.Join(dataDir, "fsm", fmt.Sprintf("db-%06d", gen)), slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	var junk [32]byte
	rand.Read(junk[:])
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("m/hash"), junk[:]) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptedLeaderLosesToTheMajority: the leader's state store is
// changed under it; once the next checkpoint passes, the members compare
// state hashes, the leader finds itself in the minority, names the index,
// stops (not ready, raft off) and the other two go on taking writes.
func TestCorruptedLeaderLosesToTheMajority(t *testing.T) {
	tc := nodetest.NewWith(t, 3, func(c *node.Config) { c.RaftTuning.CheckpointEvery = 8 })
	victim := tc.Leader(t)
	tc.Stop(t, victim.Index)
	corruptStateHash(t, victim.Dir)
	tc.Start(t, victim.Index)
	tc.WaitCaughtUp(t, victim)
	// Make the corrupted node the leader again.
	nodetest.Eventually(t, "the corrupted node leads", func() error {
		l := tc.Leader(t)
		if l == victim {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.N.Store().StepDown(ctx)
		return fmt.Errorf("%s leads", l.ID)
	})
	// Writes carry the cluster past the next checkpoints.
	for i := range 24 {
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/keys", fmt.Sprintf(`{"name":"writer %d","role":"reception"}`, i), nil)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("write %d: %d %s", i, resp.StatusCode, b)
		}
	}
	nodetest.Eventually(t, "the corrupted node quarantines itself", func() error {
		if q := victim.N.Store().Quarantined(); q == "" {
			return fmt.Errorf("not quarantined")
		}
		return nil
	})
	q := victim.N.Store().Quarantined()
	if !strings.Contains(q, "index") {
		t.Fatalf("quarantine does not name the index: %q", q)
	}
	for _, tn := range tc.Nodes {
		if tn != victim && tn.N.Store().Quarantined() != "" {
			t.Fatalf("%s of the majority quarantined: %s", tn.ID, tn.N.Store().Quarantined())
		}
	}
	// The corrupted node is not ready and says why on /v1/cluster/self.
	resp, b := tc.Do(t, victim, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "quarantined") {
		t.Fatalf("quarantined node /readyz: %d %s", resp.StatusCode, b)
	}
	_, b = tc.Do(t, victim, http.MethodGet, "/v1/cluster/self", "", nil)
	var self api.NodeFigures
	if err := json.Unmarshal(b, &self); err != nil || !strings.Contains(self.Fatal, "quarantined") {
		t.Fatalf("self figures: %s (%v)", b, err)
	}
	// The majority leads and takes writes.
	var leader *nodetest.Node
	nodetest.Eventually(t, "a leader among the majority", func() error {
		for _, tn := range tc.Nodes {
			if tn != victim && tn.N.Store().IsLeader() {
				leader = tn
				return nil
			}
		}
		return fmt.Errorf("no leader")
	})
	resp, b = tc.DoRetry(t, leader, http.MethodPost, "/v1/keys", `{"name":"after","role":"reception"}`, nil)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("write after quarantine: %d %s", resp.StatusCode, b)
	}
	if victim.N.Store().IsLeader() {
		t.Fatal("the quarantined node leads")
	}
}
