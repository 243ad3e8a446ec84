package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// Open opens Badger and raft. If Badger's applied index is at or past the
// newest snapshot's index, raft starts with NoSnapshotRestoreOnStart and
// re-sends only later entries (which Apply skips or applies); otherwise raft
// restores the snapshot first.
func (s *Store) Open(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return errors.New("cluster: store already opened")
	}
	raftDir := filepath.Join(s.cfg.Dir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	// Every file of the data dir is its owner's only (a dir written by an
	// earlier release had Badger's and the snapshots' files 0644).
	if err := tightenModes(s.cfg.Dir); err != nil {
		return fmt.Errorf("open: file modes: %w", err)
	}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Info,
		Output: lineWriter{s.log},
	})
	rs, err := openRaftStores(raftDir, s.keys, hlog, s.log, s.DiskLow)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	closers = append(closers, rs.bolt.Close)
	bolt, logs, snaps := rs.bolt, rs.logs, rs.snaps
	s.hasState, err = raft.HasExistingState(logs, bolt, snaps)
	if err != nil {
		return fmt.Errorf("open: existing state: %w", err)
	}

	f, err := openFSM(filepath.Join(s.cfg.Dir, "fsm"), s.keys.badgerKey(), s.cmds, s.log, s.metrics, s.onFatal)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	closers = append(closers, f.close)
	f.checked = s.checked
	f.proposerValuesOnly = true
	f.hashes.setEvery(s.tuning.CheckpointEvery)
	s.fsmPtr.Store(f)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = s.tuning.HeartbeatTimeout
	rc.ElectionTimeout = s.tuning.ElectionTimeout
	rc.LeaderLeaseTimeout = s.tuning.LeaderLeaseTimeout
	rc.CommitTimeout = s.tuning.CommitTimeout
	rc.SnapshotInterval = s.tuning.SnapshotInterval
	rc.SnapshotThreshold = s.tuning.SnapshotThreshold
	rc.TrailingLogs = s.tuning.TrailingLogs
	rc.BatchApplyCh = true
	skip, err := canSkipSnapshotRestore(snaps, f.appliedIndex())
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	rc.NoSnapshotRestoreOnStart = skip
	if !skip {
		// raft restores the newest snapshot it can read and, if that one
		// fails, an older one, silently: the log may already be compacted
		// past it. Refuse a damaged newest snapshot, naming it.
		if metas, _ := snaps.List(); len(metas) > 0 {
			if err := snaps.verify(metas[0].ID); err != nil {
				return fmt.Errorf("open: the newest snapshot is corrupt, refusing to start (move the data dir aside and join this node again with an empty one): %w", err)
			}
		}
	}
	s.log.Info("opening raft", "fsm_applied", f.appliedIndex(), "existing_state", s.hasState,
		"no_snapshot_restore", rc.NoSnapshotRestoreOnStart)

	s.identity = s.cfg.Identity
	if s.identity == nil {
		if s.identity, err = trust.LoadIdentity(s.cfg.Dir); err != nil {
			return fmt.Errorf("open: %w", err)
		}
	}
	trans := s.cfg.Transport
	if trans == nil {
		addr, err := resolveTCP(s.cfg.RaftAdvertise)
		if err != nil {
			return fmt.Errorf("open: raft advertise %q: %w", s.cfg.RaftAdvertise, err)
		}
		mux, err := newPeerMux(s.cfg.RaftBind, addr, s.identity, s.checkPeer, s.memberIPs, s.log)
		if err != nil {
			return fmt.Errorf("open: raft port %s: %w", s.cfg.RaftBind, err)
		}
		nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: raftLayer{mux}, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
		})
		s.mux = mux
		trans = nt
		closers = append(closers, mux.close, nt.Close)
	}
	s.transport = trans

	r, err := raft.NewRaft(rc, f, logs, bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("open: raft: %w", err)
	}
	s.raft = r
	s.closers = closers
	s.batcher = newBatcher(r, s.tuning.ApplyTimeout, s.metrics)
	s.reads = newReadIndex(s)
	s.leaderReady = make(chan struct{})
	s.opened = true
	s.checkDisk() // before raft takes any entry
	s.snaps, s.raftDir = snaps, raftDir
	s.wg.Add(6)
	go s.watchDisk()
	go s.releaseMappedPages()
	go s.watchLeadership()
	go s.valueLogGC(f)
	go s.verifyState(f)
	go s.compactAfterPurge(f, snaps, raftDir)
	return nil
}

// close syncs and closes Badger; closing again does nothing.
func (f *fsm) close() error {
	f.mu.Lock()
	h, already := f.h, f.closed
	f.closed = true
	f.mu.Unlock()
	if already {
		return nil
	}
	// Readers and snapshots release their handle quickly; do not let one
	// that never does (a snapshot abandoned by a raft shutdown) hang Close.
	released := make(chan struct{})
	go func() { h.refs.Wait(); close(released) }()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		f.log.Warn("closing badger with a reader still open")
	}
	if err := h.db.Sync(); err != nil {
		f.log.Warn("closing badger: sync", "err", err)
	}
	return h.db.Close()
}

func (s *Store) onFatal(err error) {
	s.fatalOnce.Do(func() {
		s.fatalCh <- err
		close(s.fatalCh)
		if s.cfg.OnFatal != nil {
			s.cfg.OnFatal(err)
		}
	})
}

// Bootstrap starts a fresh single-node cluster: this node creates the
// cluster CA and join token (kept in Dir until the cluster holds them, so a
// restart half-way reuses them), certifies itself, becomes leader and
// proposes the initial reference data (the join-token hash, the CA with its
// key sealed by the token, and its own registry entry). The join token
// (which names the CA's fingerprint) is written to join.token (mode 0600)
// in Dir.
func (s *Store) Bootstrap(ctx context.Context) (BootstrapInfo, error) {
	r := s.raftNode()
	if r == nil {
		return BootstrapInfo{}, ErrNotOpen
	}
	if s.HasExistingState() {
		return BootstrapInfo{}, errors.New("bootstrap: raft state already exists")
	}
	path := filepath.Join(s.cfg.Dir, "join.token")
	material, err := s.bootstrapMaterial(path)
	if err != nil {
		return BootstrapInfo{}, fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.bootstrapRaft(ctx, r); err != nil {
		return BootstrapInfo{}, fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.initCluster(ctx, material); err != nil {
		return BootstrapInfo{}, fmt.Errorf("bootstrap: %w", err)
	}
	return BootstrapInfo{JoinTokenPath: path, Token: material.Token}, nil
}

// bootstrapRaft makes raft a one-voter cluster of this node and waits until
// it leads and has applied its first command.
func (s *Store) bootstrapRaft(ctx context.Context, r *raft.Raft) error {
	cfg := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: raft.ServerID(s.cfg.NodeID), Address: raft.ServerAddress(s.cfg.RaftAdvertise),
	}}}
	if err := r.BootstrapCluster(cfg).Error(); err != nil {
		return err
	}
	return s.waitLeaderReady(ctx)
}

// initCluster proposes the cluster's identity: the join-token hash, the CA
// with its key sealed by the token, and this node's registry entry.
func (s *Store) initCluster(ctx context.Context, material *trust.Bootstrap) error {
	init := clusterInit{JoinTokenHash: HashToken(material.Token), Node: s.selfNode()}
	if material.CA != nil {
		init.CA = &clusterCA{Cert: string(material.CA.CertPEM()), SealedKey: material.Sealed}
	}
	if _, err := s.ProposeSystem(ctx, KindClusterInit, init); err != nil {
		return err
	}
	if err := s.identity.ForgetBootstrap(); err != nil {
		s.log.Warn("bootstrap: removing the kept CA material", "err", err)
	}
	return nil
}

// bootstrapMaterial is the new cluster's CA and join token: those a
// bootstrap that stopped half-way kept, or new ones (the token written to
// tokenPath).
func (s *Store) bootstrapMaterial(tokenPath string) (*trust.Bootstrap, error) {
	if tb, err := os.ReadFile(tokenPath); err == nil && !s.identity.External() {
		m, ok, err := s.identity.LoadBootstrap(strings.TrimSpace(string(tb)))
		if err != nil {
			return nil, err
		}
		if ok {
			return m, nil
		}
	}
	if s.identity.External() {
		// The trust's own PKI certifies the nodes: no cluster CA, and a
		// token that is only a secret.
		tok, err := trust.NewSecretToken()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(tokenPath, []byte(tok+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write join token: %w", err)
		}
		return &trust.Bootstrap{Token: tok}, nil
	}
	self := s.selfNode()
	m, err := s.identity.NewCluster(trust.Request{ID: self.ID, RaftAddr: self.RaftAddr, HTTPAddr: self.HTTPAddr}, time.Now())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(tokenPath, []byte(m.Token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write join token: %w", err)
	}
	return m, nil
}

// watchLeadership runs while the store is open. Each time this node becomes
// leader it proposes its own registry entry (refreshing version and
// addresses after an upgrade); once that command has applied, every entry of
// earlier terms is applied too, so linearizable reads may use the commit
// index (read-index) from then on.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	ch := s.raft.LeaderCh()
	cancel := func() {}
	defer func() { cancel() }()
	for {
		select {
		case <-s.stop:
			return
		case isLeader := <-ch:
			cancel()
			s.mu.Lock()
			s.leaderReady = make(chan struct{})
			ready := s.leaderReady
			s.mu.Unlock()
			if !isLeader {
				continue
			}
			ctx, stopTerm := context.WithCancel(context.Background())
			cancel = stopTerm
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				for ctx.Err() == nil {
					_, err := s.ProposeSystem(ctx, KindNodeRegister, s.selfNode())
					if err == nil {
						close(ready)
						return
					}
					if errors.Is(err, ErrFatal) || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNotOpen) {
						return
					}
					s.log.Warn("leader registration", "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
		}
	}
}

// waitLeaderReady waits until this node leads and has applied its first
// command of the term.
func (s *Store) waitLeaderReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready := s.leaderReady
		s.mu.Unlock()
		select {
		case <-ready:
			if s.IsLeader() {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the node cleanly: a leader first transfers leadership, then
// raft shuts down, then the transport, log store and Badger close.
func (s *Store) Close(ctx context.Context) error {
	return s.shutdown(ctx, true)
}

// StepDown hands leadership to another voter when this node leads and has
// one; otherwise it does nothing. A shutting-down leader calls it before it
// stops taking requests, so requests that still arrive are forwarded to the
// new leader instead of failing. It gives up when ctx ends.
func (s *Store) StepDown(ctx context.Context) error {
	s.mu.Lock()
	if !s.opened || s.closed {
		s.mu.Unlock()
		return ErrNotOpen
	}
	r := s.raft
	s.mu.Unlock()
	if r.State() != raft.Leader || !s.otherVoters(r) {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- r.LeadershipTransfer().Error() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("step down: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("step down: %w", ctx.Err())
	}
}

// Kill stops the node abruptly, as a crash would for raft: no leadership
// transfer, proposals in flight see an unknown outcome. Files are closed so
// the same process can reopen the directory (tests use this to simulate a
// lost node).
func (s *Store) Kill() error {
	return s.shutdown(context.Background(), false)
}

// raftShutdownWait bounds how long closing waits for raft to stop.
const raftShutdownWait = 30 * time.Second

func (s *Store) shutdown(ctx context.Context, graceful bool) error {
	s.mu.Lock()
	if !s.opened || s.closed {
		s.mu.Unlock()
		return nil
	}
	r := s.raft
	s.mu.Unlock()

	if graceful && r.State() == raft.Leader && s.otherVoters(r) {
		if err := r.LeadershipTransfer().Error(); err != nil {
			s.log.Warn("leadership transfer before close", "err", err)
		}
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	var errs []error
	// Raft first: it answers every pending future (ErrRaftShutdown ->
	// ErrOutcomeUnknown), so the batcher's in-flight applies end at once.
	// Bounded: a leadership transfer can leave raft's leader loop waiting
	// on a full replication channel, and Shutdown then never returns
	// (hashicorp/raft#696, seen once in CI). Rather than hang, the node
	// reports it and leaves raft's files open; the process is ending.
	done := make(chan error, 1)
	go func() { done <- r.Shutdown().Error() }()
	select {
	case err := <-done:
		if err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	case <-time.After(raftShutdownWait):
		s.log.Error("raft shutdown did not finish; its files are left open", "waited", raftShutdownWait)
		return fmt.Errorf("raft shutdown: not finished after %s", raftShutdownWait)
	}
	s.batcher.raftStopped()
	s.batcher.close()
	s.wg.Wait()
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	// Badger creates its files 0644 unless the process umask says
	// otherwise (serve sets 077); leave none readable by others.
	if err := tightenModes(s.cfg.Dir); err != nil {
		errs = append(errs, fmt.Errorf("close: file modes: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Store) otherVoters(r *raft.Raft) bool {
	cf := r.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID != raft.ServerID(s.cfg.NodeID) && srv.Suffrage == raft.Voter {
			return true
		}
	}
	return false
}

// canSkipSnapshotRestore decides NoSnapshotRestoreOnStart: true only when
// Badger already holds everything the newest snapshot holds. The snapshot's
// own header records the FSM applied index it captured; raft's meta index can
// be a little higher (no-op and barrier entries never reach the FSM), and
// comparing against it would force needless restores.
func canSkipSnapshotRestore(snaps raft.SnapshotStore, applied uint64) (bool, error) {
	metas, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) == 0 {
		return false, nil
	}
	if applied >= metas[0].Index {
		return true, nil
	}
	_, rc, err := snaps.Open(metas[0].ID)
	if err != nil {
		return false, nil // let raft try (and report) the restore
	}
	defer rc.Close()
	index, err := readSnapshotHeader(rc)
	if err != nil {
		return false, nil
	}
	return applied >= index, nil
}

// raftStores are the raft log (MAC-checked), stable store and snapshot
// store of one data dir, as Open and Recover use them.
type raftStores struct {
	bolt  *raftboltdb.BoltStore // log and stable store; close it
	logs  *macLogStore
	snaps *snapshotStore
}

// openRaftStores opens the raft stores under raftDir with the data keys
// (nil: in clear) and checks every log entry's seal or MAC.
func openRaftStores(raftDir string, keys *dataKeys, hlog hclog.Logger, log *slog.Logger, diskLow func() string) (*raftStores, error) {
	bolt, err := openBolt(filepath.Join(raftDir, "raft.db"))
	if err != nil {
		return nil, err
	}
	logs, err := newMACLogStore(bolt, bolt, raftDir, keys, diskLow)
	if err != nil {
		bolt.Close()
		return nil, err
	}
	if n, err := verifyLog(logs); err != nil {
		bolt.Close()
		return nil, fmt.Errorf("the raft log is corrupt, refusing to start (move the data dir aside and join this node again with an empty one): %w", err)
	} else if n > 0 {
		log.Info("raft log checked", "entries", n)
	}
	snaps, err := openSnapshotStore(raftDir, keys, hlog)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	return &raftStores{bolt: bolt, logs: logs, snaps: snaps}, nil
}

// openBolt opens the raft log, turning bbolt's panic on a damaged file
// into an error naming it.
func openBolt(path string) (b *raftboltdb.BoltStore, err error) {
	if err := checkBoltFile(path); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: raft log %s is corrupt or truncated: %v", ErrCorruptLog, path, r)
		}
	}()
	b, err = raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		return nil, fmt.Errorf("raft log %s: %w", path, err)
	}
	return b, nil
}

// verifyLog checks every entry's MAC, turning a bbolt panic on a damaged
// page into an error.
func verifyLog(m *macLogStore) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: raft log %s is corrupt: %v", ErrCorruptLog, m.path, r)
		}
	}()
	return m.verifyAll()
}
