package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Command declares one command kind, once: how the leader checks it and
// how every replica applies it. Domain packages under cluster/ declare
// their commands and the node passes the whole set to the Store
// (Config.Commands); the engine knows no kind by itself.
//
// A request becomes a command in three steps: the HTTP layer decodes and
// validates its shape; the leader looks up its Idempotency-Key (a retry gets
// the first Result, whatever the state is now) and then runs Check against
// the state as it stands, so a refused command is never proposed; Apply
// executes it in the FSM. Apply always decides afresh from the state it
// finds (it repeats what Check checked), because state may have changed
// between the check and the commit, and every replica must decide alike
// from the log alone.
type Command struct {
	Kind Kind
	// Since is the logic version that introduced the kind: a leader
	// proposes it only once every voter runs at least that version.
	Since int
	// IDs is how many sortable IDs the proposer generates for it.
	IDs int
	// Check, optional, refuses a command that cannot succeed with a
	// *CommandError before it is proposed. It reads the leader's state at
	// the leader's clock now, and must not write. What else it returns
	// (nil for nothing) is handed to Apply on this node as Tx.Checked, so
	// the leader need not decode and compute the same thing twice.
	Check func(r Reader, actor Actor, now time.Time, payload json.RawMessage) (checked any, err error)
	// Apply executes the command. It returns the value to put in
	// Result.Value, a *CommandError for a business failure (nothing it
	// wrote is kept), or any other error, which stops the node: an internal
	// failure that another replica might not share must not be skipped.
	Apply func(tx *Tx, payload json.RawMessage) (any, error)
	// Reread, for a command whose Apply returns a *Resource, reads that
	// resource again by its id as it is now (ok false: it is gone): what
	// a retry of the command gets once its idempotency record names the
	// resource rather than holding its bytes (resource.go).
	Reread func(r Reader, id string) (value json.RawMessage, ok bool, err error)
	// CompactAfter: once the command has applied without a business
	// failure, every node takes a raft snapshot and drops its older ones
	// (compact.go), so what the command deleted leaves the raft log and
	// the snapshots as well as the state (a retention purge).
	CompactAfter bool
}

// commandTable is the kind -> Command table of one Store, read-only once
// built.
type commandTable map[Kind]Command

func newCommandTable(cmds []Command) (commandTable, error) {
	t := make(commandTable, len(cmds))
	for _, c := range cmds {
		if _, dup := t[c.Kind]; dup {
			return nil, fmt.Errorf("command %s declared twice", c.Kind)
		}
		if c.Since < 1 || c.Since > LogicVersion {
			return nil, fmt.Errorf("command %s: Since %d outside 1..%d", c.Kind, c.Since, LogicVersion)
		}
		if c.Apply == nil {
			return nil, fmt.Errorf("command %s: no Apply", c.Kind)
		}
		t[c.Kind] = c
	}
	return t, nil
}

// Kinds lists the kinds of cmds, sorted.
func Kinds(cmds []Command) []Kind {
	out := make([]Kind, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, c.Kind)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Reader reads FSM state: a Tx while applying a command, a View for a
// query. Keys are strings; records are JSON.
type Reader interface {
	// GetRaw returns the value at key; ok is false when absent.
	GetRaw(key string) (val []byte, ok bool, err error)
	// Get decodes the JSON record at key into v; ok is false when absent.
	Get(key string, v any) (ok bool, err error)
	// Scan calls fn for each key with prefix, in key order, starting at
	// from (prefix+from; "" starts at the prefix). fn may return ErrStop
	// to end the scan early without error. val is a copy: fn may keep it.
	Scan(prefix, from string, fn func(key string, val []byte) error) error
	// Keys is Scan without the values (cheaper: nothing is fetched).
	Keys(prefix, from string, fn func(key string) error) error
}

// ErrStop, returned by a Scan or Keys callback, ends the scan early; the
// scan then returns nil.
var ErrStop = errors.New("stop scan")

var (
	_ Reader = (*Tx)(nil)
	_ Reader = (*View)(nil)
)

// Tx is what a handler sees while applying one command: typed reads and
// writes on the batch's Badger transaction (its own writes are buffered and
// kept only if it succeeds), the FSM clock, the proposer's IDs, and the audit
// helper.
type Tx struct {
	part    *partTxn
	env     *Envelope
	index   uint64
	now     time.Time
	nextID  int
	pending map[string]*[]byte // nil value pointer target = delete
	order   []string
	audits  int
	checked any // what the leader's Check computed for this command (Checked)
}

// Checked is what this command's Check computed on this node before it was
// proposed (nil on a follower, in replay, or when Check kept nothing). The
// state may have changed since: Apply reuses it only after verifying that
// what it depends on is as Check saw it (for a record, the same bytes), so
// the result is exactly what deciding afresh would give.
func (tx *Tx) Checked() any { return tx.checked }

// Now is the FSM clock: the later of the command's proposer time and the last
// applied command's time. Deterministic on every replica.
func (tx *Tx) Now() time.Time { return tx.now }

// Index is the raft index of the entry carrying this command.
func (tx *Tx) Index() uint64 { return tx.index }

// Actor is who proposed the command.
func (tx *Tx) Actor() Actor { return tx.env.Actor }

// LogicVersion is the logic version the command was proposed under; handlers
// branch on it when their behaviour changes.
func (tx *Tx) LogicVersion() int { return tx.env.LogicVersion }

// NewID returns the next proposer-generated ID. Running out is an internal
// error (handlerSpec.IDs too small), which stops the node.
func (tx *Tx) NewID() (string, error) {
	if tx.nextID >= len(tx.env.IDs) {
		return "", fmt.Errorf("command %s carries %d ids, handler wants more", tx.env.Kind, len(tx.env.IDs))
	}
	id := tx.env.IDs[tx.nextID]
	tx.nextID++
	return id, nil
}

func (tx *Tx) setPending(key string, v *[]byte) {
	if _, ok := tx.pending[key]; !ok {
		tx.order = append(tx.order, key)
	}
	tx.pending[key] = v
}

// GetRaw reads a key: this command's own pending writes first, then the batch
// transaction. ok is false when absent.
func (tx *Tx) GetRaw(key string) (val []byte, ok bool, err error) {
	if p, found := tx.pending[key]; found {
		if p == nil {
			return nil, false, nil
		}
		return *p, true, nil
	}
	return tx.part.getRaw(key)
}

// Get decodes the JSON record at key into v; ok is false when absent.
func (tx *Tx) Get(key string, v any) (ok bool, err error) {
	b, ok, err := tx.GetRaw(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := DecodeRecord(b, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// PutRaw buffers a write of raw bytes.
func (tx *Tx) PutRaw(key string, val []byte) {
	v := append([]byte{}, val...)
	tx.setPending(key, &v)
}

// Put buffers a write of v as JSON.
func (tx *Tx) Put(key string, v any) error {
	_, err := tx.PutJSON(key, v)
	return err
}

// PutJSON is Put that also returns the encoded bytes, so a handler can return
// them as its Result value (json.RawMessage) without encoding twice. The
// caller must not modify them.
func (tx *Tx) PutJSON(key string, v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	tx.setPending(key, &b)
	return b, nil
}

// Delete buffers a deletion.
func (tx *Tx) Delete(key string) { tx.setPending(key, nil) }

// Deleted reports whether this command has deleted key (and not written
// it again since).
func (tx *Tx) Deleted(key string) bool {
	v, ok := tx.pending[key]
	return ok && v == nil
}

// Scan calls fn for each key with prefix in key order from prefix+from, as
// the batch transaction sees it before this command's own pending writes.
func (tx *Tx) Scan(prefix, from string, fn func(key string, val []byte) error) error {
	return tx.part.scan(prefix, from, true, fn)
}

// ScanOwn is Scan that also sees what this command itself has written
// (Scan sees the earlier commands' writes only): a command that appends
// to a log and then reads the log back whole.
func (tx *Tx) ScanOwn(prefix, from string, fn func(key string, val []byte) error) error {
	start := prefix + from
	var own []string
	for _, k := range tx.order {
		if strings.HasPrefix(k, prefix) && k >= start {
			own = append(own, k)
		}
	}
	if len(own) == 0 {
		return tx.Scan(prefix, from, fn)
	}
	slices.Sort(own)
	own = slices.Compact(own)
	stopped := false
	user := fn
	fn = func(key string, val []byte) error {
		err := user(key, val)
		if errors.Is(err, ErrStop) {
			stopped = true
		}
		return err
	}
	i := 0
	// emit hands fn the command's own keys before key ("" for all).
	emit := func(key string) error {
		for ; i < len(own) && (key == "" || own[i] < key); i++ {
			if v := tx.pending[own[i]]; v != nil {
				if err := fn(own[i], slices.Clone(*v)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := tx.part.scan(prefix, from, true, func(key string, val []byte) error {
		if err := emit(key); err != nil {
			return err
		}
		if i < len(own) && own[i] == key {
			i++
			if v := tx.pending[key]; v != nil {
				return fn(key, slices.Clone(*v))
			}
			return nil // deleted by this command
		}
		return fn(key, val)
	})
	if err == nil && !stopped {
		err = emit("")
	}
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// Keys is Scan without values.
func (tx *Tx) Keys(prefix, from string, fn func(key string) error) error {
	return tx.part.scan(prefix, from, false, func(key string, _ []byte) error { return fn(key) })
}

// Audit records an audit event for entity in the same transaction as the
// command's effects.
func (tx *Tx) Audit(action, entity string, details any) {
	tx.AuditBy(tx.env.Actor, action, entity, details)
}

// AuditBy is Audit naming another actor than the command's: a command the
// cluster proposes for a person (record.read: who viewed a record).
func (tx *Tx) AuditBy(actor Actor, action, entity string, details any) {
	var raw json.RawMessage
	if details != nil {
		b, err := json.Marshal(details)
		if err == nil {
			raw = b
		}
	}
	ev := AuditEvent{
		Index:   tx.index,
		Time:    tx.now,
		Actor:   actor,
		Action:  action,
		Entity:  entity,
		Kind:    tx.env.Kind,
		Details: raw,
	}
	seq := tx.audits
	if tx.env.LogicVersion >= auditSeqPerEntry {
		seq = tx.part.takeAuditSeq(tx.index, entity, 0)
	} else {
		// Numbered as version 13 numbers it; a version 14 command later
		// in the same entry (the cluster's version rose between two
		// proposals grouped together) numbers its events after it.
		tx.part.takeAuditSeq(tx.index, entity, seq)
	}
	// Ignore the encode error: AuditEvent always encodes.
	_ = tx.Put(keyAudit(entity, tx.index, seq), ev)
	tx.audits++
}

// auditSeqPerEntry: up to logic version 13 an audit event's sequence
// number counted the events of its command only, so when one raft entry
// carried two commands for one entity (the batcher groups concurrent
// proposals: two answers, or an answer and observations, for one
// attendance) the later command's event overwrote the earlier's, and the
// first change went unaudited. From version 14 it counts the events of
// every command of the entry for that entity (partTxn.takeAuditSeq; a
// command refused after auditing leaves a gap). Older entries replay as
// they were applied.
const auditSeqPerEntry = 14

// flush moves the command's pending writes into the batch transaction.
func (tx *Tx) flush() error {
	for _, k := range tx.order {
		tx.part.set(k, tx.pending[k])
	}
	if tx.part.hash.on && len(tx.order) > 0 {
		// The state hash takes the command's writes in key order: what a
		// command leaves behind is deterministic, the order it wrote in
		// need not be (a map walked to write a protocol set's files).
		keys := slices.Clone(tx.order)
		slices.Sort(keys)
		for _, k := range keys {
			tx.part.hash.write(k, tx.pending[k])
		}
	}
	return nil
}

// ScanValues appends to out every record under prefix, in key order,
// decoded from JSON.
func ScanValues[T any](r Reader, prefix string, out []T) ([]T, error) {
	err := r.Scan(prefix, "", func(key string, val []byte) error {
		var x T
		if err := DecodeRecord(val, &x); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func scanTxn(txn *badger.Txn, prefix, from string, fn func(key string, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false // as partTxn.scan: each value is copied once, when reached
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek([]byte(prefix + from)); it.ValidForPrefix(opts.Prefix); it.Next() {
		item := it.Item()
		val, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("scan %s: %w", prefix, err)
		}
		if err := fn(string(item.KeyCopy(nil)), val); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func scanKeys(txn *badger.Txn, prefix, from string, fn func(key string) error) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek([]byte(prefix + from)); it.ValidForPrefix(opts.Prefix); it.Next() {
		if err := fn(string(it.Item().Key())); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// DecodeStrict decodes JSON refusing unknown fields and trailing data.
func DecodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func PayloadError(err error) *CommandError {
	return &CommandError{Code: CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
}

// DecodeCommand is the common start of an Apply handler: the payload
// decoded strictly (unknown fields refused) and validated, with the same
// CommandError on every node when it is not acceptable.
func DecodeCommand[T any, PT interface {
	*T
	Validate() map[string]string
}](raw json.RawMessage) (*T, error) {
	var in T
	if err := DecodeStrict(raw, &in); err != nil {
		return nil, PayloadError(err)
	}
	if f := PT(&in).Validate(); f != nil {
		return nil, Invalid(f)
	}
	return &in, nil
}

// CheckOnly adapts a check that keeps nothing for Apply to Command.Check.
func CheckOnly(check func(r Reader, actor Actor, now time.Time, payload json.RawMessage) error) func(Reader, Actor, time.Time, json.RawMessage) (any, error) {
	return func(r Reader, actor Actor, now time.Time, payload json.RawMessage) (any, error) {
		return nil, check(r, actor, now, payload)
	}
}
