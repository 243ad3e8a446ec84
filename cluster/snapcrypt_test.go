package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func testSnapStore(t *testing.T, dir string, key []byte) *snapshotStore {
	t.Helper()
	keys, err := deriveKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSnapshotStore(dir, keys, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeSnap(t *testing.T, s *snapshotStore, index uint64, data []byte) string {
	t.Helper()
	sink, err := s.Create(raft.SnapshotVersionMax, index, 3, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// In uneven pieces, as raft's bufio writer hands them over.
	for p := data; len(p) > 0; {
		n := min(len(p), 7001)
		if _, err := sink.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func readSnap(s *snapshotStore, id string) (*raft.SnapshotMeta, []byte, error) {
	meta, rc, err := s.Open(id)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return meta, b, err
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotEncryptionRoundTrip: what goes in comes out, of every size
// around the chunk boundary, with the plain size in the meta (raft sends
// a follower that many bytes), and the file holds none of it in clear.
func TestSnapshotEncryptionRoundTrip(t *testing.T) {
	key := randomBytes(t, MasterKeySize)
	for _, n := range []int{0, 1, snapChunk - 1, snapChunk, snapChunk + 1, 3*snapChunk + 17} {
		dir := t.TempDir()
		s := testSnapStore(t, dir, key)
		data := bytes.Repeat([]byte("Quennell-Barraclough 9434765919 "), n/32+1)[:n]
		id := writeSnap(t, s, 10, data)
		meta, got, err := readSnap(s, id)
		if err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		if !bytes.Equal(got, data) || meta.Size != int64(n) {
			t.Fatalf("size %d: read %d bytes, meta size %d", n, len(got), meta.Size)
		}
		metas, err := s.List()
		if err != nil || len(metas) != 1 || metas[0].Size != int64(n) {
			t.Fatalf("size %d: list %v %v", n, metas, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "snapshots", id, "state.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && bytes.Contains(raw, []byte("Quennell")) {
			t.Fatalf("size %d: plaintext in the snapshot file", n)
		}
		for _, p := range []string{"", id, filepath.Join(id, "state.bin"), filepath.Join(id, "meta.json")} {
			fi, err := os.Stat(filepath.Join(dir, "snapshots", p))
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
			}
		}
	}
}

// TestSnapshotTamperedRefused: a changed, cut, reordered or foreign
// snapshot file is refused when read, even with raft's own CRC in
// meta.json made to match (what an attacker with the disk would do).
func TestSnapshotTamperedRefused(t *testing.T) {
	key := randomBytes(t, MasterKeySize)
	data := randomBytes(t, 3*snapChunk+100)
	full := snapChunkHdr + snapChunk + 16
	for _, tc := range []struct {
		name   string
		tamper func(b, other []byte) []byte
	}{
		{"a byte flipped", func(b, _ []byte) []byte { b[len(b)/2] ^= 1; return b }},
		{"the last chunk cut off", func(b, _ []byte) []byte { return b[:snapHeader+3*full] }},
		{"a chunk dropped", func(b, _ []byte) []byte {
			return append(append([]byte{}, b[:snapHeader+full]...), b[snapHeader+2*full:]...)
		}},
		{"two chunks swapped", func(b, _ []byte) []byte {
			out := append([]byte{}, b[:snapHeader]...)
			out = append(out, b[snapHeader+full:snapHeader+2*full]...)
			out = append(out, b[snapHeader:snapHeader+full]...)
			return append(out, b[snapHeader+2*full:]...)
		}},
		{"another snapshot's contents", func(_, other []byte) []byte { return other }},
		{"a final flag set early", func(b, _ []byte) []byte { b[snapHeader] = 1; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := testSnapStore(t, dir, key)
			other := writeSnap(t, s, 5, data)
			id := writeSnap(t, s, 10, data)
			path := filepath.Join(dir, "snapshots", id, "state.bin")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ob, err := os.ReadFile(filepath.Join(dir, "snapshots", other, "state.bin"))
			if err != nil {
				t.Fatal(err)
			}
			b = tc.tamper(b, ob)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			fixCRC(t, filepath.Join(dir, "snapshots", id), b)
			_, got, err := readSnap(s, id)
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("tampered snapshot read: %d bytes, err %v", len(got), err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		dir := t.TempDir()
		id := writeSnap(t, testSnapStore(t, dir, key), 10, data)
		if _, _, err := readSnap(testSnapStore(t, dir, randomBytes(t, MasterKeySize)), id); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("read with another key: %v", err)
		}
	})
}

// fixCRC rewrites meta.json's CRC to match the file's new contents.
func fixCRC(t *testing.T, dir string, state []byte) {
	t.Helper()
	var meta map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(state)
	meta["CRC"] = h.Sum(nil)
	meta["Size"] = len(state)
	b, _ = json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestEncryptedTablesChecked: the table check (at open, and hourly on a
// running node) reads encrypted tables with their data keys: clean tables
// pass, a changed byte is ErrCorruptState naming the table, and a wrong
// master key is ErrWrongKey, not corruption.
func TestEncryptedTablesChecked(t *testing.T) {
	dir := t.TempDir()
	keys, err := deriveKeys(randomBytes(t, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	open := func(key []byte) (*fsm, error) {
		return openFSM(dir, key, mustCommandTable(testCommands()), testLogger(), nil, func(error) {})
	}
	f, err := open(keys.badger)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := f.acquire()
	for i := range 2000 {
		if err := h.db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(fmt.Sprintf("patient/%06d", i)), bytes.Repeat([]byte("Quennell-Barraclough "), 10))
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.release()
	if err := f.close(); err != nil { // flushes the memtable into a table
		t.Fatal(err)
	}
	if f, err = open(keys.badger); err != nil {
		t.Fatal(err)
	}
	n, err := f.verifyLiveTables()
	if err != nil || n == 0 {
		t.Fatalf("live tables: %d checked, %v", n, err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := open(randomBytes(t, 32)); !errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorruptState) {
		t.Fatalf("open with another key: %v", err)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "db-*", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table")
	}
	b, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("Quennell")) {
		t.Fatal("plaintext in an encrypted table")
	}
	b[len(b)/3] ^= 0x40
	if err := os.WriteFile(tables[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(keys.badger); !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), filepath.Base(tables[0])) {
		t.Fatalf("open with a changed table: %v", err)
	}
}
