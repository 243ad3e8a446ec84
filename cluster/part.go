package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// partTxn is what the commands of one part of a batch (fsm.applyPart) read
// and write through: the state as committed when the part began, seen
// through a read-only Badger transaction, under the writes of the part's
// earlier commands, which it keeps itself in key order and hands to one
// write transaction at commit.
//
// A Badger write transaction would hold those writes too, but it sorts all
// of them again for every iterator it opens, and commands scan index
// prefixes several times each: in a batch of a few hundred commands that
// sorting was a tenth of a node's CPU. Keeping the writes sorted as they
// come makes a scan a merge of two ordered streams, and a key several
// commands rewrite (an attendance changed twice in one batch) is written
// to Badger once.
type partTxn struct {
	db    *badger.DB
	read  *badger.Txn
	vals  map[string]*[]byte // nil target: deleted in this part
	keys  []string           // the keys of vals, sorted
	bytes int                // keys and values written, for the commit
	// hash is the state hash chain extended by every write in order
	// (statehash.go); hashes, when set, commits it with the part.
	hash   stateHash
	hashes *hashState
	// derived, when set, is told of every write (Tx.Derived).
	derived *derivedCache
	// nodesWritten: the part writes the node registry (Store.Leader's
	// cache of the leader's HTTP address is then stale once it commits).
	nodesWritten bool
	// auditIndex is the entry whose audit events are being numbered:
	// auditCount of auditEntity's while it is the only entity, then
	// auditNext's counts.
	auditIndex  uint64
	auditEntity string
	auditCount  int
	auditNext   map[string]int
}

func newPartTxn(db *badger.DB) *partTxn {
	return &partTxn{db: db, read: db.NewTransaction(false), vals: map[string]*[]byte{}}
}

// discard ends the part without committing.
func (p *partTxn) discard() { p.read.Discard() }

// set records a write (v nil: delete).
func (p *partTxn) set(key string, v *[]byte) {
	if _, ok := p.vals[key]; !ok {
		i, _ := slices.BinarySearch(p.keys, key)
		p.keys = slices.Insert(p.keys, i, key)
	}
	p.vals[key] = v
	p.derived.touch(key)
	if strings.HasPrefix(key, prefixNode) {
		p.nodesWritten = true
	}
	p.bytes += len(key)
	if v != nil {
		p.bytes += len(*v)
	}
}

// takeAuditSeq numbers an audit event of entity under entry index
// (auditSeqPerEntry): the entry's next number for that entity, at least
// min, whichever of the entry's commands writes it; the numbers up to the
// one returned are taken. One count per entity, kept for the entry being
// applied (a part holds whole entries, in order), so numbering costs a
// map lookup however many events an entry has (a record.read command
// audits up to 256 reads, several of them of one record), and no map
// while an entry's events are of one entity.
func (p *partTxn) takeAuditSeq(index uint64, entity string, min int) int {
	if p.auditIndex != index {
		p.auditIndex, p.auditEntity, p.auditCount = index, entity, 0
		clear(p.auditNext)
	}
	if p.auditNext == nil {
		if entity == p.auditEntity {
			n := max(p.auditCount, min)
			p.auditCount = n + 1
			return n
		}
		p.auditNext = map[string]int{p.auditEntity: p.auditCount}
	}
	n := max(p.auditNext[entity], min)
	p.auditNext[entity] = n + 1
	return n
}

// getRaw reads key: this part's writes first, then the committed state.
// The bytes are the caller's.
func (p *partTxn) getRaw(key string) ([]byte, bool, error) {
	if v, ok := p.vals[key]; ok {
		if v == nil {
			return nil, false, nil
		}
		return *v, true, nil
	}
	item, err := p.read.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	val, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	return val, true, nil
}

// scan calls fn for each key with prefix from prefix+from in key order, with
// its value when values is set (nil otherwise); ErrStop ends it quietly.
func (p *partTxn) scan(prefix, from string, values bool, fn func(key string, val []byte) error) error {
	start := prefix + from
	opts := badger.DefaultIteratorOptions
	// Values are copied one at a time as fn takes them: prefetching
	// parses and copies the next hundred items' values on every Seek,
	// though most scans are short or stop early, and then each was
	// copied again.
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := p.read.NewIterator(opts)
	defer it.Close()
	it.Seek([]byte(start))
	i := sort.SearchStrings(p.keys, start)
	for {
		var stored string
		haveStored := it.ValidForPrefix(opts.Prefix)
		if haveStored {
			stored = string(it.Item().Key())
		}
		haveOwn := i < len(p.keys) && strings.HasPrefix(p.keys[i], prefix)
		if !haveStored && !haveOwn {
			return nil
		}
		var key string
		var val []byte
		switch {
		case haveOwn && (!haveStored || p.keys[i] <= stored):
			key = p.keys[i]
			i++
			if haveStored && key == stored {
				it.Next() // this part's write replaces the stored value
			}
			v := p.vals[key]
			if v == nil {
				continue // deleted in this part
			}
			if values {
				val = slices.Clone(*v)
			}
		default:
			key = stored
			if values {
				var err error
				if val, err = it.Item().ValueCopy(nil); err != nil {
					return fmt.Errorf("scan %s: %w", prefix, err)
				}
			}
			it.Next()
		}
		if err := fn(key, val); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
}

// commit writes the part's writes and the applied index and clock in one
// Badger transaction. badger.ErrTxnTooBig means the part must be smaller.
func (p *partTxn) commit(applied uint64, clock int64) error {
	txn := p.db.NewTransaction(true)
	defer txn.Discard()
	for _, k := range p.keys {
		var err error
		if v := p.vals[k]; v == nil {
			err = txn.Delete([]byte(k))
		} else {
			err = txn.Set([]byte(k), *v)
		}
		if err != nil {
			return err
		}
	}
	if err := putMeta(txn, applied, clock); err != nil {
		return err
	}
	if p.hashes != nil {
		if err := p.hashes.put(txn, &p.hash); err != nil {
			return err
		}
	}
	return txn.Commit()
}
