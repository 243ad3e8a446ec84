package cluster

import (
	"crypto/sha256"
	"sync"
)

// checkedTable hands what a command's Check computed on the leader to its
// Apply on the same node (Tx.Checked), so the leader does not decode the
// same records and run the same engine twice for one command. It is keyed
// by the SHA-256 of the command's encoded envelope (unique: the envelope
// carries fresh IDs or the proposer's nanosecond clock, and the same bytes
// reach the FSM; a digest rather than the bytes, so that the table stays
// small whatever the payloads), holds at most checkedMax entries (oldest
// dropped: a proposal that never commits, say because leadership moved, is
// forgotten), and every entry is taken at most once. Followers never have
// entries: they decide from the log alone. An entry, even without a memo,
// also marks the command as proposed here: someone waits for its Result
// (resource.go).
type checkedTable struct {
	mu    sync.Mutex
	memos map[[sha256.Size]byte]any
	order [][sha256.Size]byte // insertion order, for dropping the oldest
}

const checkedMax = 1024

func newCheckedTable() *checkedTable {
	return &checkedTable{memos: make(map[[sha256.Size]byte]any)}
}

// put remembers memo (nil: nothing computed) for the envelope env, and
// that this node proposed it.
func (t *checkedTable) put(env []byte, memo any) {
	if t == nil {
		return
	}
	k := sha256.Sum256(env)
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.order) >= checkedMax {
		delete(t.memos, t.order[0])
		t.order = t.order[1:]
	}
	t.memos[k] = memo
	t.order = append(t.order, k)
}

// take returns and forgets the memo kept for env; mine is false when
// env was not put (not proposed here, or dropped as the oldest).
func (t *checkedTable) take(env []byte) (memo any, mine bool) {
	if t == nil {
		return nil, false
	}
	t.mu.Lock()
	empty := len(t.memos) == 0
	t.mu.Unlock()
	if empty {
		return nil, false // a follower: nothing to hash the envelope for
	}
	k := sha256.Sum256(env)
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.memos[k]
	if !ok {
		return nil, false
	}
	delete(t.memos, k)
	// order keeps the key until it reaches the front; put skips keys
	// already gone (delete of a missing key is a no-op).
	return m, true
}

// forget drops the memo of a proposal that will not be applied here.
func (t *checkedTable) forget(env []byte) { t.take(env) }
