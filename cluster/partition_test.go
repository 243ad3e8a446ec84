package cluster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cluster/faultproxy"
)

// Partition tests: three in-process nodes, each advertising a fault proxy
// in front of its raft port and binding that port on its own loopback
// address (127.0.0.N), from which the raft port's dialler also dials its
// peers (peermux.go). A proxy therefore knows which node opened a
// connection, and the network can cut a node off in both directions
// (faultproxy package doc). Everything runs over the production transport:
// mutual TLS, raft and node-to-node HTTP on one port, untouched by the
// proxies.

// newPartitionCluster starts three nodes behind fault proxies.
func newPartitionCluster(t *testing.T) (*clustertest.Cluster, *faultproxy.Network) {
	t.Helper()
	const n = 3
	nw := faultproxy.NewNetwork()
	// Registered before the cluster's own cleanup: runs after the nodes
	// are closed.
	t.Cleanup(func() { nw.Close() })
	binds := map[string]string{}
	for i := range n {
		id := fmt.Sprintf("node%d", i)
		ip := faultproxy.LoopbackIP(40 + i)
		if ip == "127.0.0.1" {
			t.Skip("needs 127.0.0.N loopback addresses to tell nodes apart")
		}
		_, port, err := net.SplitHostPort(clustertest.FreeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		bind := net.JoinHostPort(ip, port)
		p, err := faultproxy.New("127.0.0.1:0", bind)
		if err != nil {
			t.Fatal(err)
		}
		nw.Add(id, p, faultproxy.Source{IP: ip})
		binds[id] = bind
	}
	// Configure runs under the cluster's lock: no t.Fatal in it.
	configure := func(nd *clustertest.Node, cfg *cluster.Config) {
		if p := nw.Proxy(nd.ID); p != nil {
			cfg.RaftBind, cfg.RaftAdvertise = binds[nd.ID], p.Addr()
		}
	}
	c := clustertest.New(t, n, clustertest.Options{Configure: configure})
	// Every connection a proxy carried must have been traced to a node;
	// otherwise Isolate would cut only the traffic into a node.
	seen := 0
	for _, id := range nw.Names() {
		src := nw.Proxy(id).Sources()
		if src[""] > 0 {
			t.Fatalf("proxy in front of %s: connections by source %v; want every one from a known node "+
				"(does the raft port dial from its bind address?)", id, src)
		}
		for _, k := range src {
			seen += k
		}
	}
	if seen == 0 {
		t.Fatal("no raft traffic went through the proxies")
	}
	return c, nw
}

// probe is one write sent straight to the cut-off node.
type probe struct {
	complaint string
	sent      time.Time
	answered  time.Time
	err       error
	id        string // acknowledged: the attendance
}

// definitelyRefused: nothing was accepted (ErrNotLeader, ErrNoLeader).
func (p *probe) definitelyRefused() bool {
	return errors.Is(p.err, cluster.ErrNotLeader) || errors.Is(p.err, cluster.ErrNoLeader)
}

// prober sends a write to nd every interval, each in its own goroutine,
// until stopped, and keeps every answer.
type prober struct {
	mu     sync.Mutex
	probes []*probe
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startProber(ctx context.Context, nd *clustertest.Node, prefix string, interval time.Duration, max int) *prober {
	pr := &prober{stop: make(chan struct{})}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		for k := 0; k < max; k++ {
			p := &probe{complaint: fmt.Sprintf("%s-%03d", prefix, k), sent: time.Now()}
			pr.mu.Lock()
			pr.probes = append(pr.probes, p)
			pr.mu.Unlock()
			pr.wg.Add(1)
			go func() {
				defer pr.wg.Done()
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				a, _, err := clustertest.CreateAttendance(pctx, nd, p.complaint, idemFor(p.complaint, p.complaint))
				pr.mu.Lock()
				defer pr.mu.Unlock()
				p.answered, p.err = time.Now(), err
				if err == nil {
					p.id = a.ID
				}
			}()
			select {
			case <-pr.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return pr
}

// firstRefusal is when the first probe got a "not accepted / outcome
// unknown" answer (zero if none yet).
func (pr *prober) firstRefusal() time.Time {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var first time.Time
	for _, p := range pr.probes {
		if p.err != nil && retryable(p.err) && (first.IsZero() || p.answered.Before(first)) {
			first = p.answered
		}
	}
	return first
}

func (pr *prober) finish() []*probe {
	close(pr.stop)
	pr.wg.Wait()
	return pr.probes
}

func idemFor(key, complaint string) *cluster.Idempotency {
	body, _ := json.Marshal(care.AttendanceCreate{Complaint: complaint})
	sum := sha256.Sum256(body)
	return &cluster.Idempotency{Key: key, Route: "POST /v1/attendances", BodyHash: hex.EncodeToString(sum[:])}
}

type partitionScenario struct {
	name string
	// cut partitions the network and returns the node cut off from the
	// majority (whose writes must be refused).
	cut func(nw *faultproxy.Network, leader *clustertest.Node, followers []*clustertest.Node) (*clustertest.Node, error)
	// leaderMoves: the majority must elect a leader other than the old one.
	leaderMoves bool
	// forgetsLeader: the cut-off node hears from no leader, so it comes to
	// know none (the HTTP layer then answers 503 instead of forwarding).
	forgetsLeader bool
}

var partitionScenarios = []partitionScenario{
	{
		name: "isolate leader",
		cut: func(nw *faultproxy.Network, l *clustertest.Node, _ []*clustertest.Node) (*clustertest.Node, error) {
			return l, nw.Isolate(l.ID)
		},
		leaderMoves:   true,
		forgetsLeader: true,
	},
	{
		name: "isolate follower",
		cut: func(nw *faultproxy.Network, _ *clustertest.Node, fs []*clustertest.Node) (*clustertest.Node, error) {
			return fs[0], nw.Isolate(fs[0].ID)
		},
		forgetsLeader: true,
	},
	{
		// One way: the leader's heartbeats are lost, the followers still
		// reach it. They elect a leader of their own, whose messages
		// depose the old one.
		name: "leader cannot send",
		cut: func(nw *faultproxy.Network, l *clustertest.Node, fs []*clustertest.Node) (*clustertest.Node, error) {
			return l, errors.Join(nw.Cut(l.ID, fs[0].ID), nw.Cut(l.ID, fs[1].ID))
		},
		leaderMoves: true,
	},
}

// TestPartition cuts one node off the other two while writers run: the
// cut-off node refuses writes (ErrNotLeader / ErrNoLeader /
// ErrOutcomeUnknown, never an acknowledgement), the majority keeps a
// leader and goes on acknowledging, and once healed the cut-off node
// catches up: every node holds every acknowledged write and nothing a
// refusal said was not accepted. Times are logged, not asserted.
func TestPartition(t *testing.T) {
	for _, sc := range partitionScenarios {
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
			runPartition(t, sc)
		})
	}
}

func runPartition(t *testing.T, sc partitionScenario) {
	c, nw := newPartitionCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	acks := &ackSet{ids: map[string]string{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("w%d-%05d", w, n)
				a, _, err := createWithKey(ctx, c, key, "writer "+key)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				acks.add(key, a.ID)
			}
		}()
	}
	stopWriters := func() {
		stop.Store(true)
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
	defer stopWriters()
	waitFor(t, ctx, "writes before the partition", func() bool { return acks.n.Load() >= 30 })

	leader := c.Leader(ctx)
	followers := c.Others(leader)
	cutAt := time.Now()
	minority, err := sc.cut(nw, leader, followers)
	if err != nil {
		t.Fatal(err)
	}
	atCut := acks.n.Load()
	pr := startProber(ctx, minority, "probe", 10*time.Millisecond, 500)

	// The minority refuses.
	waitFor(t, ctx, "the cut-off node to refuse a write", func() bool { return !pr.firstRefusal().IsZero() })
	refusedAfter := pr.firstRefusal().Sub(cutAt)
	// It stops believing it leads and, when isolated, knows no leader.
	waitFor(t, ctx, "the cut-off node to stop leading", func() bool { return !minority.Store.IsLeader() })
	steppedDown := time.Since(cutAt)
	var leaderless time.Duration
	if sc.forgetsLeader {
		waitFor(t, ctx, "the cut-off node to know no leader", func() bool { _, ok := minority.Store.Leader(); return !ok })
		leaderless = time.Since(cutAt)
	}

	// The majority has a leader and keeps acknowledging.
	var newLeader *clustertest.Node
	waitFor(t, ctx, "a leader in the majority", func() bool {
		for _, nd := range c.Live() {
			if nd != minority && nd.Store.IsLeader() {
				newLeader = nd
				return true
			}
		}
		return false
	})
	electedAfter := time.Since(cutAt)
	if sc.leaderMoves && newLeader == leader {
		t.Fatalf("%s still leads", leader.ID)
	}
	atLeader := acks.n.Load()
	waitFor(t, ctx, "the majority to acknowledge writes", func() bool { return acks.n.Load() >= atLeader+30 })
	probes := pr.finish()

	// Heal; the minority catches up with what the majority applied.
	target := newLeader.Store.AppliedIndex()
	nw.Heal()
	healAt := time.Now()
	if err := minority.Store.WaitApplied(ctx, target); err != nil {
		t.Fatalf("%s catching up to %d: %v", minority.ID, target, err)
	}
	caughtUp := time.Since(healAt)
	stopWriters()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	refused, unknown := 0, 0
	for _, p := range probes {
		switch {
		case p.err == nil:
			// A write the cut-off node acknowledged: it must be kept like
			// any other, but should never have happened.
			t.Errorf("%s acknowledged %s while cut off (sent %v after the cut)", minority.ID, p.complaint, p.sent.Sub(cutAt))
			acks.add(p.complaint, p.id)
		case p.definitelyRefused():
			refused++
		case errors.Is(p.err, cluster.ErrOutcomeUnknown):
			unknown++
		default:
			t.Errorf("probe %s: unexpected error %v", p.complaint, p.err)
		}
	}
	for _, nd := range c.Live() {
		checkAfterPartition(t, nd, acks, probes)
	}
	was := "a follower"
	if minority == leader {
		was = fmt.Sprintf("the leader; it stopped leading after %v", steppedDown.Round(time.Millisecond))
	}
	noLeader := "it went on following the majority's leader"
	if sc.forgetsLeader {
		noLeader = fmt.Sprintf("it knew no leader after %v", leaderless.Round(time.Millisecond))
	}
	majority := "the majority kept leader " + newLeader.ID
	if newLeader != leader {
		majority = fmt.Sprintf("the majority elected %s after %v", newLeader.ID, electedAfter.Round(time.Millisecond))
	}
	t.Logf("%s: cut off %s (%s); its first refused write %v after the cut; %s; %s; "+
		"%d writes acknowledged before the cut, %d in all, 0 lost; probes on the cut-off node: %d refused, "+
		"%d outcome unknown; caught up %v after healing",
		sc.name, minority.ID, was, refusedAfter.Round(time.Millisecond), noLeader, majority,
		atCut, acks.n.Load(), refused, unknown, caughtUp.Round(time.Millisecond))
	for _, id := range nw.Names() {
		t.Logf("proxy in front of %s carried connections from %v", id, nw.Proxy(id).Sources())
	}
}

// checkAfterPartition: nd holds every acknowledged write; a probe refused
// as not accepted left no trace; anything else stored is a probe whose
// outcome was unknown.
func checkAfterPartition(t *testing.T, nd *clustertest.Node, acks *ackSet, probes []*probe) {
	t.Helper()
	byComplaint := map[string]*probe{}
	for _, p := range probes {
		byComplaint[p.complaint] = p
	}
	acks.mu.Lock()
	defer acks.mu.Unlock()
	err := nd.Store.Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
		var missing []string
		for key, id := range acks.ids {
			if _, err := care.In(v).Attendance(id); err != nil {
				missing = append(missing, key)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%d acknowledged writes lost: %v", len(missing), missing)
		}
		all, err := care.In(v).Attendances(care.AttendanceQuery{})
		if err != nil {
			return err
		}
		acked := map[string]bool{}
		for _, id := range acks.ids {
			acked[id] = true
		}
		for _, a := range all {
			if acked[a.ID] {
				continue
			}
			p := byComplaint[a.Complaint]
			switch {
			case p == nil:
				return fmt.Errorf("attendance %s (%q) was never acknowledged", a.ID, a.Complaint)
			case p.definitelyRefused():
				return fmt.Errorf("%s was refused as not accepted (%v) but is stored", p.complaint, p.err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", nd.ID, err)
	}
}
