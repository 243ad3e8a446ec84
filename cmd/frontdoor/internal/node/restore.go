package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
)

// RestoreConfig is what `frontdoor restore` and `frontdoor recover` take.
type RestoreConfig struct {
	DataDir string
	NodeID  string // restore: "" -> generated; recover: "" -> the data dir's
	// RaftAdvertise is the raft address the node will serve on (restore:
	// required; recover: "" -> its registry entry's).
	RaftAdvertise string
	HTTPAdvertise string // restore: the HTTP address the node will serve on (refreshed when it starts)
	Version       string
	// TLSCert, TLSKey and TLSCA are the trust's own PKI (restore): the
	// restored cluster runs on it, as serve --tls-cert does, instead of
	// a cluster CA of its own.
	TLSCert, TLSKey, TLSCA string
	// EncryptionKey is the data dir's master key of encryption at rest
	// (nil: in clear), as serve takes it.
	EncryptionKey []byte
	Logger        *slog.Logger
}

// Restore makes cfg.DataDir, which must be absent or empty, the data dir
// of a new one-node cluster holding the state in snapshot, with a new
// identity: a new CA, a new join token and this node its only member
// (cluster.SeedFromSnapshot). The dir is built beside cfg.DataDir and
// renamed into place only when complete, so a failed restore leaves
// nothing behind. The answer's JoinTokenPath is in cfg.DataDir.
func Restore(ctx context.Context, cfg RestoreConfig, snapshot io.Reader, note cluster.RestoreNote) (cluster.BootstrapInfo, error) {
	if err := CheckEmptyDir(cfg.DataDir); err != nil {
		return cluster.BootstrapInfo{}, err
	}
	if cfg.RaftAdvertise == "" {
		return cluster.BootstrapInfo{}, errors.New("restore: the node's raft address is required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	parent := filepath.Dir(filepath.Clean(cfg.DataDir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return cluster.BootstrapInfo{}, fmt.Errorf("restore: %w", err)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	tmp := filepath.Join(parent, "."+filepath.Base(cfg.DataDir)+".restoring-"+hex.EncodeToString(r[:]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return cluster.BootstrapInfo{}, fmt.Errorf("restore: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	id, err := loadNodeID(tmp, cfg.NodeID)
	if err != nil {
		return cluster.BootstrapInfo{}, fmt.Errorf("restore: %w", err)
	}
	var identity *trust.Identity
	if cfg.TLSCert != "" || cfg.TLSKey != "" || cfg.TLSCA != "" {
		if identity, err = loadTrustPKI(Config{TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey, TLSCA: cfg.TLSCA}, id); err != nil {
			return cluster.BootstrapInfo{}, fmt.Errorf("restore: %w", err)
		}
	}
	info, err := cluster.SeedFromSnapshot(ctx, cluster.Config{
		Identity:      identity,
		NodeID:        id,
		Dir:           tmp,
		RaftBind:      cfg.RaftAdvertise,
		RaftAdvertise: cfg.RaftAdvertise,
		HTTPAdvertise: cfg.HTTPAdvertise,
		Version:       cfg.Version,
		Logger:        cfg.Logger.With("node", id),
		Commands:      clinic.Commands(),
		EncryptionKey: cfg.EncryptionKey,
	}, snapshot, note)
	if err != nil {
		return cluster.BootstrapInfo{}, fmt.Errorf("restore: %w", err)
	}
	// An empty dir in place is replaced (rename(2) allows it).
	if err := os.Rename(tmp, cfg.DataDir); err != nil {
		return cluster.BootstrapInfo{}, fmt.Errorf("restore: move the new data dir into place: %w", err)
	}
	done = true
	info.JoinTokenPath = filepath.Join(cfg.DataDir, filepath.Base(info.JoinTokenPath))
	return info, nil
}

// CheckEmptyDir refuses a data dir that exists and holds anything.
func CheckEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("data dir %s is not empty: restore only into a new (or empty) directory", dir)
	}
	return nil
}

// Recover rebuilds a one-node cluster from a surviving node's data dir
// after quorum is lost (cluster.Recover). The node must be stopped.
func Recover(ctx context.Context, cfg RestoreConfig) (cluster.RecoverInfo, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, NodeIDFile)); err != nil {
		return cluster.RecoverInfo{}, fmt.Errorf("recover: %s is not a node's data dir: %w", cfg.DataDir, err)
	}
	id, err := loadNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return cluster.RecoverInfo{}, fmt.Errorf("recover: %w", err)
	}
	return cluster.Recover(ctx, cluster.Config{
		NodeID: id, Dir: cfg.DataDir, RaftAdvertise: cfg.RaftAdvertise, Logger: cfg.Logger, Commands: clinic.Commands(),
		EncryptionKey: cfg.EncryptionKey,
	})
}

// backupSchedule is the scheduled-backup configuration of cfg (nil: off),
// checked before the node starts anything.
func backupSchedule(cfg Config) (*backup.Schedule, error) {
	if cfg.BackupDir == "" {
		if len(cfg.BackupRecipients) > 0 {
			return nil, errors.New("--backup-recipient needs --backup-dir")
		}
		return nil, nil
	}
	s := &backup.Schedule{Dir: cfg.BackupDir, Every: cfg.BackupEvery, Keep: cfg.BackupKeep}
	for _, r := range cfg.BackupRecipients {
		rcp, err := backup.ParseRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("--backup-recipient: %w", err)
		}
		s.Recipients = append(s.Recipients, rcp)
	}
	switch {
	case len(s.Recipients) == 0:
		return nil, errors.New("--backup-dir needs --backup-recipient: the age public key the backups are encrypted to")
	case s.Every <= 0:
		return nil, fmt.Errorf("--backup-every %s: must be positive", s.Every)
	case s.Keep < 1:
		return nil, fmt.Errorf("--backup-keep %d: keep at least one", s.Keep)
	}
	return s, nil
}
