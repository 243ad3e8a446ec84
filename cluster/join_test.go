package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/prometheus/client_golang/prometheus"
)

func suffrageOf(st cluster.Status, id string) string {
	for _, n := range st.Nodes {
		if n.ID == id {
			return n.Suffrage
		}
	}
	return ""
}

func TestJoinNeedsTokenThenNonVoterThenVoter(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)

	if fi, err := os.Stat(filepath.Join(leader.Dir, "join.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("join.token: %v, mode %v", err, fi.Mode())
	}
	nd, err := c.AddNode(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not-the-token", c.Token + "x"} {
		if err := c.Join(ctx, nd, bad); !errors.Is(err, cluster.ErrBadJoinToken) {
			t.Fatalf("join with %q: err = %v, want ErrBadJoinToken", bad, err)
		}
	}
	if s := suffrageOf(leader.Store.Status(), "late"); s != "" {
		t.Fatalf("refused node is in the cluster as %q", s)
	}
	// Joining through a follower is the HTTP layer's forwarding; here the
	// store itself says who leads.
	if _, err := nd.Store.Join(ctx, cluster.JoinRequest{ID: "x", RaftAddr: "127.0.0.1:1", Token: c.Token}); !errors.Is(err, cluster.ErrNoLeader) && !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("join on a non-member: %v", err)
	}

	if err := c.Join(ctx, nd, c.Token); err != nil {
		t.Fatalf("join: %v", err)
	}
	if s := suffrageOf(leader.Store.Status(), "late"); s != "nonvoter" {
		t.Fatalf("after join: suffrage %q, want nonvoter", s)
	}
	// The joiner learns the leader's HTTP address from replicated state.
	waitFor(t, ctx, "joiner knows the leader", func() bool {
		li, ok := nd.Store.Leader()
		return ok && li.HTTPAddr == leader.HTTPAddr
	})
	if err := leader.Store.Promote(ctx, "late"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	if s := suffrageOf(leader.Store.Status(), "late"); s != "voter" {
		t.Fatalf("after promote: suffrage %q, want voter", s)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	st := nd.Store.Status()
	if st.Leader == nil || st.Leader.ID != leader.ID || len(st.Nodes) != 2 || st.AppliedIndex == 0 {
		t.Fatalf("joiner status %+v", st)
	}

	// A new id at a known raft address replaces the old server.
	c.Kill(nd)
	replacement := &clustertest.Node{ID: "late2", Dir: filepath.Join(t.TempDir(), "late2"), RaftAddr: nd.RaftAddr, HTTPAddr: "127.0.0.1:18999"}
	if err := c.AddNodeAt(ctx, replacement); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, replacement, c.Token); err != nil {
		t.Fatalf("replacement join: %v", err)
	}
	st = leader.Store.Status()
	if suffrageOf(st, "late") != "" || suffrageOf(st, "late2") != "nonvoter" {
		t.Fatalf("after replacement: %+v", st.Nodes)
	}
	if err := leader.Store.RemoveNode(ctx, "late2"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if s := suffrageOf(leader.Store.Status(), "late2"); s != "" {
		t.Fatalf("removed node still %q", s)
	}
}

func TestLateJoinerCatchesUpFromSnapshot(t *testing.T) {
	tuning := cluster.FastRaftTuning()
	tuning.SnapshotThreshold = 16
	tuning.TrailingLogs = 8
	tuning.SnapshotInterval = 50 * time.Millisecond
	c := clustertest.New(t, 1, clustertest.Options{Raft: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	for i := 0; i < 200; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, leader, "before join", nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "a leader snapshot", func() bool {
		snaps, _ := os.ReadDir(filepath.Join(leader.Dir, "raft", "snapshots"))
		return len(snaps) > 0
	})
	// More entries past the snapshot so the log the joiner needs is gone.
	for i := 0; i < 50; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, leader, "after snapshot", nil); err != nil {
			t.Fatal(err)
		}
	}
	nd, err := c.AddNode(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, nd, c.Token); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if nd.Store.RestoreCount() == 0 {
		t.Fatal("the late joiner did not install a snapshot")
	}
	count := func() error {
		return nd.Store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
			all, err := care.In(v).Attendances(care.AttendanceQuery{})
			if err == nil && len(all) != 250 {
				err = fmt.Errorf("%d attendances, want 250", len(all))
			}
			return err
		})
	}
	if err := count(); err != nil {
		t.Fatal(err)
	}
	// Restarting the joiner opens the restored database (not the empty one
	// it started with) and needs no second restore.
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatal(err)
	}
	if err := count(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if n := nd.Store.RestoreCount(); n != 0 {
		t.Fatalf("restart restored %d snapshots again", n)
	}
}

func TestMetrics(t *testing.T) {
	raftReg := prometheus.NewRegistry()
	if err := cluster.InstallRaftMetrics(raftReg); err != nil {
		t.Fatal(err)
	}
	if err := cluster.InstallRaftMetrics(raftReg); err == nil {
		t.Fatal("second InstallRaftMetrics succeeded; the go-metrics global is process-wide")
	}
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	if _, _, err := clustertest.CreateAttendance(ctx, nd, "metrics", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := clustertest.CreateAttendance(ctx, nd, "", nil); err == nil {
		t.Fatal("empty complaint accepted")
	}

	mfs, err := raftReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var raftNames []string
	found := false
	for _, mf := range mfs {
		raftNames = append(raftNames, mf.GetName())
		if strings.Contains(mf.GetName(), "raft_commitTime") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no raft commitTime metric after a write; have %v", raftNames)
	}

	reg := nd.Registry
	mfs, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		series[mf.GetName()] = len(mf.GetMetric())
	}
	for name, min := range map[string]int{
		"frontdoor_fsm_apply_duration_seconds": 1,
		"frontdoor_fsm_apply_batch_commands":   1,
		"frontdoor_raft_entry_commands":        1,
		"frontdoor_fsm_commands_total":         1,
		"frontdoor_fsm_applied_index":          1,
		"frontdoor_badger_lsm_size_bytes":      1,
		"frontdoor_badger_vlog_size_bytes":     1,
	} {
		if series[name] < min {
			t.Errorf("%s: %d series", name, series[name])
		}
	}
	var ok, failed float64
	for _, mf := range mfs {
		if mf.GetName() != "frontdoor_fsm_commands_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == string(care.KindAttendanceCreate) {
				switch labels["result"] {
				case "ok":
					ok += m.GetCounter().GetValue()
				case "error":
					failed += m.GetCounter().GetValue()
				}
			}
		}
	}
	if ok != 1 || failed != 1 {
		t.Fatalf("attendance.create ok=%v error=%v, want 1 and 1", ok, failed)
	}
	for _, mf := range mfs {
		if mf.GetName() == "frontdoor_fsm_applied_index" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != float64(nd.Store.AppliedIndex()) {
				t.Fatalf("applied index gauge %v, store %d", v, nd.Store.AppliedIndex())
			}
		}
	}
}
