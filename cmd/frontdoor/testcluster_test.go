package main

// The in-process test cluster: N real nodes (cluster.Store on the TCP
// transport, fiber HTTP servers) on 127.0.0.1 ephemeral ports with temp
// data dirs, joined through the real join flow. Later issues' tests
// (workflow, dispatch, browser) build on it:
//
//	tc := newTestCluster(t, 3)           // bootstrapped, all voters, every node ready
//	resp, body := tc.do(t, tc.follower(t), "POST", "/v1/attendances", `{"complaint":"x"}`, nil)
//	tc.stop(t, i); tc.start(t, i)        // clean stop / restart from the data dir
//	tc.kill(t, i)                         // abrupt stop (Store.Kill), restart with start
//	tc.leader(t)                          // the node every member agrees leads
//
// Requests carry the bootstrap admin key (from node 0's admin.key) unless
// the header map sets "Authorization" itself; {"Authorization": ""} sends
// none. tc.key(t, role, name) creates a key with another role.
//
// Everything is torn down in t.Cleanup.

import (
	"bytes"
	"context"
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
)

// testCluster is a running in-process cluster.
type testCluster struct {
	adjust   func(*serveConfig)
	nodes    []*testNode
	token    string
	adminKey string // the bootstrap admin key, sent by default
	client   *http.Client
}

// testNode is one member; n is nil while it is stopped.
type testNode struct {
	i        int
	id       string
	dir      string
	httpAddr string // 127.0.0.1:port, kept across restarts
	raftAddr string
	url      string // http://httpAddr
	out      *syncBuffer
	n        *node
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

// syncBuffer is a goroutine-safe bytes.Buffer for a node's stdout.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr reserves a loopback port and releases it for the caller to bind.
func freeAddr(t testing.TB) string {
	t.Helper()
	return clustertest.FreeAddr(t)
}

// testLogger discards logs unless FRONTDOOR_TEST_LOG names a level
// (debug, info, warn, error): raft is loud about stopped peers.
func testLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("FRONTDOOR_TEST_LOG"))); err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newTestCluster starts n nodes: node 0 bootstraps, the others join through
// node 0's HTTP API with the join token, and it returns once every node is
// a voter and ready.
func newTestCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, nil)
}

// newTestClusterWith is newTestCluster with a hook that adjusts each node's
// serve configuration (e.g. production raft timings for benchmarks).
func newTestClusterWith(t testing.TB, n int, adjust func(*serveConfig)) *testCluster {
	t.Helper()
	tc := &testCluster{adjust: adjust, client: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	for i := range n {
		id := fmt.Sprintf("node%d", i+1)
		dir := filepath.Join(t.TempDir(), id)
		addr := freeAddr(t)
		tc.nodes = append(tc.nodes, &testNode{i: i, id: id, dir: dir, httpAddr: addr, raftAddr: freeAddr(t),
			url: "http://" + addr, out: &syncBuffer{}})
	}
	t.Cleanup(func() {
		for _, tn := range tc.nodes {
			if tn.n != nil {
				_ = tn.n.shutdown()
				tn.n = nil
			}
		}
	})
	tc.start(t, 0)
	tok, err := os.ReadFile(filepath.Join(tc.nodes[0].dir, joinTokenFile))
	if err != nil {
		t.Fatalf("bootstrap wrote no join token: %v", err)
	}
	tc.token = strings.TrimSpace(string(tok))
	key, err := readKeyFile(filepath.Join(tc.nodes[0].dir, adminKeyFile))
	if err != nil {
		t.Fatalf("bootstrap wrote no admin key: %v", err)
	}
	tc.adminKey = key
	for i := 1; i < n; i++ {
		tc.start(t, i)
	}
	tc.waitVoters(t, n)
	tc.waitReady(t)
	return tc
}

// config is node i's serve configuration; join and token apply to a fresh
// data dir only (a restart uses its stored identity).
func (tc *testCluster) config(i int) serveConfig {
	tn := tc.nodes[i]
	cfg := serveConfig{
		DataDir:         tn.dir,
		NodeID:          tn.id,
		HTTPAddr:        tn.httpAddr,
		RaftAddr:        tn.raftAddr,
		ShutdownTimeout: 5 * time.Second,
		raftTuning:      cluster.FastRaftTuning(),
		logger:          testLogger().With("test_node", tn.id),
		skipRaftMetrics: true,
		joinRetryMax:    500 * time.Millisecond,
		requestTimeout:  5 * time.Second,
	}
	if i > 0 {
		cfg.Join = []string{tc.nodes[0].httpAddr}
		cfg.JoinToken = tc.token
	}
	if tc.adjust != nil {
		tc.adjust(&cfg)
	}
	return cfg
}

// start starts (or restarts, from its data dir) node i.
func (tc *testCluster) start(t testing.TB, i int) {
	t.Helper()
	tc.startWith(t, i, tc.config(i))
}

func (tc *testCluster) startWith(t testing.TB, i int, cfg serveConfig) {
	t.Helper()
	tn := tc.nodes[i]
	if tn.n != nil {
		t.Fatalf("%s already running", tn.id)
	}
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ { // the port may linger briefly after a stop
		if ln, err = net.Listen("tcp", tn.httpAddr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: listen: %v", tn.id, err)
	}
	tn.conns = &trackingListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	cfg.httpListener = tn.conns
	n, err := startNode(context.Background(), cfg, tn.out)
	if err != nil {
		ln.Close()
		t.Fatalf("%s: start: %v", tn.id, err)
	}
	tn.n = n
}

// stop shuts node i down cleanly (leadership transfer, HTTP drain, close).
func (tc *testCluster) stop(t testing.TB, i int) {
	t.Helper()
	tn := tc.nodes[i]
	if tn.n == nil {
		return
	}
	if err := tn.n.shutdown(); err != nil {
		t.Errorf("%s: shutdown: %v", tn.id, err)
	}
	tn.n = nil
}

// kill stops node i abruptly, as a crash would for raft (no leadership
// transfer, no drain); its data dir stays for start to reuse.
func (tc *testCluster) kill(t testing.TB, i int) {
	t.Helper()
	tn := tc.nodes[i]
	if tn.n == nil {
		return
	}
	tn.n.stopWork()
	// A crash drops every connection at once; fiber's shutdown would let
	// kept-alive ones go on being served by the dead node.
	tn.conns.closeAll()
	_ = tn.n.app.ShutdownWithTimeout(0)
	if err := tn.n.store.Kill(); err != nil {
		t.Errorf("%s: kill: %v", tn.id, err)
	}
	tn.n = nil
}

// eventually polls cond every 50ms until it returns nil or 30s pass.
func eventually(t testing.TB, what string, cond func() error) {
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

// running lists the nodes that are up.
func (tc *testCluster) running() []*testNode {
	var out []*testNode
	for _, tn := range tc.nodes {
		if tn.n != nil {
			out = append(out, tn)
		}
	}
	return out
}

// leader waits until every running node agrees on one leader and returns it.
func (tc *testCluster) leader(t testing.TB) *testNode {
	t.Helper()
	var lead *testNode
	eventually(t, "one agreed leader", func() error {
		lead = nil
		var id string
		for _, tn := range tc.running() {
			li, ok := tn.n.store.Leader()
			if !ok {
				return fmt.Errorf("%s knows no leader", tn.id)
			}
			if id != "" && li.ID != id {
				return fmt.Errorf("nodes disagree: %s and %s", id, li.ID)
			}
			id = li.ID
		}
		for _, tn := range tc.running() {
			if tn.id == id && tn.n.store.IsLeader() {
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

// follower returns a running node that is not the leader.
func (tc *testCluster) follower(t testing.TB) *testNode {
	t.Helper()
	lead := tc.leader(t)
	for _, tn := range tc.running() {
		if tn != lead {
			return tn
		}
	}
	t.Fatal("no follower running")
	return nil
}

// waitVoters waits until the leader's configuration has n voters.
func (tc *testCluster) waitVoters(t testing.TB, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d voters", n), func() error {
		lead := tc.leader(t)
		voters := 0
		for _, ns := range lead.n.store.Status().Nodes {
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

// waitReady waits until /readyz is 200 on every running node.
func (tc *testCluster) waitReady(t testing.TB) {
	t.Helper()
	for _, tn := range tc.running() {
		eventually(t, tn.id+" ready", func() error {
			resp, body := tc.do(t, tn, http.MethodGet, "/readyz", "", nil)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
			}
			return nil
		})
	}
}

// do sends one request to a node and returns the response and its body.
func (tc *testCluster) do(t testing.TB, tn *testNode, method, path, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := tc.try(tn, method, path, body, header)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, tn.id, err)
	}
	return resp, b
}

// try is do without failing the test on a transport error.
func (tc *testCluster) try(tn *testNode, method, path, body string, header map[string]string) (*http.Response, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tn.url+path, r)
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if _, own := header["Authorization"]; !own && tc.adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+tc.adminKey)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := tc.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// decodeJSON unmarshals a response body or fails the test.
func decodeJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// key creates an API key with role for holder name (through the admin key)
// and returns its secret.
func (tc *testCluster) key(t testing.TB, role, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"role":%q}`, name, role)
	resp, b := tc.do(t, tc.leader(t), http.MethodPost, "/v1/keys", body, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s key: %d %s", role, resp.StatusCode, b)
	}
	var k struct {
		Key string `json:"key"`
	}
	decodeJSON(t, b, &k)
	if k.Key == "" {
		t.Fatalf("create %s key: no secret in %s", role, b)
	}
	return k.Key
}

// bearerHeader is the header map that sends key instead of the admin key.
func bearerHeader(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key}
}
