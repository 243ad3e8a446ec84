package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// Compaction after a purge. A command that deletes records for good (a
// retention purge, Command.CompactAfter) removes them from the state, but
// the raft log still holds the commands that wrote them, and the snapshots
// hold the state as it was. So once such a command has applied, every
// node, leader and followers alike, takes a raft snapshot of the state
// without them (raft then truncates its log up to that snapshot, keeping
// only the last TrailingLogs entries, which are recent and not what was
// purged) and removes every older snapshot, which still held them. It is
// local housekeeping, like value-log GC: it changes no logical state.

// kickCompaction asks the compaction loop for a snapshot soon; it never
// blocks (a kick already pending covers this one too).
func (f *fsm) kickCompaction() {
	select {
	case f.compactKick <- struct{}{}:
	default:
	}
}

// compactAfterPurge waits for kicks until the store stops.
func (s *Store) compactAfterPurge(f *fsm, snaps raft.SnapshotStore, raftDir string) {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-f.compactKick:
		}
		if err := s.compactNow(snaps, raftDir); err != nil {
			s.log.Warn("compaction after purge", "err", err)
		}
	}
}

// compactNow takes a snapshot and removes every older one.
func (s *Store) compactNow(snaps raft.SnapshotStore, raftDir string) error {
	r := s.raftNode()
	if r == nil {
		return ErrNotOpen
	}
	err := r.Snapshot().Error()
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("snapshot: %w", err)
	}
	removed, err := dropOlderSnapshots(snaps, raftDir)
	if err != nil {
		return err
	}
	s.log.Info("compacted after a purge: snapshot taken, older snapshots removed", "removed", removed)
	return nil
}

// dropOlderSnapshots removes every snapshot but the newest from raft's
// file snapshot store under raftDir (its layout: snapshots/<id>/), as the
// store's own retention would once enough newer ones were taken.
func dropOlderSnapshots(snaps raft.SnapshotStore, raftDir string) (int, error) {
	metas, err := snaps.List() // newest first
	if err != nil {
		return 0, fmt.Errorf("list snapshots: %w", err)
	}
	n := 0
	for _, m := range metas[min(1, len(metas)):] {
		if err := os.RemoveAll(filepath.Join(raftDir, "snapshots", m.ID)); err != nil {
			return n, fmt.Errorf("remove snapshot %s: %w", m.ID, err)
		}
		n++
	}
	return n, nil
}

// CompactNow takes a raft snapshot and removes the older ones on this
// node, as a CompactAfter command does (tests; operators use the purge).
func (s *Store) CompactNow() error {
	return s.compactNow(s.snaps, s.raftDir)
}
