// Package nodetest runs an in-process frontdoor cluster for tests.
package nodetest

// The in-process test cluster: N real nodes (cluster.Store on the TCP
// transport, fiber HTTP servers) on 127.0.0.1 ephemeral ports with temp
// data dirs, joined through the real join flow. The api, web and command
// tests build on it:
//
//	tc := nodetest.New(t, 3)              // bootstrapped, all voters, every node ready
//	resp, body := tc.Do(t, tc.Follower(t), "POST", "/v1/attendances", `{"complaint":"x"}`, nil)
//	tc.Stop(t, i); tc.Start(t, i)        // clean stop / restart from the data dir
//	tc.Kill(t, i)                         // abrupt stop (Store.Kill), restart with Start
//	tc.Leader(t)                          // the node every member agrees leads
//
// Requests carry the bootstrap admin key (from node 0's admin.key) unless
// the header map sets "Authorization" itself; {"Authorization": ""} sends
// none. tc.Key(t, role, name) creates a key with another role.
//
// Everything is torn down in t.Cleanup.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
)

// Cluster is a running in-process cluster.
type Cluster struct {
	adjust   func(*node.Config)
	Nodes    []*Node
	Token    string
	AdminKey string // the bootstrap admin key, sent by default
	Client   *http.Client
}

// Node is one member; N is nil while it is stopped.
type Node struct {
	Index    int
	ID       string
	Dir      string
	HTTPAddr string // 127.0.0.1:port, kept across restarts
	RaftAddr string
	URL      string // http://httpAddr (https:// with NewHTTPS)
	Out      *SyncBuffer
	N        *node.Node
	conns    *trackingListener
}

// trackingListener remembers accepted connections so kill can drop them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c = killableConn{c}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// killableConn tolerates deadlines set after it was closed under the
// server's feet (fasthttp panics on that error otherwise).
type killableConn struct{ net.Conn }

func (c killableConn) SetDeadline(t time.Time) error      { _ = c.Conn.SetDeadline(t); return nil }
func (c killableConn) SetReadDeadline(t time.Time) error  { _ = c.Conn.SetReadDeadline(t); return nil }
func (c killableConn) SetWriteDeadline(t time.Time) error { _ = c.Conn.SetWriteDeadline(t); return nil }

func (l *trackingListener) closeAll() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// SyncBuffer is a goroutine-safe bytes.Buffer for a node's stdout.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreeAddr reserves a loopback port and releases it for the caller to bind.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return clustertest.FreeAddr(t)
}

// Logger discards logs unless FRONTDOOR_TEST_LOG names a level
// (debug, info, warn, error): raft is loud about stopped peers.
func Logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("FRONTDOOR_TEST_LOG"))); err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// New starts n nodes: node 0 bootstraps, the others join through
// node 0's HTTP API with the join token, and it returns once every node is
// a voter and ready.
func New(t testing.TB, n int) *Cluster {
	t.Helper()
	return NewWith(t, n, nil)
}

// NewWith is New with a hook that adjusts each node's
// serve configuration (e.g. production raft timings for benchmarks).
func NewWith(t testing.TB, n int, adjust func(*node.Config)) *Cluster {
	t.Helper()
	return newCluster(t, n, adjust, false)
}

// NewHTTPS is New with every node serving its API over HTTPS (the node
// certificates from the cluster CA), and a client that trusts only that
// CA (read from the first node's tls/ca.crt once it has bootstrapped).
func NewHTTPS(t testing.TB, n int) *Cluster {
	t.Helper()
	return newCluster(t, n, func(c *node.Config) { c.HTTPS = true }, true)
}

func newCluster(t testing.TB, n int, adjust func(*node.Config), https bool) *Cluster {
	t.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	tc := &Cluster{adjust: adjust, Client: &http.Client{Timeout: 20 * time.Second, Transport: transport}}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	for i := range n {
		id := fmt.Sprintf("node%d", i+1)
		dir := filepath.Join(t.TempDir(), id)
		addr := FreeAddr(t)
		tc.Nodes = append(tc.Nodes, &Node{Index: i, ID: id, Dir: dir, HTTPAddr: addr, RaftAddr: FreeAddr(t),
			URL: scheme + addr, Out: &SyncBuffer{}})
	}
	t.Cleanup(func() {
		for _, tn := range tc.Nodes {
			if tn.N != nil {
				_ = tn.N.Shutdown()
				tn.N = nil
			}
		}
	})
	tc.Start(t, 0)
	if https {
		caPEM, err := os.ReadFile(filepath.Join(trust.Dir(tc.Nodes[0].Dir), "ca.crt"))
		if err != nil {
			t.Fatalf("bootstrap wrote no CA certificate: %v", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(caPEM) {
			t.Fatal("bad CA certificate")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	tok, err := os.ReadFile(filepath.Join(tc.Nodes[0].Dir, node.JoinTokenFile))
	if err != nil {
		t.Fatalf("bootstrap wrote no join token: %v", err)
	}
	tc.Token = strings.TrimSpace(string(tok))
	key, err := node.ReadKeyFile(filepath.Join(tc.Nodes[0].Dir, node.AdminKeyFile))
	if err != nil {
		t.Fatalf("bootstrap wrote no admin key: %v", err)
	}
	tc.AdminKey = key
	for i := 1; i < n; i++ {
		tc.Start(t, i)
	}
	tc.WaitVoters(t, n)
	tc.WaitReady(t)
	return tc
}

// Config is node i's serve configuration; join and token apply to a fresh
// data dir only (a restart uses its stored identity).
func (tc *Cluster) Config(i int) node.Config {
	tn := tc.Nodes[i]
	cfg := node.Config{
		DataDir:         tn.Dir,
		NodeID:          tn.ID,
		HTTPAddr:        tn.HTTPAddr,
		RaftAddr:        tn.RaftAddr,
		ShutdownTimeout: 5 * time.Second,
		RaftTuning:      cluster.FastRaftTuning(),
		Logger:          Logger().With("test_node", tn.ID),
		SkipRaftMetrics: true,
		JoinRetryMax:    500 * time.Millisecond,
		RequestTimeout:  5 * time.Second,
		// Test receivers are plain http on 127.0.0.1.
		WebhookDevLoopback: true,
	}
	if i > 0 {
		cfg.Join = []string{tc.Nodes[0].HTTPAddr}
		cfg.JoinToken = tc.Token
	}
	if tc.adjust != nil {
		tc.adjust(&cfg)
	}
	return cfg
}

// Start starts (or restarts, from its data dir) node i.
func (tc *Cluster) Start(t testing.TB, i int) {
	t.Helper()
	tc.StartWith(t, i, tc.Config(i))
}

func (tc *Cluster) StartWith(t testing.TB, i int, cfg node.Config) {
	t.Helper()
	tn := tc.Nodes[i]
	if tn.N != nil {
		t.Fatalf("%s already running", tn.ID)
	}
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ { // the port may linger briefly after a stop
		if ln, err = net.Listen("tcp", tn.HTTPAddr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: listen: %v", tn.ID, err)
	}
	tn.conns = &trackingListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	cfg.HTTPListener = tn.conns
	n, err := node.Start(context.Background(), cfg, tn.Out)
	if err != nil {
		ln.Close()
		t.Fatalf("%s: start: %v", tn.ID, err)
	}
	tn.N = n
}

// Stop shuts node i down cleanly (leadership transfer, HTTP drain, close).
func (tc *Cluster) Stop(t testing.TB, i int) {
	t.Helper()
	tn := tc.Nodes[i]
	if tn.N == nil {
		return
	}
	if err := tn.N.Shutdown(); err != nil {
		t.Errorf("%s: shutdown: %v", tn.ID, err)
	}
	tn.N = nil
}

// Kill stops node i abruptly, as a crash would for raft (no leadership
// transfer, no drain); its data dir stays for start to reuse.
func (tc *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	tn := tc.Nodes[i]
	if tn.N == nil {
		return
	}
	// A crash drops every connection at once; fiber's shutdown would let
	// kept-alive ones go on being served by the dead node.
	tn.conns.closeAll()
	if err := tn.N.Kill(); err != nil {
		t.Errorf("%s: kill: %v", tn.ID, err)
	}
	tn.N = nil
}

// Eventually polls cond every 50ms until it returns nil or 30s pass.
func Eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 30s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Running lists the nodes that are up.
func (tc *Cluster) Running() []*Node {
	var out []*Node
	for _, tn := range tc.Nodes {
		if tn.N != nil {
			out = append(out, tn)
		}
	}
	return out
}

// Leader waits until every running node agrees on one leader and returns it.
func (tc *Cluster) Leader(t testing.TB) *Node {
	t.Helper()
	var lead *Node
	Eventually(t, "one agreed leader", func() error {
		lead = nil
		var id string
		for _, tn := range tc.Running() {
			li, ok := tn.N.Store().Leader()
			if !ok {
				return fmt.Errorf("%s knows no leader", tn.ID)
			}
			if id != "" && li.ID != id {
				return fmt.Errorf("nodes disagree: %s and %s", id, li.ID)
			}
			id = li.ID
		}
		for _, tn := range tc.Running() {
			if tn.ID == id && tn.N.Store().IsLeader() {
				lead = tn
			}
		}
		if lead == nil {
			return fmt.Errorf("leader %q is not a running node", id)
		}
		return nil
	})
	return lead
}

// Follower returns a running node that is not the leader.
func (tc *Cluster) Follower(t testing.TB) *Node {
	t.Helper()
	lead := tc.Leader(t)
	for _, tn := range tc.Running() {
		if tn != lead {
			return tn
		}
	}
	t.Fatal("no follower running")
	return nil
}

// WaitVoters waits until the leader's configuration has n voters.
func (tc *Cluster) WaitVoters(t testing.TB, n int) {
	t.Helper()
	Eventually(t, fmt.Sprintf("%d voters", n), func() error {
		lead := tc.Leader(t)
		voters := 0
		for _, ns := range lead.N.Store().Status().Nodes {
			if ns.Suffrage == "voter" {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d voters", voters)
		}
		return nil
	})
}

// WaitCaughtUp waits until tn has applied everything the leader has. A
// request to tn is not proof of that: a key tn has not applied yet is
// forwarded to the leader, which answers for it.
func (tc *Cluster) WaitCaughtUp(t testing.TB, tn *Node) {
	t.Helper()
	want := tc.Leader(t).N.Store().AppliedIndex()
	Eventually(t, tn.ID+" caught up", func() error {
		if got := tn.N.Store().AppliedIndex(); got < want {
			return fmt.Errorf("applied %d of the leader's %d", got, want)
		}
		return nil
	})
}

// WaitReady waits until /readyz is 200 on every running node.
func (tc *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	for _, tn := range tc.Running() {
		Eventually(t, tn.ID+" ready", func() error {
			resp, body := tc.Do(t, tn, http.MethodGet, "/readyz", "", nil)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
			}
			return nil
		})
	}
}

// Do sends one request to a node and returns the response and its body.
func (tc *Cluster) Do(t testing.TB, tn *Node, method, path, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := tc.Try(tn, method, path, body, header)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, tn.ID, err)
	}
	return resp, b
}

// Try is Do without failing the test on a transport error.
func (tc *Cluster) Try(tn *Node, method, path, body string, header map[string]string) (*http.Response, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tn.URL+path, r)
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if _, own := header["Authorization"]; !own && tc.AdminKey != "" {
		req.Header.Set("Authorization", "Bearer "+tc.AdminKey)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := tc.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// DecodeJSON unmarshals a response body or fails the test.
func DecodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// Key creates an API key with role for holder name (through the admin key)
// and returns its secret.
func (tc *Cluster) Key(t testing.TB, role, name string) string {
	t.Helper()
	return tc.ScopedKey(t, role, name, "")
}

// ScopedKey creates a key of role scoped to the service serviceID (its
// staff: "" for none) and returns its secret.
func (tc *Cluster) ScopedKey(t testing.TB, role, name, serviceID string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"role":%q}`, name, role)
	if serviceID != "" {
		body = fmt.Sprintf(`{"name":%q,"role":%q,"service_id":%q}`, name, role, serviceID)
	}
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/keys", body, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s key: %d %s", role, resp.StatusCode, b)
	}
	var k struct {
		Key string `json:"key"`
	}
	DecodeJSON(t, b, &k)
	if k.Key == "" {
		t.Fatalf("create %s key: no secret in %s", role, b)
	}
	return k.Key
}

// BearerHeader is the header map that sends key instead of the admin key.
func BearerHeader(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key}
}

// DoOnce sends a write with an Idempotency-Key and retries any 503 (no
// leader, or an outcome unknown after a leadership change) with the same key
// for up to 10 s: the write is applied once, and the first result returned.
func (tc *Cluster) DoOnce(t *testing.T, tn *Node, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Idempotency-Key": fmt.Sprintf("test-%s-%d", t.Name(), time.Now().UnixNano())}
	for k, v := range hdr {
		h[k] = v
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := tc.Do(t, tn, method, path, body, h)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp, b
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DoRetry is Do that retries a 503 "not accepted" answer (nothing was
// done: an election was under way, as happens on a loaded test machine)
// for up to 10 seconds.
func (tc *Cluster) DoRetry(t *testing.T, tn *Node, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := tc.Do(t, tn, method, path, body, hdr)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "/problems/not-accepted") || time.Now().After(deadline) {
			return resp, b
		}
		time.Sleep(100 * time.Millisecond)
	}
}
