package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"
)

// Replica is the state machine without raft: it applies a log handed to
// it, exactly as a node's FSM does. Tests of the domain packages, replay of
// a saved log and checks of a data dir use it.
type Replica struct {
	f       *fsm
	mu      sync.Mutex
	fatals  []error
	checked *checkedTable // what Check computed, for Apply (Tx.Checked)
}

// OpenReplica opens (or creates) the state under dir (a node's
// <data dir>/fsm) with the engine's membership commands and cmds.
func OpenReplica(dir string, cmds []Command, log *slog.Logger) (*Replica, error) {
	return OpenEncryptedReplica(dir, nil, cmds, log)
}

// OpenEncryptedReplica is OpenReplica for state encrypted under the master
// key (Config.EncryptionKey; nil: none).
func OpenEncryptedReplica(dir string, key []byte, cmds []Command, log *slog.Logger) (*Replica, error) {
	keys, err := deriveKeys(key)
	if err != nil {
		return nil, err
	}
	t, err := newCommandTable(append(membershipCommands(), cmds...))
	if err != nil {
		return nil, err
	}
	r := &Replica{checked: newCheckedTable()}
	f, err := openFSM(dir, keys.badgerKey(), t, log, nil, func(err error) {
		r.mu.Lock()
		r.fatals = append(r.fatals, err)
		r.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	f.checked = r.checked
	r.f = f
	return r, nil
}

// ApplyBatch applies entries as raft would hand them over: each element of
// the answer is the entry's []*Result, nil for a skipped or configuration
// entry, or a fatal error's result.
func (r *Replica) ApplyBatch(logs []*raft.Log) []any { return r.f.ApplyBatch(logs) }

// Fatals are the errors that stopped the state machine (at most one).
func (r *Replica) Fatals() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.fatals...)
}

// Read runs fn on a consistent view of the state.
func (r *Replica) Read(fn func(v *View) error) error {
	h, err := r.f.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	return fn(&View{txn: txn})
}

// StateHash is Store.StateHash of this replica.
func (r *Replica) StateHash() (string, uint64, error) { return r.f.stateHash() }

// AppliedIndex is the index of the last entry applied.
func (r *Replica) AppliedIndex() uint64 { return r.f.appliedIndex() }

// Snapshot writes the state as a raft snapshot would hold it.
func (r *Replica) Snapshot() (raft.FSMSnapshot, error) { return r.f.Snapshot() }

// WaitApplied blocks until index has applied or ctx ends.
func (r *Replica) WaitApplied(ctx context.Context, index uint64) error {
	return r.f.waitApplied(ctx, index)
}

// Close closes the state.
func (r *Replica) Close() error { return r.f.close() }

// View opens a consistent view of the state that stays valid until done is
// called (tests and tools that read across several calls).
func (r *Replica) View() (v *View, done func(), err error) {
	h, err := r.f.acquire()
	if err != nil {
		return nil, nil, err
	}
	txn := h.db.NewTransaction(false)
	return &View{txn: txn}, func() { txn.Discard(); h.release() }, nil
}

// Check runs the Check of the command env (an encoded Envelope) on the
// replica's state, as a leader does before proposing it, and keeps what
// the check computed for the command's Apply on this replica (Tx.Checked),
// as the leader's own FSM gets it. A refusal is returned as a
// *CommandError (nothing kept). It returns what it kept. Tests use it to
// apply a log as the leader that proposed it did, and compare with a
// replica that did not check.
func (r *Replica) Check(env []byte) (any, error) {
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("check: %w: %v", errBadEntry, err)
	}
	h, ok := r.f.cmds[e.Kind]
	if !ok {
		return nil, fmt.Errorf("check: %w %q", errUnknownKind, e.Kind)
	}
	if h.Check == nil {
		return nil, nil
	}
	var memo any
	if err := r.Read(func(v *View) error {
		var err error
		memo, err = h.Check(v, e.Actor, e.Time, e.Payload)
		return err
	}); err != nil {
		return nil, err
	}
	r.checked.put(env, memo)
	return memo, nil
}
