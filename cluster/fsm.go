package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/hashicorp/raft"
)

// fsm is the raft.BatchingFSM over Badger. Only raft's FSM goroutine calls
// ApplyBatch, Snapshot and Restore (serially); readers take a reference to the
// current database handle.
type fsm struct {
	dir     string // <data dir>/fsm; databases live in db-<generation> under it
	key     []byte // Badger's encryption key; nil: none
	cmds    commandTable
	log     *slog.Logger
	metrics *metrics
	onFatal func(error)

	mu     sync.RWMutex // guards h (Restore swaps it) and closed
	h      *dbHandle
	closed bool

	gcMu   sync.Mutex    // held by Restore and by each value-log GC step (vloggc.go)
	gcKick chan struct{} // a snapshot asks for a value-log GC pass
	// compactKick: a command declared CompactAfter applied (compact.go).
	compactKick chan struct{}

	applied    atomic.Uint64
	hashes     hashState     // the state hash chain and its checkpoints (statehash.go)
	clockNanos atomic.Int64  // FSM clock, unix nanos
	applyCount atomic.Uint64 // commands applied since open (tests: proves no replay)
	commits    atomic.Uint64 // Badger transactions committed by ApplyBatch
	restores   atomic.Uint64 // snapshots restored since open
	// nodesGen counts commits and restores that changed the node
	// registry, each counted once it is visible to reads (Store.Leader).
	nodesGen atomic.Uint64
	fatalErr atomic.Pointer[fatalError]

	// checked holds what the leader's checks computed (Tx.Checked); nil
	// in a Replica, which only replays.
	checked *checkedTable
	// proposerValuesOnly: build the bytes of a Result that names its
	// resource only for commands this node proposed (a Store's FSM); a
	// Replica and tests build every Result whole.
	proposerValuesOnly bool
	// derived holds values built from whole key ranges for Tx.Derived.
	derived *derivedCache

	notifyMu sync.Mutex
	notifyCh chan struct{} // closed and replaced whenever applied advances or the FSM stops

	// held, while set, holds ApplyBatch back until it is closed
	// (Store.HoldApply: a lagging replica, for tests and drills).
	held atomic.Pointer[chan struct{}]
}

type dbHandle struct {
	db   *badger.DB
	dir  string
	gen  int
	refs sync.WaitGroup
}

// fatalResult is the ApplyFuture response for an entry the FSM refused.
type fatalResult struct{ err error }

var _ raft.BatchingFSM = (*fsm)(nil)

// BadgerOptions sizes Badger for a modest on-premise node rather than
// Badger's big-server defaults (64 MiB memtables x5, 256 MiB block cache);
// a node's resident memory stays bounded under any load (README, Memory):
//   - 4 MiB memtables, at most 2 in memory (one taking writes, one being
//     flushed): each costs its arena on the heap, its mapped write-ahead
//     file and, while flushed, a table built in memory.
//   - 1 MiB tables at the base level, and tables not compressed. Badger
//     builds every table in memory, in an allocator it keeps afterwards
//     in a pool of up to 8 for the next build (ristretto's z.AllocatorPool;
//     without the jemalloc build these are Go heap). An allocator grows to
//     the largest table built in it, about twice the table with encryption
//     at rest (the blocks and their ciphertext) and three times with
//     Snappy as well. With 8 MiB memtables, 2 MiB tables and Snappy the
//     pool alone held 273 MB live after 40 s of create load at C=64 (heap
//     profile, 6 December 2026), the node's anonymous memory rose without
//     end, and under the 128 MiB soft limit the GC ran without pause:
//     throughput fell from 2,500 to 800 creates/s within a minute. These
//     sizes keep the pool near 110 MB.
//   - Level 0 compacted from 6 tables (writes stall at 12): with memtables
//     half the size, the same amount of data per compaction into the base
//     level as 3 tables of 8 MiB had been, so compaction rewrites the base
//     level half as often (creates in 40 s at C=64, three pairs back to
//     back: 79,150 / 73,771, 75,842 / 71,285, 70,406 / 66,807 against 3
//     and 8; walk-in 35,893 / 35,361).
//   - 16 MiB block cache, 8 MiB index cache: bounded read memory, enough
//     for the working set of a day's attendances.
//   - Values over 384 bytes go to the value log: index keys, single
//     answers, status changes, queue events, audit events and most
//     idempotency records of attendance writes stay in the LSM tree, while
//     a command's whole answer kept for its Idempotency-Key (from about
//     700 bytes for a new attendance to 20 KB for a late triage answer)
//     and an attendance's current state, triage decision, session and
//     routing decision are written once to the log instead of being
//     rewritten by every compaction. With Badger's 1 MiB default
//     everything went through the tree and a walk-in run at C=64 answered
//     less than half as fast (415 against 198 answers/s, one run each, 5
//     December 2026); at 1 KiB a new attendance's idempotency record
//     still did, and 40 s create runs at C=128 made 80,321 and 80,524
//     creates (p99 454 and 429 ms) against 103,388 and 100,751 (p99 248
//     and 222 ms) at 512 bytes, run in pairs (7 December 2026). From
//     logic version 15 the current state is 450-750 bytes and every
//     command rewrites it: at 512 a new attendance's state went through
//     the tree and creates at C=128 fell by about a tenth (15,298-21,427
//     in 10 s against 18,516-29,125 with version 14, three rounds with
//     the order alternating). At 256 audit events (about 340 bytes, kept
//     for good) filled the value log too: a 5-minute mix peaked at
//     845-879 MB per node, 469-494 MB of it value log. At 384, in pairs
//     against 256: creates 22,700 and 23,402 against 20,304 and 21,782,
//     walk-in 21,649 and 20,504 against 23,008 and 17,452; a 5-minute
//     mix peaked at 697-730 MB (value log 275). The baseline's 165-byte
//     commands stay in the tree at any of these. Value-log GC
//     (vloggc.go) reclaims files as records are replaced and idempotency
//     records expire.
//   - 16 MiB value-log files: a GC step reads a whole file and rewrites
//     what is live in it through the mapping before its pages are handed
//     back (pageout.go), so a smaller file maps in less at once. With 64
//     MiB files and no hand-back after GC steps a 5-minute mix sampled up
//     to 123 MB of value log in RSS; with the hand-back, 16 and 8 MiB gave
//     the same peaks (one run each), so 16 is not tuned finely.
//   - NumVersionsToKeep 1: the FSM needs no history (audit is explicit).
//   - DetectConflicts off: the FSM goroutine is the only writer.
//
// Durability: SyncWrites is off. The raft log (raft-boltdb fsyncs every
// append) already holds every committed entry durably, so the state store
// need not fsync each applied batch: each committed transaction carries
// its applied index, and Badger keeps transactions whole and in order, so
// after kill -9 (the page cache survives) or a power cut (the unsynced tail
// is lost) it holds a prefix of the applied entries with an applied index
// that exactly describes it, and on restart raft re-delivers the entries
// after its newest snapshot, which Apply skips up to that index and applies
// after it (TestPowerLossLosesNothing). What must be durable is the state
// up to the newest snapshot's index, because raft may then drop the log
// before it: the FSM syncs Badger before every snapshot it hands to raft,
// after a snapshot is restored into a new database, and on close.
//
// The load tool's bare raft + Badger baseline opens its store with the same
// options, so the two are compared like for like. log nil: Badger logs
// nothing.
func BadgerOptions(dir string, log *slog.Logger) badger.Options {
	var l badger.Logger
	if log != nil {
		l = badgerLogger{log}
	}
	return badger.DefaultOptions(dir).
		WithValueThreshold(384).
		WithLogger(l).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false).
		WithMemTableSize(4 << 20).
		WithBaseTableSize(1 << 20).
		WithCompression(options.None).
		WithNumMemtables(2).
		WithNumLevelZeroTables(6).
		WithNumLevelZeroTablesStall(12).
		WithBlockCacheSize(16 << 20).
		WithIndexCacheSize(8 << 20).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(false).
		// A flipped byte in a table or the value log is refused when read,
		// not served: every table is checked when opened and every block
		// when read from disk, every value when read from the log.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
}

// openFSM opens (or creates) the current database under dir.
func openFSM(dir string, key []byte, cmds commandTable, log *slog.Logger, m *metrics, onFatal func(error)) (*fsm, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fsm dir: %w", err)
	}
	gen, err := readCurrentGen(dir)
	if err != nil {
		return nil, err
	}
	h, err := openHandle(dir, gen, key, log)
	if err != nil {
		return nil, err
	}
	// Remove databases of other generations (left by a crash mid-restore).
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "db-") && e.Name() != genDir(gen) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	f := &fsm{dir: dir, key: key, cmds: cmds, log: log, metrics: m, onFatal: onFatal, h: h, notifyCh: make(chan struct{}), gcKick: make(chan struct{}, 1),
		compactKick: make(chan struct{}, 1), derived: newDerivedCache()}
	if err := f.loadMeta(h); err != nil {
		_ = h.db.Close()
		return nil, err
	}
	return f, nil
}

func genDir(gen int) string { return fmt.Sprintf("db-%06d", gen) }

func readCurrentGen(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("fsm CURRENT: %w", err)
	}
	gen, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("fsm CURRENT: %w", err)
	}
	return gen, nil
}

// writeCurrentGen atomically points CURRENT at gen (write, fsync, rename,
// fsync dir), so a crash leaves either the old or the new database current.
func writeCurrentGen(dir string, gen int) error {
	tmp := filepath.Join(dir, "CURRENT.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strconv.Itoa(gen) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "CURRENT")); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func openHandle(dir string, gen int, key []byte, log *slog.Logger) (*dbHandle, error) {
	p := filepath.Join(dir, genDir(gen))
	if _, err := verifyTables(p, key); err != nil {
		if errors.Is(err, ErrWrongKey) || errors.Is(err, ErrNotEncrypted) {
			return nil, err
		}
		return nil, fmt.Errorf("the state store is corrupt, refusing to open it (move the data dir aside and join this node again with an empty one): %w", err)
	}
	db, err := badger.Open(withBadgerKey(BadgerOptions(p, log), key))
	if err != nil {
		return nil, fmt.Errorf("open badger %s: %w", p, badgerKeyErr(err, key))
	}
	if err := tightenModes(p); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open badger %s: file modes: %w", p, err)
	}
	return &dbHandle{db: db, dir: p, gen: gen}, nil
}

func (f *fsm) loadMeta(h *dbHandle) error {
	var applied uint64
	var clock int64
	err := h.db.View(func(txn *badger.Txn) error {
		var err error
		if applied, clock, err = readMeta(txn); err != nil {
			return err
		}
		return f.hashes.load(txn)
	})
	if err != nil {
		return fmt.Errorf("fsm meta: %w", err)
	}
	f.applied.Store(applied)
	f.clockNanos.Store(clock)
	return nil
}

func readMeta(txn *badger.Txn) (applied uint64, clock int64, err error) {
	item, err := txn.Get([]byte(keyApplied))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return 0, 0, err
	default:
		if err := item.Value(func(v []byte) error {
			if len(v) != 8 {
				return errors.New("bad applied index")
			}
			applied = binary.BigEndian.Uint64(v)
			return nil
		}); err != nil {
			return 0, 0, err
		}
	}
	item, err = txn.Get([]byte(keyClock))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return 0, 0, err
	default:
		if err := item.Value(func(v []byte) error {
			if len(v) != 8 {
				return errors.New("bad clock")
			}
			clock = int64(binary.BigEndian.Uint64(v))
			return nil
		}); err != nil {
			return 0, 0, err
		}
	}
	return applied, clock, nil
}

// acquire takes a reference on the current database; it fails once the FSM
// is closed.
func (f *fsm) acquire() (*dbHandle, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return nil, ErrNotOpen
	}
	h := f.h
	h.refs.Add(1)
	return h, nil
}

func (h *dbHandle) release() { h.refs.Done() }

func (f *fsm) appliedIndex() uint64 { return f.applied.Load() }

func (f *fsm) clock() time.Time {
	n := f.clockNanos.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (f *fsm) fatal() error {
	if e := f.fatalErr.Load(); e != nil {
		return e
	}
	return nil
}

func (f *fsm) notify() {
	f.notifyMu.Lock()
	close(f.notifyCh)
	f.notifyCh = make(chan struct{})
	f.notifyMu.Unlock()
}

func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.notifyMu.Lock()
		ch := f.notifyCh
		f.notifyMu.Unlock()
		if f.applied.Load() >= index {
			return nil
		}
		if err := f.fatal(); err != nil {
			return fmt.Errorf("%w: %v", ErrFatal, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stopFatal stops the FSM for good: applied index frozen, no snapshots.
func (f *fsm) stopFatal(fe *fatalError) {
	if !f.fatalErr.CompareAndSwap(nil, fe) {
		return
	}
	f.log.Error("state machine stopped: entry cannot be applied by this binary; the node must exit",
		"index", fe.index, "err", fe.err)
	f.notify()
	if f.onFatal != nil {
		go f.onFatal(fe)
	}
}

// Apply implements raft.FSM for completeness; raft uses ApplyBatch.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in one Badger transaction, split
// only when Badger says the transaction is too big; each part records the
// applied index of its last entry in the same transaction.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	if ch := f.held.Load(); ch != nil {
		<-*ch
	}
	start := time.Now() // metrics only; never reaches state
	res := make([]any, len(logs))
	if fe := f.fatalErr.Load(); fe != nil {
		for i := range res {
			res[i] = &fatalResult{err: fe}
		}
		return res
	}
	h, err := f.acquire()
	if err != nil {
		// Only after Close, when raft has already stopped.
		for i := range res {
			res[i] = &fatalResult{err: err}
		}
		return res
	}
	defer h.release()

	commands := 0
	i := 0
	for i < len(logs) {
		n, cmds, fe := f.applyPart(h, logs[i:], res[i:])
		commands += cmds
		i += n
		if fe != nil {
			f.stopFatal(fe)
			for j := i; j < len(logs); j++ {
				res[j] = &fatalResult{err: fe}
			}
			break
		}
	}
	f.notify()
	if f.metrics != nil {
		f.metrics.applyDuration.Observe(time.Since(start).Seconds())
		f.metrics.batchCommands.Observe(float64(commands))
	}
	return res
}

// applyPart applies as many leading entries of logs as fit in one
// transaction and commits them. It returns how many entries it consumed
// (applied or skipped), the number of commands applied, and a fatal error
// for the entry at logs[n] if it stopped there.
func (f *fsm) applyPart(h *dbHandle, logs []*raft.Log, res []any) (n, cmds int, fe *fatalError) {
	var kinds []resultKind
	fits := len(logs) // entries tried in this part; shrinks on ErrTxnTooBig
	for {
		applied := f.applied.Load()
		clock := f.clockNanos.Load()
		lastIdx := applied
		part := newPartTxn(h.db)
		part.hash, part.hashes = f.hashes.begin(), &f.hashes
		part.derived = f.derived
		kinds = kinds[:0]
		cmds = 0
		n = 0
		fe = nil
		for j := 0; j < fits; j++ {
			l := logs[j]
			if l.Index <= applied {
				res[j] = nil // already applied before a restart: skip
				n = j + 1
				continue
			}
			if l.Type != raft.LogCommand {
				// Configuration entries are never decoded as commands;
				// they only advance the applied index.
				res[j] = nil
				lastIdx = l.Index
				part.hash.entryDone(l.Index)
				n = j + 1
				continue
			}
			results, rk, newClock, err := f.applyEntry(part, l, clock)
			if err != nil {
				fe = &fatalError{index: l.Index, err: err}
				break
			}
			clock = newClock
			part.hash.entryDone(l.Index)
			res[j] = results
			kinds = append(kinds, rk...)
			cmds += len(results)
			lastIdx = l.Index
			n = j + 1
		}
		if lastIdx > applied {
			err := part.commit(lastIdx, clock)
			part.discard()
			if err != nil || fe != nil {
				// What was derived from the part's writes is not the state.
				f.derived.reset()
			}
			if errors.Is(err, badger.ErrTxnTooBig) && n > 1 {
				// Start again with half the entries; the rest go in the
				// next part. Applying is deterministic, so the results are
				// the same however the batch is cut.
				fits = n / 2
				continue
			}
			if err != nil {
				return n, 0, &fatalError{index: lastIdx, err: fmt.Errorf("commit: %w", err)}
			}
			f.commits.Add(1)
			if part.nodesWritten {
				f.nodesGen.Add(1) // after the commit: see Store.Leader
			}
			f.hashes.committed(&part.hash)
			f.clockNanos.Store(clock)
			f.applied.Store(lastIdx)
		} else {
			part.discard()
			if fe != nil {
				f.derived.reset()
			}
		}
		break
	}
	f.applyCount.Add(uint64(cmds))
	if f.metrics != nil {
		for _, k := range kinds {
			f.metrics.commands.WithLabelValues(string(k.kind), k.result).Inc()
		}
	}
	for _, k := range kinds {
		if k.result == "ok" && f.cmds[k.kind].CompactAfter {
			f.kickCompaction()
		}
	}
	return n, cmds, fe
}

func putMeta(txn *badger.Txn, applied uint64, clock int64) error {
	var a, c [8]byte
	binary.BigEndian.PutUint64(a[:], applied)
	binary.BigEndian.PutUint64(c[:], uint64(clock))
	if err := txn.Set([]byte(keyApplied), a[:]); err != nil {
		return err
	}
	return txn.Set([]byte(keyClock), c[:])
}

type resultKind struct {
	kind   Kind
	result string // ok | error | replayed
}

// applyEntry decodes and applies every command of one entry. A non-nil error
// is fatal (unknown kind, newer logic version, malformed entry, storage
// failure) except badger.ErrTxnTooBig, which the caller handles.
func (f *fsm) applyEntry(part *partTxn, l *raft.Log, clock int64) ([]*Result, []resultKind, int64, error) {
	raws, err := decodeEntry(l.Data)
	if err != nil {
		return nil, nil, clock, err
	}
	results := make([]*Result, 0, len(raws))
	kinds := make([]resultKind, 0, len(raws))
	var env Envelope
	for i, raw := range raws {
		env = Envelope{}
		if err := DecodeRecord(raw, &env); err != nil {
			return nil, nil, clock, fmt.Errorf("command %d: %w: %v", i, errBadEntry, err)
		}
		memo, mine := f.checked.take(raw)
		r, rk, newClock, err := applyCommand(f.cmds, part, &env, l.Index, clock, memo, mine || !f.proposerValuesOnly)
		if err != nil {
			return nil, nil, clock, fmt.Errorf("apply %s: %w", env.Kind, err)
		}
		clock = newClock
		results = append(results, r)
		kinds = append(kinds, resultKind{kind: env.Kind, result: rk})
	}
	// Idempotency expiry, once per entry (a Badger iterator per command
	// would re-sort the batch's pending writes each time): deterministic,
	// since entries are the log's units whatever the batching.
	if len(raws) > 0 {
		tx := &Tx{part: part, env: &env, index: l.Index, now: time.Unix(0, clock).UTC(), pending: map[string]*[]byte{}}
		if err := pruneIdem(tx, idemPruneMax*len(raws)); err != nil {
			return nil, nil, clock, err
		}
		if err := tx.flush(); err != nil {
			return nil, nil, clock, err
		}
	}
	return results, kinds, clock, nil
}

var (
	errUnknownKind  = errors.New("unknown command kind")
	errNewerVersion = errors.New("command logic version is newer than this binary")
)

// applyCommand is the command processor: stateless apart from the
// transaction, so tests and replay can reuse it.
//
// want says whether a caller waits for the Result (the node proposed the
// command): a Result that names its resource (resource.go) gets its bytes
// only then.
func applyCommand(cmds commandTable, part *partTxn, env *Envelope, index uint64, clock int64, checked any, want bool) (*Result, string, int64, error) {
	h, ok := cmds[env.Kind]
	if !ok {
		return nil, "", clock, fmt.Errorf("%w %q", errUnknownKind, env.Kind)
	}
	if env.LogicVersion > LogicVersion {
		return nil, "", clock, fmt.Errorf("%w: %d > %d", errNewerVersion, env.LogicVersion, LogicVersion)
	}
	if t := env.Time.UnixNano(); t > clock {
		clock = t
	}
	tx := &Tx{part: part, env: env, index: index, now: time.Unix(0, clock).UTC(), pending: map[string]*[]byte{}, checked: checked}
	part.hash.on = env.LogicVersion >= stateHashSince

	// prevIdem is an expired record the command's key replaces (idempotency.go).
	var prevIdem *idemRecord
	if env.Idempotency != nil {
		var rec idemRecord
		found, err := tx.Get(keyIdem(env.Idempotency.Key), &rec)
		if err != nil {
			return nil, "", clock, err
		}
		if found && env.LogicVersion >= idemExpirySince && idemExpired(&rec, tx.now) {
			// Past its retention the key is new again, even if pruning
			// has not reached the record yet.
			found, prevIdem = false, &rec
		}
		if found {
			r := idemAnswer(&rec, env.Idempotency, index)
			if r.Replayed {
				if want {
					if err := cmds.reread(tx, r); err != nil {
						return nil, "", clock, err
					}
				}
				return r, "replayed", clock, nil
			}
			return r, "error", clock, nil
		}
	}

	v, err := h.Apply(tx, env.Payload)
	var ce *CommandError
	if errors.As(err, &ce) {
		// Business failure: drop the pending writes; nothing changes.
		return &Result{Index: index, Err: ce}, "error", clock, nil
	}
	if err != nil {
		return nil, "", clock, err
	}
	r := &Result{Index: index}
	if raw, ok := v.(json.RawMessage); ok {
		r.Value = raw
	} else if res, ok := v.(*Resource); ok {
		if err := resourceResult(r, h, env.LogicVersion, res, want); err != nil {
			return nil, "", clock, err
		}
	} else if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, "", clock, fmt.Errorf("encode result: %w", err)
		}
		r.Value = b
	}
	if tx.audits == 0 {
		tx.Audit(string(env.Kind), "", nil)
	}
	if env.Idempotency != nil {
		if err := putIdem(tx, env.Idempotency, r, prevIdem); err != nil {
			return nil, "", clock, err
		}
	}
	if err := tx.flush(); err != nil {
		return nil, "", clock, err
	}
	return r, "ok", clock, nil
}
