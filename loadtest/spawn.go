package loadtest

import (
	"context"
	"errors"
	"fmt"
	"github.com/frontdoor-ucc/frontdoor/cluster/faultproxy"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Files a node writes in its data dir (cmd/frontdoor: serve.go, auth_keys.go).
const (
	joinTokenFile = "join.token"
	adminKeyFile  = "admin.key"
)

// Cluster is a cluster of `frontdoor serve` processes that loadtest
// started on loopback ports with temporary data dirs.
type Cluster struct {
	Dir   string // holds every node's data dir and log
	Nodes []*Node
	Key   string // the admin key, when the build makes one

	bin    string
	client *Client
	log    io.Writer
	// Net holds a fault proxy in front of each node's raft port when the
	// cluster was spawned for partitions (nil otherwise).
	Net *faultproxy.Network
}

// Node is one spawned process.
type Node struct {
	Name     string // n1, n2, ...
	HTTPAddr string
	RaftAddr string
	DataDir  string
	LogPath  string
	args     []string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	restarts int
	usage    procUsage // CPU and memory over every process this node has been
}

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.HTTPAddr }

// Running reports whether the node's process is up.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

func (n *Node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// freeAddr is a loopback address with a port nobody listens on now. It
// picks from 20000-31999, below Linux's ephemeral range (32768-60999): a
// port from ":0" that is freed again can be taken as the source port of an
// outgoing connection (the load makes many) before the node binds it.
func freeAddr() (string, error) {
	const lo, span = 20000, 12000
	start := (os.Getpid()*7919 + int(time.Now().UnixNano()%span)) % span
	for i := range 200 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lo+(start+i*101)%span))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// SpawnCluster starts n nodes of bin: the first bootstraps, the others
// join with its join token; it returns once every node is a ready voter.
// On error everything it started is stopped and removed.
//
// With partitions, each node binds its raft port on its own loopback
// address (127.0.0.2, .3, ...) and advertises a fault proxy in front of it
// (Cluster.Net), so the load tool can cut a node off.
func SpawnCluster(ctx context.Context, bin string, n int, parent string, log io.Writer, partitions bool) (_ *Cluster, err error) {
	dir, err := os.MkdirTemp(parent, "frontdoor-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("spawn: temp dir: %w", err)
	}
	c := &Cluster{Dir: dir, bin: bin, log: log}
	if partitions {
		c.Net = faultproxy.NewNetwork()
	}
	defer func() {
		if err != nil {
			c.dumpLogs()
			c.Remove(false)
		}
	}()
	for i := range n {
		nd := &Node{Name: fmt.Sprintf("n%d", i+1), DataDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			LogPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		if nd.HTTPAddr, err = freeAddr(); err != nil {
			return nil, fmt.Errorf("spawn: %w", err)
		}
		if nd.RaftAddr, err = freeAddr(); err != nil {
			return nil, fmt.Errorf("spawn: %w", err)
		}
		nd.args = []string{"serve", "--node-id", nd.Name, "--data-dir", nd.DataDir, "--http-addr", nd.HTTPAddr,
			"--raft-addr", nd.RaftAddr, "--shutdown-timeout", "5s", "--log-level", "warn",
			// The dispatch workload's teams are loadtest's own plain http
			// receiver on 127.0.0.1 (a throwaway loopback cluster).
			"--webhook-dev-loopback"}
		if c.Net != nil {
			ip := faultproxy.LoopbackIP(i + 2)
			if ip == "127.0.0.1" {
				return nil, errors.New("spawn: --chaos partition needs distinct loopback addresses (127.0.0.N)")
			}
			l, err := net.Listen("tcp", ip+":0")
			if err != nil {
				return nil, fmt.Errorf("spawn: %w", err)
			}
			bind := l.Addr().String()
			l.Close()
			p, err := faultproxy.New(nd.RaftAddr, bind)
			if err != nil {
				return nil, fmt.Errorf("spawn: fault proxy: %w", err)
			}
			c.Net.Add(nd.Name, p, faultproxy.Source{IP: ip})
			nd.args = append(nd.args, "--raft-addr", bind, "--raft-advertise", nd.RaftAddr)
		}
		c.Nodes = append(c.Nodes, nd)
	}
	urls := make([]string, n)
	for i, nd := range c.Nodes {
		urls[i] = nd.URL()
	}
	c.client = NewClient(urls, "", 4)

	first := c.Nodes[0]
	if err := c.Start(first); err != nil {
		return nil, err
	}
	if err := c.WaitReady(ctx, first, time.Minute); err != nil {
		return nil, err
	}
	// /readyz can answer before the token file is complete.
	var token string
	if err := poll(ctx, 30*time.Second, "join token in "+first.DataDir, func() error {
		b, err := os.ReadFile(filepath.Join(first.DataDir, joinTokenFile))
		if err != nil {
			return err
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return errors.New("empty")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := c.findKey(ctx); err != nil {
		return nil, err
	}
	for _, nd := range c.Nodes[1:] {
		// The token goes by file (the first node's join.token), never as a
		// flag: a flag would show in ps.
		nd.args = append(nd.args, "--join", first.HTTPAddr, "--join-token-file", filepath.Join(first.DataDir, joinTokenFile))
		if err := c.Start(nd); err != nil {
			return nil, err
		}
	}
	if err := poll(ctx, time.Minute, fmt.Sprintf("%d voters", n), func() error {
		var v clusterView
		if _, err := c.client.GetJSON(ctx, 0, "/v1/cluster", &v); err != nil {
			return err
		}
		voters := 0
		for _, m := range v.Nodes {
			if m.Suffrage == "voter" {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d of %d voters", voters, n)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, nd := range c.Nodes {
		if err := c.WaitReady(ctx, nd, time.Minute); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// findKey decides whether requests need an API key: a build with access
// control writes the bootstrap admin key to admin.key in the first node's
// data dir and refuses keyless requests (401); one without answers them.
func (c *Cluster) findKey(ctx context.Context) error {
	path := filepath.Join(c.Nodes[0].DataDir, adminKeyFile)
	return poll(ctx, 30*time.Second, "the admin key in "+path+" (the cluster answers 401 without one)", func() error {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
			c.Key = strings.TrimSpace(string(b))
			c.client.SetKey(c.Key) // the chaos probes write too
			return nil
		}
		resp, err := c.client.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/attendances?limit=1&consistency=stale", Node: 0})
		if err != nil {
			return err
		}
		if resp.Status == http.StatusUnauthorized {
			return errors.New("401 without a key, and no admin.key yet")
		}
		return nil // no access control in this build
	})
}

// clusterView is the part of GET /v1/cluster that loadtest reads.
type clusterView struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID       string `json:"id"`
		HTTPAddr string `json:"http_addr"`
		Suffrage string `json:"suffrage"`
	} `json:"nodes"`
}

// Start starts a node's process (again, after Kill: it restarts from its
// data dir with its stored identity).
func (c *Cluster) Start(nd *Node) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		return fmt.Errorf("spawn: %s is already running", nd.Name)
	}
	logf, err := os.OpenFile(nd.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spawn %s: %w", nd.Name, err)
	}
	cmd := exec.Command(c.bin, nd.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so the terminal's Ctrl-C reaches loadtest
	// only (which then stops the nodes), and killed with loadtest if
	// loadtest itself dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The node's own FRONTDOOR_* settings must not leak in from ours.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FRONTDOOR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("spawn %s: %w", nd.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	nd.cmd, nd.done = cmd, done
	nd.usage.startProcess(cmd.Process.Pid)
	return nil
}

// Kill is kill -9; it returns once the process is gone.
func (c *Cluster) Kill(nd *Node) {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	nd.usage.sample(cmd.Process.Pid) // its last figures
	_ = cmd.Process.Kill()
	<-done
	nd.mu.Lock()
	nd.cmd = nil
	nd.mu.Unlock()
}

// Restart starts a killed node again.
func (c *Cluster) Restart(nd *Node) error {
	if err := c.Start(nd); err != nil {
		return err
	}
	nd.mu.Lock()
	nd.restarts++
	nd.mu.Unlock()
	return nil
}

// stop sends SIGTERM (a clean shutdown) and kill -9 after timeout.
func (c *Cluster) stop(nd *Node, timeout time.Duration) {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	nd.usage.sample(cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
	}
	nd.mu.Lock()
	nd.cmd = nil
	nd.mu.Unlock()
}

// Remove stops every node and deletes the cluster's directory (unless
// keep, when it says where it is).
func (c *Cluster) Remove(keep bool) {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(nd, 10*time.Second) }()
	}
	wg.Wait()
	if c.client != nil {
		c.client.Close()
	}
	if c.Net != nil {
		c.Net.Close()
	}
	if keep {
		fmt.Fprintf(c.log, "loadtest: kept the cluster's data dirs and logs in %s\n", c.Dir)
		return
	}
	_ = os.RemoveAll(c.Dir)
}

// WaitReady waits until the node's /readyz answers 200.
func (c *Cluster) WaitReady(ctx context.Context, nd *Node, timeout time.Duration) error {
	i := c.index(nd)
	return poll(ctx, timeout, nd.Name+" ready", func() error {
		if !nd.Running() {
			return fmt.Errorf("%s is not running (see %s)", nd.Name, nd.LogPath)
		}
		_, err := c.client.GetJSON(ctx, i, "/readyz", nil)
		return err
	})
}

func (c *Cluster) index(nd *Node) int {
	for i, m := range c.Nodes {
		if m == nd {
			return i
		}
	}
	return -1
}

// Leader asks the running nodes which node leads.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	var lead *Node
	err := poll(ctx, 15*time.Second, "a leader", func() error {
		for i, nd := range c.Nodes {
			if !nd.Running() {
				continue
			}
			var v clusterView
			if _, err := c.client.GetJSON(ctx, i, "/v1/cluster", &v); err != nil || v.Leader == "" {
				continue
			}
			for _, m := range c.Nodes {
				if m.Name == v.Leader && m.Running() {
					lead = m
					return nil
				}
			}
		}
		return errors.New("no running node names a running leader")
	})
	return lead, err
}

// URLs is every node's base URL.
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		out[i] = nd.URL()
	}
	return out
}

// dumpLogs writes the tail of every node's log (after a failure).
func (c *Cluster) dumpLogs() {
	for _, nd := range c.Nodes {
		b, err := os.ReadFile(nd.LogPath)
		if err != nil {
			continue
		}
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(c.log, "---- %s log (tail, %s) ----\n%s\n", nd.Name, nd.LogPath, b)
	}
}

// poll calls fn every 100ms until it succeeds, the timeout passes or ctx ends.
func poll(ctx context.Context, timeout time.Duration, what string, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting %v for %s: %w", timeout, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
