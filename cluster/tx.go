package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// handlerFunc applies one command. It returns the value to put in
// Result.Value, a *CommandError for a business failure (nothing the handler
// wrote is kept), or any other error, which stops the node: an internal
// failure that another replica might not share must not be skipped.
type handlerFunc func(tx *Tx, payload json.RawMessage) (any, error)

// handlerSpec describes a kind: the logic version that introduced it (a
// leader proposes it only once every voter runs at least that version) and
// how many IDs the proposer generates for it.
type handlerSpec struct {
	Since int
	IDs   int
}

type handlerEntry struct {
	spec  handlerSpec
	apply handlerFunc
}

// handlers is the kind -> handler table, filled by init functions (one file
// per command family, consul style) and read-only afterwards.
var handlers = map[Kind]handlerEntry{}

func registerHandler(k Kind, spec handlerSpec, fn handlerFunc) {
	if _, dup := handlers[k]; dup {
		panic("cluster: handler registered twice: " + string(k))
	}
	if spec.Since < 1 || spec.Since > LogicVersion {
		panic(fmt.Sprintf("cluster: handler %s: Since %d outside 1..%d", k, spec.Since, LogicVersion))
	}
	handlers[k] = handlerEntry{spec: spec, apply: fn}
}

// Kinds lists the command kinds this binary knows, sorted.
func Kinds() []Kind {
	out := make([]Kind, 0, len(handlers))
	for k := range handlers {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Tx is what a handler sees while applying one command: typed reads and
// writes on the batch's Badger transaction (its own writes are buffered and
// kept only if it succeeds), the FSM clock, the proposer's IDs, and the audit
// helper.
type Tx struct {
	txn     *badger.Txn
	env     *envelope
	index   uint64
	now     time.Time
	nextID  int
	pending map[string]*[]byte // nil value pointer target = delete
	order   []string
	audits  int
}

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
	item, err := tx.txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	val, err = item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	return val, true, nil
}

// Get decodes the JSON record at key into v; ok is false when absent.
func (tx *Tx) Get(key string, v any) (ok bool, err error) {
	b, ok, err := tx.GetRaw(key)
	if err != nil || !ok {
		return ok, err
	}
	if err := json.Unmarshal(b, v); err != nil {
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

// Scan calls fn for each key with prefix in key order, as the batch
// transaction sees it before this command's own pending writes.
func (tx *Tx) Scan(prefix string, fn func(key string, val []byte) error) error {
	return scanTxn(tx.txn, prefix, fn)
}

// Audit records an audit event for entity in the same transaction as the
// command's effects.
func (tx *Tx) Audit(action, entity string, details any) {
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
		Actor:   tx.env.Actor,
		Action:  action,
		Entity:  entity,
		Kind:    tx.env.Kind,
		Details: raw,
	}
	// Ignore the encode error: AuditEvent always encodes.
	_ = tx.Put(keyAudit(entity, tx.index, tx.audits), ev)
	tx.audits++
}

// flush moves the command's pending writes into the batch transaction.
func (tx *Tx) flush() error {
	for _, k := range tx.order {
		p := tx.pending[k]
		var err error
		if p == nil {
			err = tx.txn.Delete([]byte(k))
		} else {
			err = tx.txn.Set([]byte(k), *p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanValues appends to out every value under prefix, in key order,
// decoded from JSON.
func scanValues[T any](txn *badger.Txn, prefix string, out []T) ([]T, error) {
	err := scanTxn(txn, prefix, func(key string, val []byte) error {
		var x T
		if err := json.Unmarshal(val, &x); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func scanTxn(txn *badger.Txn, prefix string, fn func(key string, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(opts.Prefix); it.ValidForPrefix(opts.Prefix); it.Next() {
		item := it.Item()
		val, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("scan %s: %w", prefix, err)
		}
		if err := fn(string(item.KeyCopy(nil)), val); err != nil {
			return err
		}
	}
	return nil
}

// decodeStrict decodes JSON refusing unknown fields and trailing data.
func decodeStrict(raw []byte, v any) error {
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
