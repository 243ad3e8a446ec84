// Package clustertest starts in-process frontdoor clusters for tests: N
// stores on 127.0.0.1 TCP ports with temp data dirs and short raft timeouts,
// bootstrapped, joined with the real join token and promoted to voters.
package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/prometheus/client_golang/prometheus"
)

// Node is one member of a test cluster.
type Node struct {
	ID       string
	Dir      string
	RaftAddr string
	HTTPAddr string // a fake, unique address (no HTTP server runs)
	Store    *cluster.Store
	Registry *prometheus.Registry
	Alive    bool
	// Fatal receives the store's fatal error, if any.
	Fatal <-chan error
}

// Options tune a test cluster.
type Options struct {
	Raft   cluster.RaftTuning // zero -> cluster.FastRaftTuning()
	Logger *slog.Logger       // nil -> discard (set FRONTDOOR_TEST_LOG=1 for stderr)
	// Configure adjusts a node's store config (e.g. an injected free-space
	// reading).
	Configure func(nd *Node, cfg *cluster.Config)
	// EncryptionKey encrypts every node's data dir (nil: in clear).
	EncryptionKey []byte
}

// Cluster is a set of in-process nodes.
type Cluster struct {
	t     testing.TB
	opts  Options
	mu    sync.Mutex
	Nodes []*Node
	Token string
	base  string
}

// Logger returns the logger tests should use.
func Logger() *slog.Logger {
	if os.Getenv("FRONTDOOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// handedOut holds the ports FreeAddr gave this test process.
var handedOut sync.Map

// FreeAddr returns a currently free 127.0.0.1:port for a test node to bind
// later. It picks from 20000-31999, below Linux's ephemeral range
// (32768-60999): a port the kernel handed out for ":0" and that the test
// then freed can be taken meanwhile as the source port of any outgoing
// loopback connection (tests make many), which showed up as "bind: address
// already in use" under load. Each process starts at its own offset (from
// its pid and the clock), so test binaries running side by side rarely meet.
// A port is handed out once per process: two nodes (of one test or of tests
// running in parallel) asking before either has bound would otherwise be
// given the same free port, which showed up as "bind: address already in
// use" when the second bound.
func FreeAddr(t testing.TB) string {
	t.Helper()
	const lo, span = 20000, 12000
	start := (os.Getpid()*7919 + int(time.Now().UnixNano()%span)) % span
	for i := range 400 {
		port := lo + (start+i*101)%span
		if _, taken := handedOut.Load(port); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := l.Addr().String()
		l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		return addr
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// New starts an n-node cluster and waits until every node is a voter and has
// applied the leader's registration of it. Nodes are closed in t.Cleanup.
func New(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.Raft == (cluster.RaftTuning{}) {
		opts.Raft = cluster.FastRaftTuning()
	}
	if opts.Logger == nil {
		opts.Logger = Logger()
	}
	c := &Cluster{t: t, opts: opts}
	base := t.TempDir() // before Cleanup(c.Close): cleanups run last-in first-out
	c.base = base
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		nd := &Node{
			ID:       fmt.Sprintf("node%d", i),
			Dir:      filepath.Join(base, fmt.Sprintf("node%d", i)),
			RaftAddr: FreeAddr(t),
			HTTPAddr: fmt.Sprintf("127.0.0.1:%d", 18080+i),
		}
		c.Nodes = append(c.Nodes, nd)
		if err := c.open(ctx, nd); err != nil {
			t.Fatalf("open %s: %v", nd.ID, err)
		}
		if i == 0 {
			info, err := nd.Store.Bootstrap(ctx)
			if err != nil {
				t.Fatalf("bootstrap: %v", err)
			}
			b, err := os.ReadFile(info.JoinTokenPath)
			if err != nil {
				t.Fatalf("join token: %v", err)
			}
			c.Token = strings.TrimSpace(string(b))
			continue
		}
		if err := c.Join(ctx, nd, c.Token); err != nil {
			t.Fatalf("join %s: %v", nd.ID, err)
		}
		leader := c.Leader(ctx)
		if err := retry(ctx, func() error { return leader.Store.Promote(ctx, nd.ID) }); err != nil {
			t.Fatalf("promote %s: %v", nd.ID, err)
		}
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatalf("converge: %v", err)
	}
	return c
}

// Config returns the store config for nd.
func (c *Cluster) Config(nd *Node) cluster.Config {
	return cluster.Config{
		NodeID:        nd.ID,
		Dir:           nd.Dir,
		RaftBind:      nd.RaftAddr,
		HTTPAdvertise: nd.HTTPAddr,
		Version:       "test",
		Logger:        c.opts.Logger.With("test_node", nd.ID),
		Registerer:    nd.Registry,
		Raft:          c.opts.Raft,
		Commands:      clinic.Commands(),
		EncryptionKey: c.opts.EncryptionKey,
	}
}

func (c *Cluster) configure(nd *Node) cluster.Config {
	cfg := c.Config(nd)
	if c.opts.Configure != nil {
		c.opts.Configure(nd, &cfg)
	}
	return cfg
}

func (c *Cluster) open(ctx context.Context, nd *Node) error {
	c.mu.Lock()
	nd.Registry = prometheus.NewRegistry()
	cfg := c.configure(nd)
	c.mu.Unlock()
	fatal := make(chan error, 1)
	cfg.OnFatal = func(err error) { fatal <- err }
	s, err := cluster.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Open(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	nd.Store, nd.Alive, nd.Fatal = s, true, fatal
	c.mu.Unlock()
	return nil
}

// Join asks the current leader to add nd as a non-voter.
func (c *Cluster) Join(ctx context.Context, nd *Node, token string) error {
	return retry(ctx, func() error {
		l := c.Leader(ctx)
		if l == nil {
			return cluster.ErrNoLeader
		}
		req, err := nd.Store.NewJoinRequest(token)
		if err != nil {
			return err
		}
		ans, err := l.Store.Join(ctx, req)
		if err != nil {
			return err
		}
		return nd.Store.AcceptJoin(token, ans)
	})
}

// retry retries fn while it fails with a "try again" error.
func retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !(errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) ||
			errors.Is(err, cluster.ErrOutcomeUnknown)) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Retry is retry for tests: it retries fn while it fails with ErrNotLeader,
// ErrNoLeader or ErrOutcomeUnknown.
func Retry(ctx context.Context, fn func() error) error { return retry(ctx, fn) }

// Leader waits for a live node that is leader and returns it (nil if ctx
// ends first).
func (c *Cluster) Leader(ctx context.Context) *Node {
	for {
		c.mu.Lock()
		for _, nd := range c.Nodes {
			if nd.Alive && nd.Store.IsLeader() {
				c.mu.Unlock()
				return nd
			}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Live returns the nodes that are running.
func (c *Cluster) Live() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, nd := range c.Nodes {
		if nd.Alive {
			out = append(out, nd)
		}
	}
	return out
}

// Others returns the running nodes other than nd (a leader's followers),
// in node order.
func (c *Cluster) Others(nd *Node) []*Node {
	var out []*Node
	for _, o := range c.Live() {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// Kill stops nd abruptly (no leadership transfer).
func (c *Cluster) Kill(nd *Node) {
	c.mu.Lock()
	nd.Alive = false
	c.mu.Unlock()
	if err := nd.Store.Kill(); err != nil {
		c.t.Errorf("kill %s: %v", nd.ID, err)
	}
}

// Stop closes nd cleanly (leadership transfer if it leads).
func (c *Cluster) Stop(ctx context.Context, nd *Node) error {
	c.mu.Lock()
	nd.Alive = false
	c.mu.Unlock()
	return nd.Store.Close(ctx)
}

// AddNode opens a fresh node (own temp dir and port) that is not yet a
// member; join it with Join and promote it with the leader's Promote.
func (c *Cluster) AddNode(ctx context.Context, id string) (*Node, error) {
	nd := &Node{
		ID:       id,
		Dir:      filepath.Join(c.base, id),
		RaftAddr: FreeAddr(c.t),
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", 18180+len(c.Nodes)),
	}
	return nd, c.AddNodeAt(ctx, nd)
}

// AddNodeAt opens nd (filled in by the caller) and adds it to the cluster's
// node list without joining it.
func (c *Cluster) AddNodeAt(ctx context.Context, nd *Node) error {
	c.mu.Lock()
	c.Nodes = append(c.Nodes, nd)
	c.mu.Unlock()
	return c.open(ctx, nd)
}

// Restart reopens a stopped node from its data dir.
func (c *Cluster) Restart(ctx context.Context, nd *Node) error {
	if err := c.open(ctx, nd); err != nil {
		return err
	}
	return nil
}

// WaitConverged waits until a leader exists and every live node has applied
// the leader's commit index and all state hashes are equal.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	for {
		err := c.converged(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) converged(ctx context.Context) error {
	l := c.Leader(ctx)
	if l == nil {
		return errors.New("no leader")
	}
	// A barrier-like linearizable read makes the leader apply all it has.
	if err := l.Store.Read(ctx, cluster.ConsistencyLinearizable, func(*cluster.View) error { return nil }); err != nil {
		return err
	}
	want := l.Store.AppliedIndex()
	var hashes []string
	for _, nd := range c.Live() {
		if err := nd.Store.WaitApplied(ctx, want); err != nil {
			return fmt.Errorf("%s: %w", nd.ID, err)
		}
		h, _, err := nd.Store.StateHash()
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	for _, h := range hashes[1:] {
		if h != hashes[0] {
			return fmt.Errorf("state hashes differ: %v", hashes)
		}
	}
	return nil
}

// Close closes every live node.
func (c *Cluster) Close() {
	for _, nd := range c.Live() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = nd.Store.Close(ctx)
		cancel()
		nd.Alive = false
	}
}

// CreateAttendance proposes an attendance on nd and returns it.
func CreateAttendance(ctx context.Context, nd *Node, complaint string, idem *cluster.Idempotency) (*care.Attendance, *cluster.Result, error) {
	body, _ := json.Marshal(care.AttendanceCreate{Complaint: complaint})
	res, err := nd.Store.Propose(ctx, cluster.Proposal{
		Kind:        care.KindAttendanceCreate,
		Actor:       cluster.Actor{ID: "test", Name: "Test Receptionist", Role: "reception"},
		Payload:     body,
		Idempotency: idem,
	})
	if err != nil {
		return nil, nil, err
	}
	if res.Err != nil {
		return nil, res, res.Err
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		return nil, res, err
	}
	return &a, res, nil
}

// DataDirs lists each node's data directory (for debugging failed tests).
func (c *Cluster) DataDirs() []string {
	var out []string
	for _, nd := range c.Nodes {
		out = append(out, filepath.Clean(nd.Dir))
	}
	return out
}
