package cluster

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"weak"

	"github.com/hashicorp/raft"
)

// TestRecentLogsServeWhatWasStored: an entry just stored is read back
// from memory (a changed copy on disk is not consulted), a DeleteRange
// forgets the recent entries (the disk copy is read and its MAC checked
// again), and an entry larger than recentLogMax is never held.
func TestRecentLogsServeWhatWasStored(t *testing.T) {
	inner := raft.NewInmemStore()
	m, err := newMACLogStore(inner, inner, t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), recentLogMax+1)
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("one")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("two")},
		{Index: 3, Term: 1, Type: raft.LogCommand, Data: big},
	}
	if err := m.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// Change what the disk holds for every entry, keeping its old MAC.
	for i := uint64(1); i <= 3; i++ {
		var l raft.Log
		if err := inner.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		l.Data = append([]byte("changed "), l.Data...)
		if err := inner.StoreLog(&l); err != nil {
			t.Fatal(err)
		}
	}
	var got raft.Log
	if err := m.GetLog(2, &got); err != nil || string(got.Data) != "two" {
		t.Fatalf("recent entry 2: %q, %v; want two from memory", got.Data, err)
	}
	if err := m.GetLog(3, &got); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("entry 3, over recentLogMax: %v; want it read from disk and refused", err)
	}
	if err := m.DeleteRange(3, 3); err != nil {
		t.Fatal(err)
	}
	if err := m.GetLog(2, &got); !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("entry 2 after DeleteRange: %q, %v; want it read from disk and refused", got.Data, err)
	}
}

// leaderFuture is how hashicorp/raft holds an entry on the leader: the
// *raft.Log handed to StoreLogs points into the future that also holds
// the entry's FSM response (logFuture: log, response).
type leaderFuture struct {
	log      raft.Log
	response []byte
}

// TestRecentLogsDoNotHoldTheLeadersFutures: the recent entries must not
// keep raft's futures, and so the Results of every command in them, alive
// after raft has let go of them: on the leader they held the attendance
// JSON built for each proposer, megabytes of it.
func TestRecentLogsDoNotHoldTheLeadersFutures(t *testing.T) {
	c := newRecentLogs()
	f := &leaderFuture{log: raft.Log{Index: 7, Term: 1, Type: raft.LogCommand, Data: []byte("entry")},
		response: make([]byte, 1<<20)}
	gone := weak.Make(f)
	c.add([]*raft.Log{&f.log})
	f = nil
	runtime.GC()
	if gone.Value() != nil {
		t.Fatal("the future (and its response) is still reachable through the recent entries")
	}
	var got raft.Log
	if !c.get(7, &got) || string(got.Data) != "entry" || got.Index != 7 {
		t.Fatalf("entry 7: %+v; want it held", got)
	}
}
