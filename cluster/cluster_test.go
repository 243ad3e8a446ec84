package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/hashicorp/raft"
)

func TestSingleNodeCreateAndRead(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	a, res, err := clustertest.CreateAttendance(ctx, nd, "sore throat", nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if a.Status != care.AttendanceArrived || a.Channel != care.ChannelWalkIn || a.CreatedIndex != res.Index {
		t.Fatalf("attendance = %+v, result index %d", a, res.Index)
	}
	err = nd.Store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		got, err := care.In(v).Attendance(a.ID)
		if err != nil {
			return err
		}
		if got.Complaint != "sore throat" || !got.ArrivedAt.Equal(a.ArrivedAt) {
			t.Errorf("read back %+v", got)
		}
		list, err := care.In(v).Attendances(care.AttendanceQuery{Status: care.AttendanceArrived})
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].ID != a.ID {
			t.Errorf("list = %v", list)
		}
		audit, err := v.Audit("attendance/" + a.ID)
		if err != nil {
			return err
		}
		if len(audit) != 1 || audit[0].Action != "attendance.create" || audit[0].Index != res.Index || audit[0].Actor.ID != "test" {
			t.Errorf("audit = %+v", audit)
		}
		_, err = care.In(v).Attendance("nope")
		if !errors.Is(err, cluster.ErrNotFound) {
			t.Errorf("missing attendance: err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndClosedStore(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	for _, nd := range c.Live() {
		st := nd.Store.Status()
		if st.NodeID != nd.ID || st.Leader == nil || st.Leader.ID != leader.ID || st.Leader.HTTPAddr != leader.HTTPAddr {
			t.Fatalf("%s status leader %+v", nd.ID, st.Leader)
		}
		if len(st.Nodes) != 3 || st.LogicVersion != cluster.LogicVersion || st.Version != "test" {
			t.Fatalf("%s status %+v", nd.ID, st)
		}
		leaders := 0
		for _, n := range st.Nodes {
			if n.Suffrage != "voter" || n.HTTPAddr == "" || n.Version != "test" {
				t.Fatalf("%s sees node %+v", nd.ID, n)
			}
			if n.Leader {
				leaders++
			}
		}
		if leaders != 1 || st.AppliedIndex == 0 || st.AppliedIndex > st.CommitIndex || st.Clock.IsZero() || st.FSMClock.IsZero() {
			t.Fatalf("%s status %+v", nd.ID, st)
		}
		if !cluster.ClockInLine(st.Clock, leader.Store.Now()) {
			t.Fatalf("%s clock %v out of line with leader", nd.ID, st.Clock)
		}
	}
	if !cluster.ClockInLine(time.Unix(100, 0), time.Unix(100, 9e8)) || cluster.ClockInLine(time.Unix(100, 0), time.Unix(102, 0)) {
		t.Fatal("ClockInLine")
	}

	// A closed store refuses politely instead of touching closed files.
	f := c.Live()[0]
	if err := c.Stop(ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, cons := range []cluster.Consistency{cluster.ConsistencyStale, cluster.ConsistencyLeader} {
		if err := f.Store.Read(ctx, cons, func(*cluster.View) error { return nil }); !errors.Is(err, cluster.ErrNotOpen) {
			t.Fatalf("read %s after close: %v", cons, err)
		}
	}
	if _, err := f.Store.Propose(ctx, cluster.Proposal{Kind: care.KindAttendanceCreate}); !errors.Is(err, cluster.ErrNotOpen) {
		t.Fatalf("propose after close: %v", err)
	}
	if _, _, err := f.Store.StateHash(); !errors.Is(err, cluster.ErrNotOpen) {
		t.Fatalf("hash after close: %v", err)
	}
}

func TestInmemTransportSingleNode(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	s, err := cluster.New(cluster.Config{NodeID: "mem", Dir: t.TempDir(), Transport: trans,
		Logger: clustertest.Logger(), Raft: cluster.FastRaftTuning(), Commands: clinic.Commands()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := s.Propose(ctx, cluster.Proposal{Kind: care.KindAttendanceCreate, Payload: []byte(`{"complaint":"rash","channel":"nhs111"}`)})
	if err != nil || res.Err != nil {
		t.Fatalf("propose: %v %v", err, res)
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil || a.Channel != care.ChannelNHS111 {
		t.Fatalf("attendance %+v %v", a, err)
	}
	// Unknown kinds are refused before proposing.
	if _, err := s.Propose(ctx, cluster.Proposal{Kind: "triage.unknown"}); !errors.Is(err, cluster.ErrUnsupportedKind) {
		t.Fatalf("unknown kind: %v", err)
	}
}

func TestQuorumLossRefusesInsteadOfHanging(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	for _, nd := range c.Live() {
		if nd == leader {
			continue
		}
		// A follower never builds a half command: it says who leads.
		if _, _, err := clustertest.CreateAttendance(ctx, nd, "on a follower", nil); !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("propose on follower %s: %v, want ErrNotLeader", nd.ID, err)
		}
	}
	// Lose two of three: the survivor (the old leader) cannot commit.
	for _, nd := range c.Others(leader) {
		c.Kill(nd)
	}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	for i := 0; i < 3; i++ {
		_, _, err := clustertest.CreateAttendance(pctx, leader, "no quorum", nil)
		if !errors.Is(err, cluster.ErrNoLeader) && !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrOutcomeUnknown) {
			t.Fatalf("write without quorum: %v", err)
		}
	}
	waitFor(t, ctx, "the survivor to step down", func() bool { return !leader.Store.IsLeader() })
	if _, _, err := clustertest.CreateAttendance(ctx, leader, "no quorum", nil); !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("write after step-down: %v, want ErrNoLeader", err)
	}
	if err := leader.Store.Read(ctx, cluster.ConsistencyLinearizable, func(*cluster.View) error { return nil }); !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("linearizable read without quorum: %v", err)
	}
	if err := leader.Store.Read(ctx, cluster.ConsistencyStale, func(*cluster.View) error { return nil }); err != nil {
		t.Fatalf("stale read without quorum: %v", err)
	}
}

// TestStepDownHandsLeadershipOver: a leader that steps down (as serve does
// before it stops taking requests) leaves another voter leading, stays open
// itself, and a write through the new leader succeeds.
func TestStepDownHandsLeadershipOver(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := c.Leader(ctx)
	// A transfer can fail under load (the target was not caught up, or
	// it timed out); a shutting-down node just goes on. Try a few times.
	var err error
	for range 5 {
		if err = old.Store.StepDown(ctx); err == nil {
			break
		}
		t.Logf("step down: %v (retrying)", err)
	}
	if err != nil {
		t.Fatalf("step down: %v", err)
	}
	if old.Store.IsLeader() {
		t.Fatal("still leader after stepping down")
	}
	nl := c.Leader(ctx)
	if nl == nil || nl.ID == old.ID {
		t.Fatalf("leader after step down = %v, want another node than %s", nl, old.ID)
	}
	if _, _, err := clustertest.CreateAttendance(ctx, nl, "cough", nil); err != nil {
		t.Fatalf("write through the new leader: %v", err)
	}
	// A follower stepping down is a no-op.
	if err := old.Store.StepDown(ctx); err != nil {
		t.Fatalf("step down as follower: %v", err)
	}
}

// TestRetryAfterLeaderChangeReadsTheAttendance: an attendance command's
// idempotency record names the attendance instead of holding it (logic
// version 12), on every node; a retry, on the leader that applied it or on
// the next one, gets the same bytes as the first answer.
func TestRetryAfterLeaderChangeReadsTheAttendance(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	idem := &cluster.Idempotency{Key: "retry-me", Route: "POST /v1/attendances", BodyHash: "b1"}
	a, first, err := clustertest.CreateAttendance(ctx, c.Leader(ctx), "sore throat for three days", idem)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Live() {
		err := nd.Store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
			b, ok, err := v.GetRaw("i/" + idem.Key)
			if err != nil || !ok {
				return fmt.Errorf("idempotency record: %v %v", ok, err)
			}
			if len(b) > 1024 || !strings.Contains(string(b), `"ref":{"kind":"attendance.create","id":"`+a.ID+`"}`) || strings.Contains(string(b), "sore throat") {
				return fmt.Errorf("idempotency record holds the attendance or no name of it (%d bytes): %s", len(b), b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", nd.ID, err)
		}
	}
	retry := func(nd *clustertest.Node) {
		t.Helper()
		_, res, err := clustertest.CreateAttendance(ctx, nd, "sore throat for three days", idem)
		if err != nil {
			t.Fatalf("retry on %s: %v", nd.ID, err)
		}
		if !res.Replayed || res.Index != first.Index || !bytes.Equal(res.Value, first.Value) {
			t.Fatalf("retry on %s: replayed %v index %d (want %d)\n got %s\nwant %s", nd.ID, res.Replayed, res.Index, first.Index, res.Value, first.Value)
		}
	}
	old := c.Leader(ctx)
	retry(old)
	c.Kill(old)
	var next *clustertest.Node
	if err := clustertest.Retry(ctx, func() error {
		if next = c.Leader(ctx); next == nil || next == old {
			return errors.New("no new leader yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	retry(next)
}
