package cluster_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// TestRecoverCommitsTheSurvivorsWholeLog is what README says of `frontdoor
// recover`: raft's RecoverCluster commits everything in the survivor's
// log, so a write the old leader appended but never got acknowledged by a
// majority (its followers were gone) takes effect after recovery, beside
// every acknowledged one. The leader lease is long enough that the leader
// still appends the write after its followers die.
func TestRecoverCommitsTheSurvivorsWholeLog(t *testing.T) {
	tuning := cluster.FastRaftTuning()
	tuning.HeartbeatTimeout, tuning.ElectionTimeout, tuning.LeaderLeaseTimeout = time.Second, time.Second, time.Second
	c := clustertest.New(t, 3, clustertest.Options{Raft: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	acked, _, err := clustertest.CreateAttendance(ctx, leader, "acknowledged before the loss", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Nodes {
		if nd != leader {
			c.Kill(nd)
		}
	}
	last := leader.Store.Status().LastIndex
	pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = clustertest.CreateAttendance(pctx, leader, "never acknowledged", nil)
	pcancel()
	if err == nil {
		t.Fatal("a write with two of three nodes gone was acknowledged")
	}
	if got := leader.Store.Status().LastIndex; got <= last {
		t.Fatalf("the leader did not append the write (last index %d -> %d): %v", last, got, err)
	}
	c.Kill(leader)

	cfg := c.Config(leader)
	cfg.Registerer = nil
	info, err := cluster.Recover(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.RaftAddr != leader.RaftAddr || len(info.Others) != 2 || info.LastIndex <= last {
		t.Fatalf("recover: %+v (last index before the write %d)", info, last)
	}
	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if l := c.Leader(ctx); l != leader {
		t.Fatalf("leader after recovery: %v", l)
	}
	var state []byte
	if err := leader.Store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		return v.Scan("a/", "", func(_ string, val []byte) error {
			state = append(state, val...)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{acked.ID, "never acknowledged"} {
		if !bytes.Contains(state, []byte(want)) {
			t.Errorf("after recovery the state lacks %q", want)
		}
	}
	if _, _, err := clustertest.CreateAttendance(ctx, leader, "after recovery", nil); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
}
