package main

import (
	"errors"
	"fmt"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
)

func newRestoreCmd() *cobra.Command {
	var from, passFile, idFile, keyFile string
	cfg := node.RestoreConfig{Version: version}
	var raftAddr, httpAddr string
	cmd := &cobra.Command{
		Use:   "restore --from FILE --data-dir NEW (--passphrase-file FILE | --identity FILE)",
		Short: "Seed a new one-node cluster from a backup file",
		Long: `Make NEW (absent or empty) the data dir of a new cluster that holds the state
of a backup, then start it with frontdoor serve --data-dir NEW.

The file's SHA-256 checksum is checked first, then its logic version (a backup
from a newer frontdoor is refused), then the key (--passphrase-file, or
--identity with the age private key of the --recipient it was made for).
Nothing is written until all three pass, and NEW is moved into place only
when complete.

The restored cluster keeps all clinic data (attendances, patients, API keys,
the directory, protocols, the audit trail) but not the old cluster's identity:
it gets a new CA and a new join token (NEW/join.token), and this node is its
only member. The audit trail records the restore (cluster.restore). Other
nodes join it with the new token as usual. Give the raft and HTTP addresses
the node will serve on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := node.CheckEmptyDir(cfg.DataDir); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			f, err := backup.Open(from, cluster.LogicVersion)
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			defer f.Close()
			var ids []age.Identity
			switch {
			case passFile != "":
				pass, err := backup.ReadPassphrase(passFile)
				if err != nil {
					return fmt.Errorf("restore: %w", err)
				}
				id, err := backup.PassphraseIdentity(pass)
				if err != nil {
					return fmt.Errorf("restore: %w", err)
				}
				ids = []age.Identity{id}
			case idFile != "":
				if ids, err = backup.ReadIdentities(idFile); err != nil {
					return fmt.Errorf("restore: %w", err)
				}
			default:
				return errors.New("restore: give --passphrase-file or --identity")
			}
			plain, err := f.Decrypt(ids...)
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			if cfg.EncryptionKey, err = resolveKey(cfg.DataDir, keyFile, true, cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			cfg.RaftAdvertise = raftAddr
			if cfg.HTTPAdvertise == "" {
				cfg.HTTPAdvertise = httpAddr
			}
			h := f.Header
			info, err := node.Restore(cmd.Context(), cfg, plain, cluster.RestoreNote{
				BackupIndex: h.AppliedIndex, BackupCreated: h.Created, BackupNode: h.NodeID,
				BackupVersion: h.NodeVersion, BackupLogicVersion: h.LogicVersion, BackupSHA256: f.SHA256,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored %s into %s as a new one-node cluster\n", from, cfg.DataDir)
			printHeader(out, &h, f.SHA256)
			fmt.Fprintf(out, "new join token in %s (the old cluster's token, CA and members are not carried over)\n", info.JoinTokenPath)
			fmt.Fprintf(out, "start it with: frontdoor serve --data-dir %s --raft-addr %s --http-addr %s\n", cfg.DataDir, raftAddr, httpAddr)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the backup file")
	f.StringVar(&cfg.DataDir, "data-dir", "", "the new node's data dir (absent or empty)")
	keyFileFlag(f, &keyFile)
	f.StringVar(&passFile, "passphrase-file", "", "file whose first line is the backup's passphrase")
	f.StringVar(&idFile, "identity", "", "file with the age private key of the backup's recipient")
	f.StringVar(&cfg.NodeID, "node-id", "", "the new node's id (default: generated)")
	f.StringVar(&raftAddr, "raft-addr", "127.0.0.1:7000", "the raft address the node will serve on (as given to serve: --raft-advertise if set, else --raft-addr)")
	f.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "the HTTP address the node will serve on")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "on the trust's own PKI: this node's certificate, as serve takes it (the restored cluster then has no CA of its own)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "the private key of --tls-cert")
	f.StringVar(&cfg.TLSCA, "tls-ca", "", "the CA that signs every member's --tls-cert")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("data-dir")
	cmd.MarkFlagsMutuallyExclusive("passphrase-file", "identity")
	return cmd
}

func newRecoverCmd() *cobra.Command {
	var keyFile string
	cfg := node.RestoreConfig{Version: version}
	cmd := &cobra.Command{
		Use:   "recover --data-dir DIR",
		Short: "Rebuild a one-node cluster from a surviving node after quorum is lost for good",
		Long: `Run on the stopped node whose data dir survived, when the cluster has lost a
majority of its voters for good (their disks are gone). It rewrites the raft
configuration to this node alone (raft's RecoverCluster): every entry in this
node's log is applied to the state, committed or not. A write that was in the
log but never acknowledged to its client may therefore appear; one that never
reached this node is lost. Then start the node as usual (frontdoor serve with
the same flags): it leads a one-node cluster. Remove the dead members from the
registry (DELETE /v1/cluster/nodes/<id> with the join token) and join new
members with the join token as usual.

Only ever recover one node of a cluster: two recovered survivors would be two
clusters.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := resolveKey(cfg.DataDir, keyFile, false, cmd.OutOrStdout())
			if err != nil {
				return fmt.Errorf("recover: %w", err)
			}
			cfg.EncryptionKey = key
			info, err := node.Recover(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "recovered %s as a one-node cluster at raft address %s\n", cfg.DataDir, info.RaftAddr)
			fmt.Fprintf(out, "  log entries up to index %d are now committed; the state is at applied index %d\n", info.LastIndex, info.AppliedIndex)
			if len(info.Others) > 0 {
				fmt.Fprintf(out, "  once it runs, remove the dead members from the registry:\n")
				for _, id := range info.Others {
					fmt.Fprintf(out, "    curl -X DELETE -H \"Authorization: Bearer $(cat %s/join.token)\" http://<http-addr>/v1/cluster/nodes/%s\n", cfg.DataDir, id)
				}
			}
			fmt.Fprintf(out, "start it with frontdoor serve --data-dir %s and the flags it had\n", cfg.DataDir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "the surviving node's data dir (the node must be stopped)")
	keyFileFlag(f, &keyFile)
	f.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "the node's raft address (default: its registry entry's)")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
