package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// The state hash lets members find out that their states differ although
// they applied the same log (a corrupted state store, a log byte changed
// before it was applied, a non-deterministic command). The writes each
// command leaves, in key order (Tx.flush), extend a running SHA-256 chain
// (m/hash); after the first entry at or past every CheckpointEvery-th index
// the chain's value is kept as a checkpoint (m/ckpt/<index>, the last
// checkpointsKept of them). Entries are the same on every member and
// applying them is deterministic, so members that agree on the log agree
// on every checkpoint; members report theirs (GET /v1/cluster/self) and a
// node whose checkpoint differs from the majority's quarantines itself
// (Store.Quarantine).
//
// Chaining starts with logic version stateHashSince, so older entries
// replay as they did and every member starts the chain at the same entry.
const (
	stateHashSince     = 7
	checkpointsKept    = 16
	keyStateHash       = "m/hash"
	prefixCheckpoint   = "m/ckpt/"
	defaultCheckpoints = 256
)

// Checkpoint is the state hash after the entry at Index.
type Checkpoint struct {
	Index uint64 `json:"index"`
	Hash  string `json:"hash"` // hex SHA-256
}

// stateHash is the chain carried by a part of a batch: from the committed
// value, extended by the part's writes, with the checkpoints it passed.
type stateHash struct {
	on    bool // the command being applied is at stateHashSince or later
	sum   [32]byte
	next  uint64 // index of the next checkpoint
	every uint64
	added []Checkpoint
}

// write extends the chain with one write (v nil: a delete).
func (h *stateHash) write(key string, v *[]byte) {
	if !h.on {
		return
	}
	d := sha256.New()
	d.Write(h.sum[:])
	var n [binary.MaxVarintLen64]byte
	d.Write(n[:binary.PutUvarint(n[:], uint64(len(key)))])
	d.Write([]byte(key))
	if v == nil {
		d.Write([]byte{0})
	} else {
		d.Write([]byte{1})
		d.Write(n[:binary.PutUvarint(n[:], uint64(len(*v)))])
		d.Write(*v)
	}
	d.Sum(h.sum[:0])
}

// entryDone records a checkpoint when the entry at index reached the next one.
func (h *stateHash) entryDone(index uint64) {
	if h.every == 0 || index < h.next || h.sum == ([32]byte{}) {
		// Nothing chained yet (entries before stateHashSince): no
		// checkpoint, so old logs replay to the same state.
		return
	}
	h.added = append(h.added, Checkpoint{Index: index, Hash: hex.EncodeToString(h.sum[:])})
	h.next = (index/h.every + 1) * h.every
}

// hashState is the FSM's committed chain and its last checkpoints.
type hashState struct {
	mu    sync.Mutex
	sum   [32]byte
	next  uint64
	every uint64
	ckpts []Checkpoint // oldest first, at most checkpointsKept
}

// begin is the chain a new part starts from.
func (s *hashState) begin() stateHash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return stateHash{sum: s.sum, next: s.next, every: s.every}
}

// put writes the part's chain and checkpoints into txn, dropping the
// checkpoints past checkpointsKept.
func (s *hashState) put(txn *badger.Txn, h *stateHash) error {
	if h.sum == ([32]byte{}) {
		return nil // nothing chained yet (see entryDone)
	}
	if err := txn.Set([]byte(keyStateHash), h.sum[:]); err != nil {
		return err
	}
	if len(h.added) == 0 {
		return nil
	}
	s.mu.Lock()
	all := append(append([]Checkpoint(nil), s.ckpts...), h.added...)
	s.mu.Unlock()
	for _, c := range h.added {
		if err := txn.Set([]byte(keyCheckpoint(c.Index)), []byte(c.Hash)); err != nil {
			return err
		}
	}
	for len(all) > checkpointsKept {
		if err := txn.Delete([]byte(keyCheckpoint(all[0].Index))); err != nil {
			return err
		}
		all = all[1:]
	}
	return nil
}

// committed makes the part's chain the FSM's.
func (s *hashState) committed(h *stateHash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sum, s.next = h.sum, h.next
	s.ckpts = append(s.ckpts, h.added...)
	if n := len(s.ckpts) - checkpointsKept; n > 0 {
		s.ckpts = append([]Checkpoint(nil), s.ckpts[n:]...)
	}
}

// load reads the chain and checkpoints from the state (after open or a
// restore).
func (s *hashState) load(txn *badger.Txn) error {
	var sum [32]byte
	item, err := txn.Get([]byte(keyStateHash))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return err
	default:
		if err := item.Value(func(v []byte) error {
			if len(v) != len(sum) {
				return fmt.Errorf("state hash: %d bytes", len(v))
			}
			copy(sum[:], v)
			return nil
		}); err != nil {
			return err
		}
	}
	var ckpts []Checkpoint
	err = scanTxn(txn, prefixCheckpoint, "", func(key string, val []byte) error {
		var idx uint64
		if _, err := fmt.Sscanf(key[len(prefixCheckpoint):], "%d", &idx); err != nil {
			return fmt.Errorf("checkpoint key %q: %w", key, err)
		}
		ckpts = append(ckpts, Checkpoint{Index: idx, Hash: string(val)})
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.every == 0 {
		s.every = defaultCheckpoints
	}
	s.sum, s.ckpts, s.next = sum, ckpts, s.every
	if len(ckpts) > 0 {
		s.next = (ckpts[len(ckpts)-1].Index/s.every + 1) * s.every
	}
	return nil
}

// checkpoints returns a copy of the last checkpoints, oldest first.
func (s *hashState) checkpoints() []Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Checkpoint(nil), s.ckpts...)
}

func keyCheckpoint(index uint64) string { return fmt.Sprintf("%s%020d", prefixCheckpoint, index) }

// setEvery sets the checkpoint interval (0: the default). Every member of
// a cluster must use the same.
func (s *hashState) setEvery(every uint64) {
	if every == 0 {
		every = defaultCheckpoints
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every = every
	s.next = every
	if n := len(s.ckpts); n > 0 {
		s.next = (s.ckpts[n-1].Index/every + 1) * every
	}
}

// Checkpoints are this node's last state hash checkpoints, oldest first.
func (s *Store) Checkpoints() []Checkpoint {
	f := s.fsmPtr.Load()
	if f == nil {
		return nil
	}
	return f.hashes.checkpoints()
}

// ErrQuarantined: this node found its state differs from the majority's
// and stopped (Store.Quarantine).
var ErrQuarantined = errors.New("this node's state differs from the cluster majority's; it has stopped serving")

// Quarantine stops this node for good: its state differs from what the
// majority holds (reason names the first differing checkpoint). A leader
// hands leadership over first; then raft shuts down, so the node neither
// leads nor votes nor takes entries, and every read fails with
// ErrQuarantined (the node is not ready). The data dir is kept for an
// operator to examine; the node is rebuilt by removing it from the cluster
// and joining it again with an empty data dir.
func (s *Store) Quarantine(reason string) {
	if !s.quarantined.CompareAndSwap(nil, &reason) {
		return
	}
	s.log.Error("state diverged from the cluster majority: quarantined (not ready, raft stopped)", "reason", reason)
	r := s.raftNode()
	if r == nil {
		return
	}
	if r.State() == raft.Leader {
		if err := r.LeadershipTransfer().Error(); err != nil {
			s.log.Warn("quarantine: leadership transfer", "err", err)
		}
	}
	if err := r.Shutdown().Error(); err != nil {
		s.log.Warn("quarantine: raft shutdown", "err", err)
	}
}

// Quarantined is the reason this node stopped ("" when it has not).
func (s *Store) Quarantined() string {
	if q := s.quarantined.Load(); q != nil {
		return *q
	}
	return ""
}
