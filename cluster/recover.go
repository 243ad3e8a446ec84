package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// RecoverInfo is what Recover did.
type RecoverInfo struct {
	// RaftAddr is the address this node is recorded at, alone, in the new
	// configuration.
	RaftAddr string
	// AppliedIndex is the state's applied index once every entry of the
	// log is applied.
	AppliedIndex uint64
	// LastIndex is the last entry of the log before recovery: everything
	// up to it is now committed.
	LastIndex uint64
	// Others are the registry's other members: dead to this cluster, to be
	// removed from the registry (DELETE /v1/cluster/nodes/<id>) once the
	// node runs.
	Others []string
}

// Recover rebuilds a cluster from the data dir of one surviving node after
// quorum is lost for good (the other voters' disks are gone). The node must
// be stopped. It runs raft's RecoverCluster with a configuration of this
// node alone: every entry in this node's log is applied to the state store
// (committed or not: an entry the old leader never acknowledged may now
// take effect), a snapshot of the result carrying the new configuration is
// written, and the log is emptied. The next `frontdoor serve` on the data
// dir elects itself leader of a one-node cluster; new members join with the
// join token as usual.
//
// The node's raft address is its registry entry's, or cfg.RaftAdvertise
// when set.
func Recover(ctx context.Context, cfg Config) (RecoverInfo, error) {
	if cfg.NodeID == "" || cfg.Dir == "" {
		return RecoverInfo{}, errors.New("recover: node id and data dir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("component", "recover", "node", cfg.NodeID)
	raftDir := filepath.Join(cfg.Dir, "raft")
	if _, err := os.Stat(filepath.Join(raftDir, "raft.db")); err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %s holds no raft log: %w", cfg.Dir, err)
	}
	cmds, err := newCommandTable(append(membershipCommands(), cfg.Commands...))
	if err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	keys, err := deriveKeys(cfg.EncryptionKey)
	if err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	// Badger first: it refuses at once a data dir a running node holds,
	// where bolt would wait for its lock.
	var fatal error
	f, err := openFSM(filepath.Join(cfg.Dir, "fsm"), keys.badgerKey(), cmds, log, nil, func(err error) { fatal = err })
	if err != nil {
		return RecoverInfo{}, fmt.Errorf("recover (is the node stopped?): %w", err)
	}
	defer f.close()
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: lineWriter{log}})
	rs, err := openRaftStores(raftDir, keys, hlog, log, func() string { return "" })
	if err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	defer rs.bolt.Close()

	info := RecoverInfo{RaftAddr: cfg.RaftAdvertise}
	if info.LastIndex, err = rs.logs.LastIndex(); err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	if err := f.view(func(v *View) error {
		nodes, err := v.Nodes()
		for _, n := range nodes {
			if n.ID == cfg.NodeID {
				if info.RaftAddr == "" {
					info.RaftAddr = n.RaftAddr
				}
				continue
			}
			info.Others = append(info.Others, n.ID)
		}
		return err
	}); err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: node registry: %w", err)
	}
	if info.RaftAddr == "" {
		return RecoverInfo{}, fmt.Errorf("recover: node %s is not in the registry: give its raft address", cfg.NodeID)
	}
	if err := ctx.Err(); err != nil {
		return RecoverInfo{}, err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	_, trans := raft.NewInmemTransport(raft.ServerAddress(info.RaftAddr))
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(info.RaftAddr),
	}}}
	if err := raft.RecoverCluster(rc, releasingFSM{f}, rs.logs, rs.bolt, rs.snaps, trans, conf); err != nil {
		return RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	if fatal != nil {
		return RecoverInfo{}, fmt.Errorf("recover: applying the log: %w", fatal)
	}
	info.AppliedIndex = f.appliedIndex()
	sort.Strings(info.Others)
	log.Info("recovered as a one-node cluster", "raft_addr", info.RaftAddr, "last_index", info.LastIndex,
		"applied", info.AppliedIndex, "other_members", info.Others)
	return info, nil
}

// releasingFSM is the FSM for RecoverCluster, which persists the snapshot
// it takes but never releases it: its read transaction would keep Badger
// from closing.
type releasingFSM struct{ *fsm }

func (r releasingFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := r.fsm.Snapshot()
	if err != nil {
		return nil, err
	}
	return releasingSnapshot{s.(*fsmSnapshot)}, nil
}

type releasingSnapshot struct{ *fsmSnapshot }

func (s releasingSnapshot) Persist(sink raft.SnapshotSink) error {
	defer s.fsmSnapshot.Release()
	return s.fsmSnapshot.Persist(sink)
}

// view runs fn on a read transaction of the current database.
func (f *fsm) view(fn func(v *View) error) error {
	h, err := f.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	return fn(&View{txn: txn})
}
