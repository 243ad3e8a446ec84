package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// The GC tests write values at the value threshold (BadgerOptions), which
// go to the value log, a little more than one value-log file of them, so
// the first file is full and is no longer the head, which GC never
// rewrites.
var (
	vlogBulkValue = int(BadgerOptions("", nil).ValueThreshold)
	vlogBulkKeys  = int(BadgerOptions("", nil).ValueLogFileSize)/vlogBulkValue + 8
)

func bulkKey(i int) []byte { return fmt.Appendf(nil, "gc/%06d", i) }

// writeBulk sets every bulk key to a value over the value threshold, or
// (big false) to a small one that lives in the LSM tree.
func writeBulk(t *testing.T, db *badger.DB, big bool) {
	t.Helper()
	val := []byte("small")
	if big {
		val = []byte(strings.Repeat("v", vlogBulkValue))
	}
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	for i := range vlogBulkKeys {
		if err := wb.Set(bulkKey(i), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

func deleteBulk(t *testing.T, db *badger.DB) {
	t.Helper()
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	for i := range vlogBulkKeys {
		if err := wb.Delete(bulkKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

// vlogOnDisk counts the value-log files of f's current database and sums
// their sizes.
func vlogOnDisk(t *testing.T, f *fsm) (files int, bytes int64) {
	t.Helper()
	h, err := f.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	paths, err := filepath.Glob(filepath.Join(h.dir, "*.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		bytes += fi.Size()
	}
	return len(paths), bytes
}

// bulkThenCompact closes f, writes the large values and then does after
// to them with Badger alone, then compacts and reopens the FSM.
//
// The compaction is what drops old versions and tells the value log which
// of its values are dead; a busy node's compactions do the same as data
// flows. Here it is made certain rather than left to timing: background
// compactions are off while writing, so a compaction cannot run while a
// read of the old versions is still open (it would have to keep them), and
// the database is then reopened, so no read is open at all, and flattened.
// Level 0 is compacted a run of overlapping tables at a time, so a single
// close-time compaction can leave the bulk tables behind.
func bulkThenCompact(t *testing.T, f *fsm, after func(*testing.T, *badger.DB)) *fsm {
	t.Helper()
	dir := f.h.dir
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(BadgerOptions(dir, nil).WithNumCompactors(0))
	if err != nil {
		t.Fatal(err)
	}
	writeBulk(t, db, true)
	after(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Flatten compacts level 0 (overlapping runs of tables at a time)
	// into one level; it starts only when level 0 is over its target.
	db, err = badger.Open(BadgerOptions(dir, nil).WithNumCompactors(0).WithNumLevelZeroTables(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := openFSM(f.dir, f.key, f.cmds, f.log, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.close() })
	return g
}

func TestValueLogGC(t *testing.T) {
	if testing.Short() {
		t.Skip("writes more than one value-log file")
	}
	cases := []struct {
		name    string
		after   func(t *testing.T, db *badger.DB) // what happens to the large values
		reclaim bool
	}{
		{"live values are kept", func(*testing.T, *badger.DB) {}, false},
		{"overwritten values are reclaimed", func(t *testing.T, db *badger.DB) { writeBulk(t, db, false) }, true},
		{"deleted values are reclaimed", deleteBulk, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tf := newTestFSM(t)
			applyInBatches(tf, testLog(t, 40), 8)
			f := bulkThenCompact(t, tf.fsm, tc.after)

			wantHash, err := stateHashOf(f)
			if err != nil {
				t.Fatal(err)
			}
			filesBefore, bytesBefore := vlogOnDisk(t, f)
			n, err := f.collectValueLog(context.Background())
			if err != nil {
				t.Fatalf("collectValueLog: %v", err)
			}
			filesAfter, bytesAfter := vlogOnDisk(t, f)
			t.Logf("rewrote %d; vlog files %d -> %d, %d -> %d MiB", n, filesBefore, filesAfter, bytesBefore>>20, bytesAfter>>20)

			if got := n > 0; got != tc.reclaim {
				t.Errorf("files rewritten = %d, want reclaim %v", n, tc.reclaim)
			}
			if reclaimed := bytesAfter < bytesBefore && filesAfter < filesBefore; reclaimed != tc.reclaim {
				t.Errorf("vlog on disk %d files %d B -> %d files %d B, want reclaim %v",
					filesBefore, bytesBefore, filesAfter, bytesAfter, tc.reclaim)
			}
			if got, err := stateHashOf(f); err != nil || got != wantHash {
				t.Errorf("state after GC: hash %s (err %v), want %s", got, err, wantHash)
			}
		})
	}
}

func stateHashOf(f *fsm) (string, error) {
	h, _, err := f.stateHash()
	return h, err
}

func TestValueLogGCAfterCloseFails(t *testing.T) {
	tf := newTestFSM(t)
	if err := tf.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.collectValueLog(context.Background()); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("collectValueLog after close: err %v, want ErrNotOpen", err)
	}
}

// TestValueLogGCDuringRestores runs GC passes while snapshots are restored
// one after another (under -race): a pass never touches a database being
// swapped out, nor fails because of one, and the restored state is intact.
func TestValueLogGCDuringRestores(t *testing.T) {
	// Five snapshots at rising indexes: Restore loads only a snapshot past
	// what the FSM has applied.
	a := newTestFSM(t)
	logs := testLog(t, 50)
	var snaps [][]byte
	for i := range 5 {
		applyInBatches(a, logs[i*10:i*10+10], 5)
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snapshotBytes(t, snap))
	}
	want, _ := mustHash(t, a)

	b := newTestFSM(t)
	ctx, cancel := context.WithCancel(context.Background())
	gcErr := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := b.collectValueLog(ctx); err != nil && ctx.Err() == nil {
				gcErr <- err
				return
			}
		}
		gcErr <- nil
	}()
	for i, data := range snaps {
		if err := b.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
	}
	if n := b.restores.Load(); n != 5 {
		t.Fatalf("%d of 5 snapshots restored", n)
	}
	cancel()
	if err := <-gcErr; err != nil {
		t.Fatalf("GC during restores: %v", err)
	}
	if got, _ := mustHash(t, b); got != want {
		t.Fatalf("state after restores with GC: %s, want %s", got, want)
	}
}
