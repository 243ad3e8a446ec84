package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestStoreStopsOnUnknownEntry drives an entry this binary does not know
// through raft itself (as a newer leader would) and checks the node stops:
// OnFatal fires, the applied index freezes, Propose and leader reads fail
// with ErrFatal, Status reports why.
func TestStoreStopsOnUnknownEntry(t *testing.T) {
	fatal := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := soloStore(ctx, t, testCommands(), func(err error) { fatal <- err })
	before := s.AppliedIndex()
	env, _ := json.Marshal(Envelope{Kind: "dispatch.from_a_newer_binary", LogicVersion: LogicVersion, Time: time.Now()})
	f := s.raft.Apply(encodeEntry([][]byte{env}), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Response().(*fatalResult); !ok {
		t.Fatalf("response %#v, want fatal", f.Response())
	}
	select {
	case err := <-fatal:
		if !errors.Is(err, errUnknownKind) {
			t.Fatalf("OnFatal(%v)", err)
		}
	case <-ctx.Done():
		t.Fatal("OnFatal not called")
	}
	if err := <-s.Fatal(); !errors.Is(err, errUnknownKind) {
		t.Fatalf("Fatal() = %v", err)
	}
	if s.AppliedIndex() != before {
		t.Fatalf("applied index moved %d -> %d", before, s.AppliedIndex())
	}
	if _, err := s.Propose(ctx, Proposal{Kind: kindTestCreate, Payload: []byte(`{"complaint":"x"}`)}); !errors.Is(err, ErrFatal) {
		t.Fatalf("propose after stop: %v", err)
	}
	if err := s.Read(ctx, ConsistencyLeader, func(*View) error { return nil }); !errors.Is(err, ErrFatal) {
		t.Fatalf("leader read after stop: %v", err)
	}
	if st := s.Status(); st.Fatal == "" {
		t.Fatal("status does not say why the node stopped")
	}
	if err := s.raft.Snapshot().Error(); err == nil {
		t.Fatal("snapshot succeeded on a stopped FSM")
	}
}

// soloStore opens a bootstrapped single-node Store with cmds on an
// in-memory transport, closed when the test ends.
func soloStore(ctx context.Context, t *testing.T, cmds []Command, onFatal func(error)) *Store {
	t.Helper()
	_, trans := raft.NewInmemTransport("")
	s, err := New(Config{NodeID: "n1", Dir: t.TempDir(), Transport: trans, Logger: testLogger(),
		Raft: FastRaftTuning(), Commands: cmds, OnFatal: onFatal})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if _, err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLeaderAddressFollowsTheRegistry: the leader's HTTP address, which a
// follower looks up for every request it forwards, is kept between
// lookups, and a registry change (the leader registering again with
// another address) is seen by the next lookup.
func TestLeaderAddressFollowsTheRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := soloStore(ctx, t, testCommands(), nil)
	for _, addr := range []string{"127.0.0.1:1111", "127.0.0.1:2222"} {
		n := s.selfNode()
		n.HTTPAddr = addr
		if _, err := s.ProposeSystem(ctx, KindNodeRegister, n); err != nil {
			t.Fatal(err)
		}
		for range 2 { // read, then kept
			li, ok := s.Leader()
			if !ok || li.ID != "n1" || li.HTTPAddr != addr {
				t.Fatalf("leader %+v %v, want n1 at %s", li, ok, addr)
			}
		}
		if c := s.leaderHTTP.Load(); c == nil || c.addr != addr {
			t.Fatalf("kept %+v, want %s", c, addr)
		}
	}
}
