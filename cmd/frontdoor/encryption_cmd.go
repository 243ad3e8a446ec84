package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// newEncryptionCmd is `frontdoor encryption`: offline migrate and rotate
// of a stopped node's data dir.
func newEncryptionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encryption",
		Short: "Encrypt a data dir written in clear, or change its key (node stopped)",
	}
	cmd.AddCommand(newEncryptionMigrateCmd(), newEncryptionRotateCmd())
	return cmd
}

func newEncryptionMigrateCmd() *cobra.Command {
	var dir, keyFile string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Encrypt a stopped node's data dir written before encryption",
		Long: `Encrypt a stopped node's data dir that was written without encryption:
the state store is streamed into a new encrypted database, every snapshot is
re-encrypted, and the raft log is rewritten into a fresh file with every
entry encrypted (so no freed page keeps plaintext). The key file is created
(64 hex digits, mode 0600) if it does not exist. Refuses while a node holds
the data dir. If interrupted, run it again with the same key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" {
				keyFile = cluster.DefaultKeyFile(dir)
			}
			key, created, err := cluster.EnsureKeyFile(keyFile)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if created {
				fmt.Fprintf(out, "generated the encryption key %s (mode 0600): keep it off this disk\n", keyFile)
			}
			rep, err := cluster.MigrateEncryption(dir, key, nil)
			if err != nil {
				return fmt.Errorf("migrate %s: %w", dir, err)
			}
			fmt.Fprintf(out, "state store: %d keys copied into %s (encrypted)\n", rep.StateKeys, rep.StateStore)
			fmt.Fprintf(out, "snapshots: %d re-encrypted\n", rep.Snapshots)
			fmt.Fprintf(out, "raft log: %d entries rewritten into a new raft.db (encrypted)\n", rep.LogEntries)
			fmt.Fprintf(out, "ok: start the node with --encryption-key-file %s\n", keyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data-dir", "./frontdoor-data", "the stopped node's data directory")
	keyFileFlag(cmd.Flags(), &keyFile)
	return cmd
}

func newEncryptionRotateCmd() *cobra.Command {
	var dir, oldFile, newFile string
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Change a stopped node's encryption key",
		Long: `Change the master key of a stopped node's encrypted data dir: the state
store is copied into a new database (new data keys, under the new key), and
the raft log and snapshots are rewritten under keys derived from it. The old key no longer opens anything afterwards. Refuses
while a node holds the data dir. If interrupted, run it again with the same
keys. Each node of a cluster has its own data dir: rotate each, one at a
time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if oldFile == "" || newFile == "" {
				return errors.New("give --old-key-file and --new-key-file")
			}
			oldKey, err := cluster.ReadKeyFile(oldFile)
			if err != nil {
				return err
			}
			newKey, err := cluster.ReadKeyFile(newFile)
			if err != nil {
				return err
			}
			rep, err := cluster.RotateEncryptionKey(dir, oldKey, newKey, nil)
			if err != nil {
				return fmt.Errorf("rotate %s: %w", dir, err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "state store: %d keys copied into %s (new data keys, under the new key)\n", rep.StateKeys, rep.StateStore)
			fmt.Fprintf(out, "snapshots: %d re-encrypted\n", rep.Snapshots)
			fmt.Fprintf(out, "raft log: %d entries rewritten into a new raft.db\n", rep.LogEntries)
			fmt.Fprintf(out, "ok: start the node with --encryption-key-file %s\n", newFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data-dir", "./frontdoor-data", "the stopped node's data directory")
	cmd.Flags().StringVar(&oldFile, "old-key-file", "", "the key the data dir is encrypted with now")
	cmd.Flags().StringVar(&newFile, "new-key-file", "", "the new key (64 hex digits, mode 0600; e.g. openssl rand -hex 32)")
	return cmd
}
