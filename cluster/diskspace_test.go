package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// freeSpace is an injected free-space reading per node.
type freeSpace struct {
	mu   sync.Mutex
	free map[string]uint64
}

func (f *freeSpace) set(id string, b uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free[id] = b
}

func (f *freeSpace) reader(id string) func() (uint64, error) {
	return func() (uint64, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if b, ok := f.free[id]; ok {
			return b, nil
		}
		return 10 << 30, nil
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestDiskLowLeaderHandsOverAndCatchesUp: the leader's disk runs short (an
// injected reading): it refuses writes with ErrDiskFull, hands leadership
// over, and stores no new entries while the others go on; with space back
// it catches up by itself. No acknowledged write is lost.
func TestDiskLowLeaderHandsOverAndCatchesUp(t *testing.T) {
	fs := &freeSpace{free: map[string]uint64{}}
	c := clustertest.New(t, 3, clustertest.Options{Configure: func(nd *clustertest.Node, cfg *cluster.Config) {
		cfg.FreeSpace = fs.reader(nd.ID)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	low := c.Leader(ctx)
	fs.set(low.ID, 10<<20)
	waitUntil(t, ctx, "the low node says why", func() bool { return low.Store.DiskLow() != "" })
	if _, _, err := clustertest.CreateAttendance(ctx, low, "on a full disk", nil); !errors.Is(err, cluster.ErrDiskFull) && !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("write on the low node: %v", err)
	}
	waitUntil(t, ctx, "another node leads", func() bool {
		l := c.Leader(ctx)
		return l != nil && l != low
	})
	acked := 0
	for i := 0; i < 20; i++ {
		err := clustertest.Retry(ctx, func() error {
			_, _, err := clustertest.CreateAttendance(ctx, c.Leader(ctx), "while one disk is full", nil)
			return err
		})
		if err != nil {
			t.Fatalf("write %d while a disk is low: %v", i, err)
		}
		acked++
	}
	leader := c.Leader(ctx)
	if low.Store.AppliedIndex() >= leader.Store.CommitIndex() {
		t.Fatalf("the low node stored new entries: applied %d, leader's commit %d", low.Store.AppliedIndex(), leader.Store.CommitIndex())
	}
	if low.Store.IsLeader() {
		t.Fatal("the low node leads")
	}
	fs.set(low.ID, 10<<30)
	waitUntil(t, ctx, "the low node takes writes again", func() bool { return low.Store.DiskLow() == "" })
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged while one disk was low; all nodes converged after", acked)
}
