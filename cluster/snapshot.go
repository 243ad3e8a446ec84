package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Snapshot format: magic, then the applied index the snapshot describes
// (8 bytes big endian), then (uvarint key length, key, uvarint value length,
// value) for every key in key order, then a zero key length as terminator.
const snapshotMagic = "FDSNAP01"

var errSnapshotFatal = errors.New("state machine stopped: refusing to snapshot")

// fsmSnapshot is one read-only Badger transaction: Persist streams exactly
// what it sees, tagged with its applied index.
type fsmSnapshot struct {
	f     *fsm
	h     *dbHandle
	txn   *badger.Txn
	index uint64
}

// Snapshot opens one read-only transaction. raft serialises it with
// ApplyBatch, so the transaction sees exactly the applied entries.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if fe := f.fatal(); fe != nil {
		return nil, fmt.Errorf("%w: %v", errSnapshotFatal, fe)
	}
	h, err := f.acquire()
	if err != nil {
		return nil, err
	}
	// Once the snapshot is persisted raft may drop the log up to its
	// index: everything applied so far must be durable first (BadgerOptions).
	if err := h.db.Sync(); err != nil {
		h.release()
		return nil, fmt.Errorf("snapshot: sync the state: %w", err)
	}
	txn := h.db.NewTransaction(false)
	applied, _, err := readMeta(txn)
	if err != nil {
		txn.Discard()
		h.release()
		return nil, fmt.Errorf("snapshot meta: %w", err)
	}
	return &fsmSnapshot{f: f, h: h, txn: txn, index: applied}, nil
}

// Persist streams the transaction's view to sink; it runs concurrently with
// ApplyBatch.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.txn, s.index, s.h.releasePages); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot at %d: %w", s.index, err)
	}
	return sink.Close()
}

// Release ends the transaction and asks for a value-log GC pass: a
// snapshot follows a burst of writes, which leaves dead values behind.
func (s *fsmSnapshot) Release() {
	s.txn.Discard()
	s.h.release()
	s.f.kickValueLogGC()
}

// writeSnapshot streams txn's view, tagged with index, to w, calling
// pageOut after every pageOutEveryBytes of keys and values (the read maps
// in every value-log file and table).
func writeSnapshot(w io.Writer, txn *badger.Txn, index uint64, pageOut func()) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	var buf [binary.MaxVarintLen64]byte
	binary.BigEndian.PutUint64(buf[:8], index)
	if _, err := bw.Write(buf[:8]); err != nil {
		return err
	}
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	streamed := 0
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if len(k) == 0 {
			continue
		}
		if streamed += len(k) + int(item.ValueSize()); streamed >= pageOutEveryBytes {
			pageOut()
			streamed = 0
		}
		n := binary.PutUvarint(buf[:], uint64(len(k)))
		bw.Write(buf[:n])
		bw.Write(k)
		if err := item.Value(func(v []byte) error {
			n := binary.PutUvarint(buf[:], uint64(len(v)))
			bw.Write(buf[:n])
			_, err := bw.Write(v)
			return err
		}); err != nil {
			return err
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// Restore loads a snapshot into a fresh Badger directory, then swaps it in
// under the lock, resets the in-memory state and removes the old database
// once no reader holds it.
//
// A snapshot at or below the index this FSM has already applied is not
// loaded: hashicorp/raft installs whatever snapshot a leader sends, and a
// leader whose record of a follower's progress is behind (a timed-out
// AppendEntries on a loaded machine) sends its newest snapshot to a follower
// that has applied past it. Loading it would take the follower's state back
// in time: its stale reads would lose records it had served, until a leader
// commits again (if none ever does, for good). Everything applied here was
// committed, so the state already holds the snapshot's and more; raft then
// re-sends the later entries, which Apply skips.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if fe := f.fatal(); fe != nil {
		return fmt.Errorf("restore: %w", fe)
	}
	br := bufio.NewReaderSize(rc, 256<<10)
	index, err := readSnapshotHeader(br)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if applied := f.applied.Load(); index <= applied {
		f.log.Info("snapshot not restored: state already past it", "snapshot_index", index, "applied", applied)
		return nil
	}
	defer f.derived.reset() // built from the state being replaced
	defer f.nodesGen.Add(1) // the restored registry may differ
	f.gcMu.Lock()           // no value-log GC step while the database is replaced
	defer f.gcMu.Unlock()
	f.mu.RLock()
	gen := f.h.gen + 1
	f.mu.RUnlock()
	_ = os.RemoveAll(f.dir + "/" + genDir(gen))
	nh, err := openHandle(f.dir, gen, f.key, f.log)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := loadSnapshot(br, nh.db); err != nil {
		_ = nh.db.Close()
		_ = os.RemoveAll(nh.dir)
		return fmt.Errorf("restore: %w", err)
	}
	if err := nh.db.Sync(); err != nil {
		_ = nh.db.Close()
		_ = os.RemoveAll(nh.dir)
		return fmt.Errorf("restore: sync: %w", err)
	}
	if err := writeCurrentGen(f.dir, gen); err != nil {
		_ = nh.db.Close()
		_ = os.RemoveAll(nh.dir)
		return fmt.Errorf("restore: point at new database: %w", err)
	}
	f.mu.Lock()
	old := f.h
	f.h = nh
	f.mu.Unlock()
	if err := f.loadMeta(nh); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.restores.Add(1)
	f.log.Info("restored snapshot", "index", index, "applied", f.applied.Load())
	f.notify()
	go func() {
		old.refs.Wait()
		_ = old.db.Close()
		_ = os.RemoveAll(old.dir)
	}()
	return nil
}

// loadSnapshot writes the records of a snapshot whose header has been read
// into db.
func loadSnapshot(br *bufio.Reader, db *badger.DB) error {
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	for {
		kl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("snapshot key length: %w", err)
		}
		if kl == 0 {
			break
		}
		k := make([]byte, kl)
		if _, err := io.ReadFull(br, k); err != nil {
			return fmt.Errorf("snapshot key: %w", err)
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("snapshot value length: %w", err)
		}
		v := make([]byte, vl)
		if _, err := io.ReadFull(br, v); err != nil {
			return fmt.Errorf("snapshot value: %w", err)
		}
		if err := wb.Set(k, v); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return nil
}

// readSnapshotHeader reads the magic and the applied index a snapshot
// captured.
func readSnapshotHeader(r io.Reader) (uint64, error) {
	head := make([]byte, len(snapshotMagic)+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, fmt.Errorf("snapshot header: %w", err)
	}
	if string(head[:len(snapshotMagic)]) != snapshotMagic {
		return 0, errors.New("not a frontdoor snapshot")
	}
	return binary.BigEndian.Uint64(head[len(snapshotMagic):]), nil
}
