package cluster

import (
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// Config configures a Store. New only copies it; Open acts on it.
type Config struct {
	NodeID        string
	Dir           string // data dir; raft/ (bolt log, snapshots) and fsm/ (badger) live under it
	RaftBind      string // e.g. 127.0.0.1:7000
	RaftAdvertise string // "" -> RaftBind
	HTTPAdvertise string // this node's HTTP address, replicated so followers can forward
	Version       string // binary version, replicated in the node registry
	Logger        *slog.Logger
	// Commands are the domain's command kinds (the engine adds its own
	// membership commands); see Command.
	Commands   []Command
	Registerer prometheus.Registerer // cluster metrics are registered here; nil -> not exported

	// OnFatal is called once, from its own goroutine, when the state machine
	// meets an entry this binary cannot apply (unknown kind, newer logic
	// version, undecodable entry). The node has then stopped advancing its
	// applied index and refuses to snapshot; the binary must exit non-zero
	// (cmd calls os.Exit(1)). Tests observe it instead. Also see Store.Fatal.
	OnFatal func(error)

	// Raft tunes timeouts and snapshotting; zero fields take production
	// defaults (see RaftTuning).
	Raft RaftTuning

	// Transport replaces the TCP transport (e.g. raft.NewInmemTransport in
	// fast unit tests). RaftBind is then only informational and RaftAdvertise
	// must equal the transport's LocalAddr.
	Transport raft.Transport
	// Identity is the node's key and certificate; nil -> the one kept in
	// Dir/tls (created on first open). Raft over TCP always runs over
	// mutual TLS with it.
	Identity *trust.Identity
	// MinFreeBytes is the free space the data dir's file system must keep;
	// below it the node takes no writes (diskspace.go). Default 256 MiB.
	MinFreeBytes uint64
	// FreeSpace measures the data dir's free bytes; nil -> statfs. Tests
	// inject a reading instead of filling a disk.
	FreeSpace func() (uint64, error)
	// Clock stamps proposals (the FSM clock is the later of the proposer's
	// stamp and the last applied one). nil -> time.Now. Tests inject a
	// fixed clock to decide at a given time of day (opening hours).
	Clock func() time.Time
	// EncryptionKey is the master key (MasterKeySize bytes) that encrypts
	// the raft log, snapshots and state store (encryption.go); nil leaves
	// them in clear. A data dir written with a key opens only with it.
	EncryptionKey []byte
}

// RaftTuning holds raft timing and snapshot settings. Zero values mean the
// defaults noted on each field.
type RaftTuning struct {
	HeartbeatTimeout   time.Duration // default 1s
	ElectionTimeout    time.Duration // default 1s
	LeaderLeaseTimeout time.Duration // default 500ms
	CommitTimeout      time.Duration // default 50ms
	SnapshotInterval   time.Duration // default 2m
	// Entries, not commands: group commit packs up to 256 commands (1 MiB)
	// into one entry, so raft's defaults (8192 / 10240) could keep a
	// gigabyte of log on a busy node. Snapshots are still checked only every
	// SnapshotInterval.
	SnapshotThreshold uint64 // default 1024 entries
	TrailingLogs      uint64 // default 2048 entries
	// CheckpointEvery is how many log entries apart the state hash is
	// checkpointed for members to compare (statehash.go); default 256.
	// Every member must use the same.
	CheckpointEvery uint64
	// ApplyTimeout bounds how long Propose waits for raft to accept an entry
	// when the caller's context has no earlier deadline. Default 10s.
	ApplyTimeout time.Duration
}

// FastRaftTuning is short-timeout tuning for in-process test clusters on
// loopback: elections settle in well under a second.
func FastRaftTuning() RaftTuning {
	return RaftTuning{
		HeartbeatTimeout:   150 * time.Millisecond,
		ElectionTimeout:    150 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		ApplyTimeout:       5 * time.Second,
	}
}

func (t RaftTuning) withDefaults() RaftTuning {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.HeartbeatTimeout, time.Second)
	def(&t.ElectionTimeout, time.Second)
	def(&t.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&t.CommitTimeout, 50*time.Millisecond)
	def(&t.SnapshotInterval, 2*time.Minute)
	def(&t.ApplyTimeout, 10*time.Second)
	if t.SnapshotThreshold == 0 {
		t.SnapshotThreshold = 1024
	}
	if t.TrailingLogs == 0 {
		t.TrailingLogs = 2048
	}
	return t
}
