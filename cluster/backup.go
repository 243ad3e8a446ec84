package cluster

import (
	"context"
	"fmt"
	"io"

	badger "github.com/dgraph-io/badger/v4"
)

// Backup is a consistent copy of the whole state in the making: one Badger
// read transaction, opened on the leader after a linearizable read barrier,
// so it holds every write acknowledged before OpenBackup was called and
// nothing half-applied. WriteTo streams it in the FSM's snapshot format
// (snapshot.go), which Restore and SeedFromSnapshot read back.
type Backup struct {
	// Index is the applied index the copy reflects.
	Index uint64
	// LogicVersion is the cluster's logic version when the copy was taken:
	// a binary whose LogicVersion is lower must not load it.
	LogicVersion int
	// NodeID and Version name the node that took the copy and its binary.
	NodeID, Version string

	h   *dbHandle
	txn *badger.Txn
}

// OpenBackup opens a consistent copy of the state on the leader (ErrNotLeader
// or ErrNoLeader elsewhere) after a linearizable read barrier. Close it.
func (s *Store) OpenBackup(ctx context.Context) (*Backup, error) {
	f := s.fsmPtr.Load()
	if f == nil {
		return nil, ErrNotOpen
	}
	if q := s.quarantined.Load(); q != nil {
		return nil, fmt.Errorf("%w: %s", ErrQuarantined, *q)
	}
	if _, err := s.leaderRaft(); err != nil {
		return nil, err
	}
	if err := s.reads.wait(ctx); err != nil {
		return nil, fmt.Errorf("backup: read barrier: %w", err)
	}
	lv := s.clusterLogicVersion()
	h, err := f.acquire()
	if err != nil {
		return nil, err
	}
	txn := h.db.NewTransaction(false)
	applied, _, err := readMeta(txn)
	if err != nil {
		txn.Discard()
		h.release()
		return nil, fmt.Errorf("backup: state meta: %w", err)
	}
	return &Backup{Index: applied, LogicVersion: lv, NodeID: s.cfg.NodeID, Version: s.cfg.Version, h: h, txn: txn}, nil
}

// WriteTo streams the copy to w in the snapshot format.
func (b *Backup) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	if err := writeSnapshot(cw, b.txn, b.Index, b.h.releasePages); err != nil {
		return cw.n, fmt.Errorf("backup at %d: %w", b.Index, err)
	}
	return cw.n, nil
}

// Close ends the read transaction; closing again does nothing.
func (b *Backup) Close() {
	if b.txn == nil {
		return
	}
	b.txn.Discard()
	b.h.release()
	b.txn, b.h = nil, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
