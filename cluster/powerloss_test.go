package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
)

// TestPowerLossLosesNothing simulates a power cut, which kill -9 cannot
// (the page cache survives a killed process): the state store (Badger) is
// put back to a copy taken at its last sync point — here the clean close
// before the second half of the writes — while the raft log keeps every
// entry it acknowledged (raft-boltdb fsyncs each append). On restart the
// node must reach the state of replaying its whole log: every
// acknowledged write present, nothing applied twice.
func TestPowerLossLosesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func() (*cluster.Store, raft.Transport) {
		t.Helper()
		_, trans := raft.NewInmemTransport(raft.ServerAddress("mem"))
		s, err := cluster.New(cluster.Config{NodeID: "solo", Dir: dir, Transport: trans,
			Logger: clustertest.Logger(), Raft: cluster.FastRaftTuning(), Commands: clinic.Commands()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		return s, trans
	}
	write := func(s *cluster.Store, from, n int) []string {
		t.Helper()
		var ids []string
		for i := from; i < from+n; i++ {
			res, err := s.Propose(ctx, cluster.Proposal{Kind: care.KindAttendanceCreate, Actor: cluster.Actor{ID: "t", Role: "reception"},
				Payload: []byte(fmt.Sprintf(`{"complaint":"cough %d"}`, i))})
			if err != nil || res.Err != nil {
				t.Fatalf("write %d: %v %v", i, err, res)
			}
			ids = append(ids, string(res.Value))
		}
		return ids
	}
	s, _ := open()
	if _, err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	write(s, 0, 40)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	synced := filepath.Join(t.TempDir(), "fsm")
	if out, err := exec.Command("cp", "-a", filepath.Join(dir, "fsm"), synced).CombinedOutput(); err != nil {
		t.Fatalf("copy the state at its sync point: %v %s", err, out)
	}

	s, _ = open()
	waitLeader(t, ctx, s)
	write(s, 40, 60)
	acked := s.AppliedIndex()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	// The power cut: whatever the state store wrote after its last sync is gone.
	if err := os.RemoveAll(filepath.Join(dir, "fsm")); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", synced, filepath.Join(dir, "fsm")).CombinedOutput(); err != nil {
		t.Fatalf("restore the synced copy: %v %s", err, out)
	}

	s, _ = open()
	waitLeader(t, ctx, s)
	if err := s.WaitApplied(ctx, acked); err != nil {
		t.Fatalf("the restarted node did not catch up to %d: %v", acked, err)
	}
	var n int
	if err := s.Read(ctx, cluster.ConsistencyLeader, func(v *cluster.View) error {
		list, err := care.In(v).Attendances(care.AttendanceQuery{})
		n = len(list)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("%d attendances after the power cut, want the 100 acknowledged", n)
	}
	got, at, err := s.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The same log replayed into an empty state machine gives the same state.
	want := replayRaftLog(t, filepath.Join(dir, "raft", "raft.db"), at)
	if got != want {
		t.Fatalf("state after the power cut %s differs from the log replayed %s (at %d)", got, want, at)
	}
}

func waitLeader(t *testing.T, ctx context.Context, s *cluster.Store) {
	t.Helper()
	for !s.IsLeader() {
		select {
		case <-ctx.Done():
			t.Fatal("no leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// replayRaftLog applies entries 1..upto of a raft-boltdb log to an empty
// replica and returns its state hash.
func replayRaftLog(t *testing.T, path string, upto uint64) string {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs []*raft.Log
	for i := uint64(1); i <= upto; i++ {
		l := new(raft.Log)
		if err := store.GetLog(i, l); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		logs = append(logs, l)
	}
	f := fsmtest.Open(t, clinic.Commands())
	fsmtest.ApplyInBatches(f, logs, 32)
	if f.FatalCount() != 0 {
		t.Fatalf("replay stopped: %v", f.Fatals())
	}
	h, idx := fsmtest.MustHash(t, f)
	if idx != upto {
		t.Fatalf("replayed to %d, want %d", idx, upto)
	}
	return h
}
