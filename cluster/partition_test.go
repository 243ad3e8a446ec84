package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cluster/faultproxy"
)

// partitionCluster is a 3-node cluster whose nodes bind their raft ports
// on 127.0.0.2-4 (dialling peers from there) and advertise a fault proxy
// in front of each, so a test can cut any node off.
func partitionCluster(t *testing.T) (*clustertest.Cluster, *faultproxy.Network) {
	t.Helper()
	net3 := faultproxy.NewNetwork()
	t.Cleanup(func() { net3.Close() })
	binds := map[string]string{}
	c := clustertest.New(t, 3, clustertest.Options{Configure: func(nd *clustertest.Node, cfg *cluster.Config) {
		if b, ok := binds[nd.ID]; ok {
			cfg.RaftBind, cfg.RaftAdvertise = b, nd.RaftAddr
			return
		}
		ip := faultproxy.LoopbackIP(2 + len(binds))
		if ip == "127.0.0.1" {
			t.Fatal("this machine cannot bind 127.0.0.N: partition tests need distinct loopback addresses")
		}
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		bind := l.Addr().String()
		l.Close()
		p, err := faultproxy.New(nd.RaftAddr, bind)
		if err != nil {
			t.Fatal(err)
		}
		net3.Add(nd.ID, p, faultproxy.Source{IP: ip})
		binds[nd.ID] = bind
		cfg.RaftBind, cfg.RaftAdvertise = bind, nd.RaftAddr
	}})
	return c, net3
}

// TestPartitionedLeaderRefusesAndCatchesUp: the leader is cut off from
// both followers. It stops taking writes (they fail, never acknowledged),
// the majority elects a leader and goes on; healed, the old leader catches
// up, and every node holds every acknowledged write.
func TestPartitionedLeaderRefusesAndCatchesUp(t *testing.T) {
	c, pn := partitionCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	old := c.Leader(ctx)
	for i := 0; i < 5; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, old, "before", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := pn.Isolate(old.ID); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	// The minority refuses: a write on it is not acknowledged.
	var refusedAfter time.Duration
	for {
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err := clustertest.CreateAttendance(wctx, old, "on the minority", nil)
		wcancel()
		if err != nil {
			if !(errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) ||
				errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, context.DeadlineExceeded)) {
				t.Fatalf("the minority's refusal: %v", err)
			}
			if errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) {
				refusedAfter = time.Since(cut)
				break
			}
		}
		if time.Since(cut) > 30*time.Second {
			t.Fatal("the isolated leader still leads after 30 s")
		}
	}
	t.Logf("isolated leader refused writes %v after the cut", refusedAfter.Round(time.Millisecond))
	// The majority elects a leader and takes writes.
	var leader *clustertest.Node
	for leader == nil {
		for _, nd := range c.Live() {
			if nd != old && nd.Store.IsLeader() {
				leader = nd
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the majority elected no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		if err := clustertest.Retry(ctx, func() error {
			_, _, err := clustertest.CreateAttendance(ctx, leader, fmt.Sprintf("majority %d", i), nil)
			return err
		}); err != nil {
			t.Fatalf("majority write %d: %v", i, err)
		}
	}
	pn.Heal()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionedFollowerMajorityServes: a follower cut off does not stop
// the other two; healed, it catches up.
func TestPartitionedFollowerMajorityServes(t *testing.T) {
	c, pn := partitionCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	var f *clustertest.Node
	for _, nd := range c.Nodes {
		if nd != leader {
			f = nd
			break
		}
	}
	if err := pn.Isolate(f.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := clustertest.Retry(ctx, func() error {
			_, _, err := clustertest.CreateAttendance(ctx, c.Leader(ctx), fmt.Sprintf("while %s is cut off %d", f.ID, i), nil)
			return err
		}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if f.Store.AppliedIndex() >= c.Leader(ctx).Store.CommitIndex() {
		t.Fatal("the isolated follower kept up: the partition did not cut it off")
	}
	pn.Heal()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}
