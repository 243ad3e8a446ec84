package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// KindClusterRestore records, in the audit trail of a cluster seeded from
// a backup, which backup it holds (SeedFromSnapshot proposes it).
const KindClusterRestore Kind = "cluster.restore"

// RestoreNote is what the cluster.restore audit event says about the
// backup a cluster was seeded from.
type RestoreNote struct {
	BackupIndex        uint64    `json:"backup_index"`
	BackupCreated      time.Time `json:"backup_created"`
	BackupNode         string    `json:"backup_node,omitempty"`
	BackupVersion      string    `json:"backup_version,omitempty"`
	BackupLogicVersion int       `json:"backup_logic_version"`
	BackupSHA256       string    `json:"backup_sha256"`
	// Removed counts the old cluster's membership records left out
	// (registry entries, CA, join-token hash).
	Removed int `json:"removed"`
}

func applyClusterRestore(tx *Tx, raw json.RawMessage) (any, error) {
	var in RestoreNote
	if err := DecodeStrict(raw, &in); err != nil {
		return nil, &CommandError{Code: CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	if in.BackupIndex == 0 || len(in.BackupSHA256) != 64 {
		return nil, Invalid(map[string]string{"backup_index": "backup_index and backup_sha256 are required"})
	}
	tx.Audit("cluster.restore", "cluster", map[string]any{
		"backup_index": in.BackupIndex, "backup_created": in.BackupCreated, "backup_node": in.BackupNode,
		"backup_version": in.BackupVersion, "backup_logic_version": in.BackupLogicVersion,
		"backup_sha256": in.BackupSHA256, "removed": in.Removed,
	})
	return nil, nil
}

// oldClusterKey reports whether a state key belongs to the cluster a
// backup was taken from rather than to the clinic: the node registry, the
// cluster CA (its key sealed with the old join token) and the join-token
// hash. A restored cluster gets its own (SeedFromSnapshot).
func oldClusterKey(k string) bool {
	return k == keyJoinTokenHash || k == keyClusterCA || strings.HasPrefix(k, prefixNode)
}

// SeedFromSnapshot makes cfg.Dir, which must hold no raft state, the data
// dir of a new one-node cluster that holds the state in snapshot (the
// FSM's snapshot format, as Backup.WriteTo writes it), through the same
// code paths as any cluster:
//
//  1. the snapshot is copied to a file in cfg.Dir without the old
//     cluster's membership records (oldClusterKey): its registry, its CA
//     and its join-token hash. Everything else is kept: attendances,
//     patients, API keys, the directory, protocols, the audit trail;
//  2. the node bootstraps raft as a one-voter cluster of itself (as a
//     first start does) and leads;
//  3. raft's user restore (raft.Restore) installs the file as a snapshot
//     past the log's end and loads it into the FSM with FSM.Restore;
//  4. the node founds the cluster anew: a new CA, a new join token
//     (written to join.token) and itself as the only member (cluster.init);
//  5. a cluster.restore command records in the audit trail which backup
//     the cluster came from (note).
//
// The store is then closed: the first `frontdoor serve` on cfg.Dir is an
// ordinary restart. cfg.Transport, when nil, is an in-memory transport at
// cfg.RaftAdvertise: nothing listens while seeding.
func SeedFromSnapshot(ctx context.Context, cfg Config, snapshot io.Reader, note RestoreNote) (BootstrapInfo, error) {
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftBind
	}
	if cfg.Transport == nil {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(cfg.RaftAdvertise))
		cfg.Transport = tr
	}
	// The snapshot taken at the end compacts the log but for its last
	// entry: raft's user restore leaves a hole in the log after the
	// bootstrap's entries, and a log with a hole is not one the node
	// opens (verifyLog).
	cfg.Raft.TrailingLogs = 1
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	var snap bytes.Buffer
	backupIndex, removed, err := filterSnapshot(snapshot, &snap)
	if err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	note.Removed = removed
	if note.BackupIndex == 0 {
		note.BackupIndex = backupIndex
	}

	s, err := New(cfg)
	if err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	if err := s.Open(ctx); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	info, err := s.seed(ctx, snap.Bytes(), backupIndex, note)
	if cerr := s.Close(context.Background()); cerr != nil && err == nil {
		err = fmt.Errorf("seed: close: %w", cerr)
	}
	return info, err
}

func (s *Store) seed(ctx context.Context, snap []byte, backupIndex uint64, note RestoreNote) (BootstrapInfo, error) {
	r := s.raftNode()
	if s.HasExistingState() {
		return BootstrapInfo{}, errors.New("seed: the data dir already holds raft state")
	}
	path := filepath.Join(s.cfg.Dir, "join.token")
	material, err := s.bootstrapMaterial(path)
	if err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	if err := s.bootstrapRaft(ctx, r); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: bootstrap: %w", err)
	}
	// The FSM loads a snapshot only past what it has applied (the
	// bootstrap's own entries): the snapshot says it reflects at least the
	// next index, and raft places it past the log's end anyway.
	index := max(backupIndex, r.LastIndex()+1)
	setSnapshotIndex(snap, index)
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: index, Size: int64(len(snap))}
	if err := r.Restore(meta, bytes.NewReader(snap), 0); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: restore the snapshot: %w", err)
	}
	if err := s.initCluster(ctx, material); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: found the cluster: %w", err)
	}
	if _, err := s.ProposeSystem(ctx, KindClusterRestore, note); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: %w", err)
	}
	// A snapshot of the seeded state, so a joiner is sent that rather
	// than the bootstrap's entries and the hole raft left before it.
	if err := r.Snapshot().Error(); err != nil {
		return BootstrapInfo{}, fmt.Errorf("seed: snapshot: %w", err)
	}
	s.log.Info("seeded a new cluster from a backup", "backup_index", note.BackupIndex, "applied", s.AppliedIndex(),
		"removed_membership_records", note.Removed)
	return BootstrapInfo{JoinTokenPath: path, Token: material.Token}, nil
}

// filterSnapshot copies a snapshot stream to out without the old
// cluster's membership records, returning the index it reflects and how
// many records it left out. The copy is held in memory, not in a file: it
// is the decrypted state, and a file would leave it in clear on a disk
// whose data dir is encrypted at rest.
func filterSnapshot(r io.Reader, out *bytes.Buffer) (index uint64, removed int, err error) {
	br := bufio.NewReaderSize(r, 256<<10)
	index, err = readSnapshotHeader(br)
	if err != nil {
		return 0, 0, err
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	var buf [binary.MaxVarintLen64]byte
	bw.WriteString(snapshotMagic)
	binary.BigEndian.PutUint64(buf[:8], index)
	bw.Write(buf[:8])
	for {
		kl, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, 0, fmt.Errorf("snapshot key length: %w", err)
		}
		if kl == 0 {
			break
		}
		if kl > 1<<20 {
			return 0, 0, fmt.Errorf("snapshot key of %d bytes: not a frontdoor snapshot", kl)
		}
		k := make([]byte, kl)
		if _, err := io.ReadFull(br, k); err != nil {
			return 0, 0, fmt.Errorf("snapshot key: %w", err)
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, 0, fmt.Errorf("snapshot value length: %w", err)
		}
		if oldClusterKey(string(k)) {
			removed++
			if _, err := io.CopyN(io.Discard, br, int64(vl)); err != nil {
				return 0, 0, fmt.Errorf("snapshot value: %w", err)
			}
			continue
		}
		n := binary.PutUvarint(buf[:], kl)
		bw.Write(buf[:n])
		bw.Write(k)
		n = binary.PutUvarint(buf[:], vl)
		bw.Write(buf[:n])
		if _, err := io.CopyN(bw, br, int64(vl)); err != nil {
			return 0, 0, fmt.Errorf("snapshot value: %w", err)
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	return index, removed, nil
}

// setSnapshotIndex rewrites the applied index in a snapshot's header.
func setSnapshotIndex(snap []byte, index uint64) {
	binary.BigEndian.PutUint64(snap[len(snapshotMagic):], index)
}
