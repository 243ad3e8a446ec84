package cluster

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// TestLogMACStoreFormats: one log holding entries of each era reads back
// as written: in clear below the MAC's from-index, MAC'd below the
// encryption's from-index, sealed after; an entry of the wrong era for
// its index, or changed, is ErrCorruptLog; sealed entries hold no
// plaintext and bind index, term and type.
func TestLogMACStoreFormats(t *testing.T) {
	dir := t.TempDir()
	inner := raft.NewInmemStore()
	entry := func(i uint64) *raft.Log {
		return &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte("Quennell-Barraclough " + string(rune('a'+i)))}
	}
	// Era 1: in clear (before MACs).
	if err := inner.StoreLogs([]*raft.Log{entry(1), entry(2)}); err != nil {
		t.Fatal(err)
	}
	// Era 2: MAC'd, from index 3.
	mac, err := loadLogStore(inner, inner, dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if mac.from != 3 {
		t.Fatalf("MAC from %d, want 3", mac.from)
	}
	if err := mac.StoreLogs([]*raft.Log{entry(3), entry(4)}); err != nil {
		t.Fatal(err)
	}
	// Era 3: sealed, from index 5 (as a store given a key on this log
	// would, had it passed the key check: record the check as migrate does).
	keys, err := deriveKeys(bytes.Repeat([]byte{9}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	if err := inner.Set(keyCheckKey, keys.checkValue()); err != nil {
		t.Fatal(err)
	}
	enc, err := loadLogStore(inner, inner, dir, keys, false)
	if err != nil {
		t.Fatal(err)
	}
	if enc.encFrom != 5 || enc.from != 3 {
		t.Fatalf("from %d, encFrom %d", enc.from, enc.encFrom)
	}
	if err := enc.StoreLogs([]*raft.Log{entry(5), entry(6)}); err != nil {
		t.Fatal(err)
	}
	if n, err := enc.verifyAll(); err != nil || n != 6 {
		t.Fatalf("verifyAll: %d, %v", n, err)
	}
	for i := uint64(1); i <= 6; i++ {
		var l raft.Log
		if err := enc.GetLog(i, &l); err != nil {
			t.Fatalf("index %d: %v", i, err)
		}
		if !bytes.Equal(l.Data, entry(i).Data) || l.Extensions != nil {
			t.Fatalf("index %d: read %q ext %q", i, l.Data, l.Extensions)
		}
		var raw raft.Log
		if err := inner.GetLog(i, &raw); err != nil {
			t.Fatal(err)
		}
		if sealed := i >= 5; sealed == bytes.Contains(raw.Data, []byte("Quennell")) {
			t.Fatalf("index %d: stored %q", i, raw.Data)
		}
	}
	for _, tc := range []struct {
		name   string
		index  uint64
		change func(l *raft.Log)
	}{
		{"sealed: data", 5, func(l *raft.Log) { l.Data[3] ^= 1 }},
		{"sealed: type", 5, func(l *raft.Log) { l.Type = raft.LogNoop }},
		{"sealed: stored in clear", 6, func(l *raft.Log) { *l = *entry(6) }},
		{"MAC'd: data", 3, func(l *raft.Log) { l.Data[0] ^= 1 }},
		{"MAC'd: MAC dropped", 4, func(l *raft.Log) { l.Extensions = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l raft.Log
			if err := inner.GetLog(tc.index, &l); err != nil {
				t.Fatal(err)
			}
			orig := l
			orig.Data = bytes.Clone(l.Data)
			tc.change(&l)
			if err := inner.StoreLog(&l); err != nil {
				t.Fatal(err)
			}
			defer inner.StoreLog(&orig)
			var got raft.Log
			if err := enc.GetLog(tc.index, &got); !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("read of a changed entry: %v (%q)", err, got.Data)
			}
		})
	}
	// Without the key, a sealed entry is not read as anything.
	plain, err := loadLogStore(inner, inner, dir, nil, true)
	if err == nil {
		var l raft.Log
		err = plain.GetLog(5, &l)
	}
	if !errors.Is(err, ErrEncrypted) && !errors.Is(err, ErrCorruptLog) {
		t.Fatalf("keyless read of a sealed log: %v", err)
	}
}
