package cluster

import (
	"bytes"
	"errors"
	"testing"

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
