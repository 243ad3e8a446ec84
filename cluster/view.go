package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// View is a read-only, consistent view of the FSM state (one Badger read
// transaction), valid only inside the Read callback.
type View struct {
	txn *badger.Txn
}

// Read runs fn on a consistent view of local state after the consistency
// check: stale on any node; leader and linearizable only on the leader
// (ErrNotLeader / ErrNoLeader elsewhere — forward the request).
func (s *Store) Read(ctx context.Context, c Consistency, fn func(v *View) error) error {
	if s.fsmPtr.Load() == nil {
		return ErrNotOpen
	}
	if q := s.quarantined.Load(); q != nil {
		return fmt.Errorf("%w: %s", ErrQuarantined, *q)
	}
	switch c {
	case ConsistencyStale:
	case ConsistencyLeader, "":
		if _, err := s.leaderRaft(); err != nil {
			return err
		}
	case ConsistencyLinearizable:
		if _, err := s.leaderRaft(); err != nil {
			return err
		}
		if err := s.reads.wait(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("read: unknown consistency %q", c)
	}
	h, err := s.fsmPtr.Load().acquire()
	if err != nil {
		return err
	}
	defer h.release()
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	return fn(&View{txn: txn})
}

// readIndex makes linearizable reads cheap: concurrent readers share one
// round of (note commit index, confirm leadership with a quorum, wait until
// the FSM has applied that index). A reader arriving while a round is running
// waits for the next one, which starts when the current one ends, so every
// round it joins began after the reader did.
type readIndex struct {
	s    *Store
	mu   sync.Mutex
	cur  *readRound
	next *readRound
}

type readRound struct {
	done chan struct{}
	err  error
}

func newReadIndex(s *Store) *readIndex { return &readIndex{s: s} }

func (ri *readIndex) wait(ctx context.Context) error {
	ri.mu.Lock()
	var r *readRound
	switch {
	case ri.cur == nil:
		r = &readRound{done: make(chan struct{})}
		ri.cur = r
		go ri.run(r)
	case ri.next == nil:
		r = &readRound{done: make(chan struct{})}
		ri.next = r
	default:
		r = ri.next
	}
	ri.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("%w: linearizable read: %v", ErrNoLeader, ctx.Err())
	}
}

func (ri *readIndex) run(r *readRound) {
	r.err = ri.round()
	close(r.done)
	ri.mu.Lock()
	ri.cur = ri.next
	ri.next = nil
	if ri.cur != nil {
		go ri.run(ri.cur)
	}
	ri.mu.Unlock()
}

func (ri *readIndex) round() error {
	s := ri.s
	ctx, cancel := context.WithTimeout(context.Background(), s.tuning.ApplyTimeout)
	defer cancel()
	r, err := s.leaderRaft()
	if err != nil {
		return err
	}
	// Until this term's first command has applied, the commit index may
	// lag entries of earlier terms.
	if err := s.waitLeaderReady(ctx); err != nil {
		return fmt.Errorf("%w: leader not ready: %v", ErrNoLeader, err)
	}
	index := r.CommitIndex()
	if err := r.VerifyLeader().Error(); err != nil {
		return mapRaftError(err)
	}
	if err := s.fsmPtr.Load().waitApplied(ctx, index); err != nil {
		return fmt.Errorf("%w: wait applied %d: %v", ErrNoLeader, index, err)
	}
	return nil
}

// GetRaw returns the value at key; ok is false when absent.
func (v *View) GetRaw(key string) ([]byte, bool, error) {
	item, err := v.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", key, err)
	}
	b, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", key, err)
	}
	return b, true, nil
}

// Get decodes the JSON record at key into out; ok is false when absent.
func (v *View) Get(key string, out any) (bool, error) {
	item, err := v.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	err = item.Value(func(b []byte) error {
		if err := DecodeRecord(b, out); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return nil
	})
	return err == nil, err
}

// Scan calls fn for each key under prefix from prefix+from, in key order.
func (v *View) Scan(prefix, from string, fn func(key string, val []byte) error) error {
	return scanTxn(v.txn, prefix, from, fn)
}

// Keys is Scan without values.
func (v *View) Keys(prefix, from string, fn func(key string) error) error {
	return scanKeys(v.txn, prefix, from, fn)
}

func (v *View) get(key string, out any) error {
	item, err := v.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return item.Value(func(b []byte) error {
		if err := DecodeRecord(b, out); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return nil
	})
}

// Audit returns the audit events of entity (e.g. "attendance/<id>") in log
// order.
func (v *View) Audit(entity string) ([]*AuditEvent, error) {
	var out []*AuditEvent
	prefix := prefixAudit + entity + "/"
	err := scanTxn(v.txn, prefix, "", func(key string, val []byte) error {
		if !isAuditSuffix(key[len(prefix):]) {
			// Another entity's event under a longer name: "attendance"
			// is a prefix of every "attendance/<id>".
			return nil
		}
		var ev AuditEvent
		if err := json.Unmarshal(val, &ev); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out = append(out, &ev)
		return nil
	})
	return out, err
}

// AuditPage returns up to limit of entity's events after the cursor after
// ("" from the first), in log order, and the cursor of the last one
// returned when more follow ("" at the end). A cursor is
// "<20-digit index>/<4-digit seq>" (ValidAuditCursor).
func (v *View) AuditPage(entity, after string, limit int) (events []*AuditEvent, next string, err error) {
	prefix := prefixAudit + entity + "/"
	from := ""
	if after != "" {
		from = after + "\x00"
	}
	last := ""
	err = scanTxn(v.txn, prefix, from, func(key string, val []byte) error {
		suffix := key[len(prefix):]
		if !isAuditSuffix(suffix) {
			return nil // another entity's event under a longer name
		}
		if len(events) == limit {
			next = last
			return ErrStop
		}
		var ev AuditEvent
		if err := json.Unmarshal(val, &ev); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		last = suffix
		events = append(events, &ev)
		return nil
	})
	return events, next, err
}

// ValidAuditCursor reports whether s is an audit page cursor.
func ValidAuditCursor(s string) bool { return isAuditSuffix(s) }

// isAuditSuffix reports whether s is what keyAudit puts after the entity:
// "<20-digit index>/<4-digit seq>".
func isAuditSuffix(s string) bool {
	if len(s) != 25 || s[20] != '/' {
		return false
	}
	for i := range len(s) {
		if i != 20 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// Nodes returns the node registry, sorted by id.
func (v *View) Nodes() ([]Node, error) {
	var out []Node
	out, err := ScanValues(v, prefixNode, out)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// AppliedIndex is the applied index this view reflects.
func (v *View) AppliedIndex() (uint64, error) {
	a, _, err := readMeta(v.txn)
	return a, err
}

func (v *View) joinTokenHash() (string, error) {
	item, err := v.txn.Get([]byte(keyJoinTokenHash))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	b, err := item.ValueCopy(nil)
	return string(b), err
}
