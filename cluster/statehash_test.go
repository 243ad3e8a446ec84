package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// TestCheckpointsAgreeAcrossMembers: members that applied the same log
// report the same state hash at every checkpoint they share, and the chain
// moves (it is not the empty hash).
func TestCheckpointsAgreeAcrossMembers(t *testing.T) {
	tuning := cluster.FastRaftTuning()
	tuning.CheckpointEvery = 4
	c := clustertest.New(t, 3, clustertest.Options{Raft: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 20; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, c.Leader(ctx), "checkpoint", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	byIndex := map[uint64]map[string]string{}
	for _, nd := range c.Nodes {
		cks := nd.Store.Checkpoints()
		if len(cks) < 3 {
			t.Fatalf("%s has %d checkpoints", nd.ID, len(cks))
		}
		for _, ck := range cks {
			if byIndex[ck.Index] == nil {
				byIndex[ck.Index] = map[string]string{}
			}
			byIndex[ck.Index][nd.ID] = ck.Hash
		}
	}
	seen := map[string]bool{}
	for idx, hashes := range byIndex {
		var first string
		for id, h := range hashes {
			if first == "" {
				first = h
			}
			if h != first {
				t.Errorf("index %d: %s has %.12s, others %.12s", idx, id, h, first)
			}
			seen[h] = true
		}
	}
	if len(seen) < 2 {
		t.Fatalf("the state hash does not move: %v", seen)
	}
}
