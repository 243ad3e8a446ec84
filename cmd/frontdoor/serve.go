package main

import (
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
)

// newServeCmd is `frontdoor serve`: its flags fill a node.Config, and
// node.Run runs the node until the command's context ends.
func newServeCmd() *cobra.Command {
	cfg := node.Config{Version: version}
	var keyFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a frontdoor node: the HTTP API and a Raft cluster member",
		Long: `Run a frontdoor node.

A fresh data directory without --join bootstraps a single-node cluster; the
join token for other nodes is written to <data-dir>/join.token (mode 0600).
A fresh data directory with --join and --join-token-file joins an existing
cluster through any member: the node is added as a non-voter and promoted to
voter once it has caught up. An existing data directory restarts the node
with its stored identity.

Nodes talk to each other (raft, forwarded writes) only over mutual TLS on
the raft port, with certificates from the cluster's own CA: the first node
creates it, and the join token carries its fingerprint, so a joining node
gets its certificate by joining. The API is served over HTTPS with the
node's certificate unless its address is loopback (or --insecure-http);
clients trust <data-dir>/tls/ca.crt.

The raft log, snapshots and state are encrypted with the key in
--encryption-key-file (64 hex digits, e.g. from openssl rand -hex 32). Without
it a fresh data dir gets a new key in <data-dir>.key: beside the data it
protects nothing against a stolen disk, so move it to other storage.

Every flag can also be set from the environment: --data-dir from
FRONTDOOR_DATA_DIR, --join from FRONTDOOR_JOIN (comma-separated), and so on.
A flag given on the command line wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit, ok := nodeMemoryLimit(os.Getenv("GOMEMLIMIT")); ok {
				debug.SetMemoryLimit(limit)
			}
			key, err := resolveKey(cfg.DataDir, keyFile, true, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			cfg.EncryptionKey = key
			return node.Run(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./frontdoor-data", "directory for this node's raft log, snapshots and state")
	keyFileFlag(f, &keyFile)
	f.StringVar(&cfg.NodeID, "node-id", "", "node id (default: generated once and kept in the data dir)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP API listen address")
	f.StringVar(&cfg.HTTPAdvertise, "http-advertise", "", "HTTP address other nodes use to reach this one (default: --http-addr)")
	f.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:7000", "Raft listen address")
	f.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "Raft address peers use to reach this node, when the bind address is not reachable (default: --raft-addr)")
	f.StringSliceVar(&cfg.Join, "join", nil, "HTTP address of any cluster member to join through (repeatable)")
	f.StringVar(&cfg.JoinTokenFile, "join-token-file", "", "file holding the cluster's join token (a copy of join.token from the first node's data dir, mode 0600); the token itself is never a flag, so it stays out of ps")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to let in-flight requests finish on shutdown")
	f.DurationVar(&cfg.KeyLease, "key-lease", 2*time.Second, "how long a node trusts its API key state without the leader confirming it: a node cut off from the leader refuses every key after this, and a revocation is acknowledged at most this long after it applied")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.IntVar(&cfg.RetentionExtraYears, "retention-extra-years", 0, "years added to every retention period of the NHS Records Management Code (adults 8 years after treatment, children to their 25th/26th birthday); never fewer than the code's (give every node the same value)")
	f.BoolVar(&cfg.HTTPS, "https", false, "serve the API over HTTPS even on a loopback address (it always is on any other)")
	f.BoolVar(&cfg.InsecureHTTP, "insecure-http", false, "serve the API over plain HTTP on a non-loopback address (patient data and keys in clear: only behind a TLS proxy on the same host)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "the trust's own node certificate (PEM) instead of the cluster CA's; it must name the node id (URI SAN urn:frontdoor:node:<id> or Common Name); reloaded on SIGHUP")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.BoolVar(&cfg.WebhookDevLoopback, "webhook-dev-loopback", false, "development only: let dispatch webhooks go over plain http to loopback hosts, and to loopback addresses at all (never to other hosts)")
	f.StringVar(&cfg.TLSCA, "tls-ca", "", "the CA (PEM) that signs every member's --tls-cert")
	f.StringVar(&cfg.BackupDir, "backup-dir", "", "write scheduled backups here while this node leads (off when empty)")
	f.DurationVar(&cfg.BackupEvery, "backup-every", time.Hour, "how often to write a scheduled backup")
	f.IntVar(&cfg.BackupKeep, "backup-keep", 24, "how many scheduled backups to keep; older ones are deleted")
	f.StringSliceVar(&cfg.BackupRecipients, "backup-recipient", nil, "age public key (age1...) scheduled backups are encrypted to (repeatable; required with --backup-dir)")
	return cmd
}

// defaultMemoryLimit is a node's Go soft memory limit (README, Memory).
// Its live heap is bounded (Badger's memtables, caches and the pool of
// table-building allocators, BadgerOptions) but under sustained load it is
// not small: about 140 MB after 40 s of creates at C=64. A limit below the
// live set makes the GC run without pause: at 128 MiB a node's throughput
// fell by a third within a minute. At 192 MiB a 40 s create or walk-in run
// went as fast as at 256 MiB (or as with no limit) with 60 MB less memory;
// the limit still stops the heap doubling past the live set in a burst.
const defaultMemoryLimit = 192 << 20

// nodeMemoryLimit is the soft memory limit serve sets: the default unless
// GOMEMLIMIT is set, which the Go runtime has already applied.
func nodeMemoryLimit(gomemlimit string) (int64, bool) {
	if gomemlimit != "" {
		return 0, false
	}
	return defaultMemoryLimit, true
}
