package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// Store owns the raft node, its log, stable and snapshot stores, and the
// Badger-backed FSM. New only builds; Open and Close do the I/O.
type Store struct {
	cfg    Config
	cmds   commandTable
	tuning RaftTuning
	log    *slog.Logger
	keys   *dataKeys // derived from Config.EncryptionKey; nil: no encryption

	mu       sync.Mutex // guards open/closed transitions
	opened   bool
	closed   bool
	hasState bool

	raft      *raft.Raft
	transport raft.Transport
	identity  *trust.Identity // this node's key and certificate (trust.go)
	mux       *peerMux        // the raft port's TLS channels; nil with Config.Transport
	closers   []func() error  // log store, transport... closed in reverse order
	snaps     raft.SnapshotStore
	raftDir   string

	fsmPtr atomic.Pointer[fsm] // set by Open; read by metrics scrapes at any time
	// leaderHTTP is the leader's HTTP address as last read (Leader).
	leaderHTTP atomic.Pointer[leaderHTTP]
	batcher    *batcher
	reads      *readIndex
	metrics    *metrics

	leaderReady chan struct{} // closed once this leader term's first command applied; guarded by mu
	stop        chan struct{}
	wg          sync.WaitGroup

	ids idGen // sortable IDs stamped on proposals

	checked *checkedTable // what checks computed, for Apply on this node (Tx.Checked)

	lvMu sync.Mutex
	lv   lvEntry // cached clusterLogicVersion

	fatalOnce sync.Once
	fatalCh   chan error

	quarantined atomic.Pointer[string] // why the node stopped (Quarantine)
	diskLow     atomic.Pointer[string] // why the node takes no writes (diskspace.go)
}

// New builds a Store from cfg without any I/O.
func New(cfg Config) (*Store, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("cluster: NodeID is required")
	}
	if cfg.Dir == "" {
		return nil, errors.New("cluster: Dir is required")
	}
	if cfg.RaftBind == "" && cfg.Transport == nil {
		return nil, errors.New("cluster: RaftBind is required")
	}
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftBind
	}
	if cfg.Transport != nil {
		cfg.RaftAdvertise = string(cfg.Transport.LocalAddr())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cmds, err := newCommandTable(append(membershipCommands(), cfg.Commands...))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	keys, err := deriveKeys(cfg.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s := &Store{
		keys:    keys,
		cfg:     cfg,
		cmds:    cmds,
		checked: newCheckedTable(),
		tuning:  cfg.Raft.withDefaults(),
		log:     cfg.Logger.With("component", "cluster", "node", cfg.NodeID),
		stop:    make(chan struct{}),
		fatalCh: make(chan error, 1),
	}
	s.metrics = newMetrics(cfg.Registerer, s)
	return s, nil
}

// Fatal delivers the error once (then closes) when the FSM stops on an entry
// it cannot apply; tests watch it instead of exiting (see Config.OnFatal).
func (s *Store) Fatal() <-chan error { return s.fatalCh }

// HasExistingState reports whether raft state existed on disk before Open.
func (s *Store) HasExistingState() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasState
}

// IsLeader reports whether this node is the raft leader.
func (s *Store) IsLeader() bool {
	r := s.raftNode()
	return r != nil && r.State() == raft.Leader
}

func (s *Store) raftNode() *raft.Raft {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened || s.closed {
		return nil
	}
	return s.raft
}

// AppliedIndex is the FSM's own applied index (not raft's, which counts
// entries handed to the FSM). Readiness uses this.
func (s *Store) AppliedIndex() uint64 {
	if s.fsmPtr.Load() == nil {
		return 0
	}
	return s.fsmPtr.Load().appliedIndex()
}

// CommitIndex is raft's commit index as this node knows it.
func (s *Store) CommitIndex() uint64 {
	r := s.raftNode()
	if r == nil {
		return 0
	}
	return r.CommitIndex()
}

// HoldApply holds this node's FSM back from applying committed entries
// until release is called: raft goes on appending and acknowledging them,
// so the node is a replica that lags behind while the cluster goes on (the
// revocation-on-a-lagging-follower test). Reads on it see the state as it
// was. release is idempotent.
func (s *Store) HoldApply() (release func()) {
	f := s.fsmPtr.Load()
	if f == nil {
		return func() {}
	}
	ch := make(chan struct{})
	f.held.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			f.held.CompareAndSwap(&ch, nil)
			close(ch)
		})
	}
}

// WaitApplied blocks until the FSM has applied index, ctx ends, or the FSM
// stops (ErrFatal).
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	if s.fsmPtr.Load() == nil {
		return ErrNotOpen
	}
	return s.fsmPtr.Load().waitApplied(ctx, index)
}

// Now is this node's wall clock, as reported in Status (UTC).
func (s *Store) Now() time.Time { return time.Now().UTC() }
