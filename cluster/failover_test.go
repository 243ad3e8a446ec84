package cluster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

func retryable(err error) bool {
	return errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) ||
		errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, cluster.ErrNotOpen)
}

// createWithKey proposes an attendance with an idempotency key on whoever
// leads, retrying (same key) until it is acknowledged or ctx ends.
func createWithKey(ctx context.Context, c *clustertest.Cluster, key, complaint string) (*care.Attendance, *cluster.Result, error) {
	body, _ := json.Marshal(care.AttendanceCreate{Complaint: complaint})
	sum := sha256.Sum256(body)
	idem := &cluster.Idempotency{Key: key, Route: "POST /v1/attendances", BodyHash: hex.EncodeToString(sum[:])}
	for {
		l := c.Leader(ctx)
		if l == nil {
			return nil, nil, ctx.Err()
		}
		a, res, err := clustertest.CreateAttendance(ctx, l, complaint, idem)
		if err == nil {
			return a, res, nil
		}
		if !retryable(err) {
			return nil, res, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

type ackSet struct {
	mu  sync.Mutex
	ids map[string]string // idempotency key -> attendance id
	n   atomic.Int64
}

func (s *ackSet) add(key, id string) {
	s.mu.Lock()
	s.ids[key] = id
	s.mu.Unlock()
	s.n.Add(1)
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkAllPresent reads every acknowledged attendance on nd (stale read after
// convergence) and checks nothing else exists.
func checkAllPresent(t *testing.T, nd *clustertest.Node, acks *ackSet) {
	t.Helper()
	acks.mu.Lock()
	defer acks.mu.Unlock()
	err := nd.Store.Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
		for key, id := range acks.ids {
			if _, err := care.In(v).Attendance(id); err != nil {
				return fmt.Errorf("acknowledged write %s (%s) missing: %w", key, id, err)
			}
		}
		all, err := care.In(v).Attendances(care.AttendanceQuery{})
		if err != nil {
			return err
		}
		if len(all) != len(acks.ids) {
			return fmt.Errorf("%d attendances stored, %d acknowledged (each key exactly once)", len(all), len(acks.ids))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", nd.ID, err)
	}
}

func TestThreeNodeFailoverKeepsAcknowledgedWrites(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// A write on the leader is readable linearizably there; followers
	// refuse linearizable reads (the HTTP layer forwards them) and see the
	// write with a stale read once they have applied its index.
	leader := c.Leader(ctx)
	a, res, err := clustertest.CreateAttendance(ctx, leader, "first", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Live() {
		if nd == leader {
			err := nd.Store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
				_, err := care.In(v).Attendance(a.ID)
				return err
			})
			if err != nil {
				t.Fatalf("linearizable read on leader: %v", err)
			}
			continue
		}
		err := nd.Store.Read(ctx, cluster.ConsistencyLinearizable, func(*cluster.View) error { return nil })
		if !errors.Is(err, cluster.ErrNotLeader) {
			t.Fatalf("linearizable read on follower %s: err = %v, want ErrNotLeader", nd.ID, err)
		}
		if err := nd.Store.WaitApplied(ctx, res.Index); err != nil {
			t.Fatal(err)
		}
		err = nd.Store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
			_, err := care.In(v).Attendance(a.ID)
			return err
		})
		if err != nil {
			t.Fatalf("stale read on %s: %v", nd.ID, err)
		}
		if li, ok := nd.Store.Leader(); !ok || li.ID != leader.ID || li.HTTPAddr != leader.HTTPAddr {
			t.Fatalf("%s sees leader %+v, want %s at %s", nd.ID, li, leader.ID, leader.HTTPAddr)
		}
	}

	acks := &ackSet{ids: map[string]string{"first": a.ID}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("w%02d-%05d", w, n)
				a, _, err := createWithKey(ctx, c, key, "writer "+key)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				acks.add(key, a.ID)
			}
		}(w)
	}
	waitFor(t, ctx, "writes before failover", func() bool { return acks.n.Load() >= 150 })
	old := c.Leader(ctx)
	c.Kill(old)
	killedAt := acks.n.Load()
	newLeader := c.Leader(ctx)
	if newLeader == nil || newLeader == old {
		t.Fatal("no new leader")
	}
	waitFor(t, ctx, "writes after failover", func() bool { return acks.n.Load() >= killedAt+150 })
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes, leader %s killed after %d, new leader %s", acks.n.Load()+1, old.ID, killedAt, newLeader.ID)

	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Live() {
		checkAllPresent(t, nd, acks)
	}

	// The stopped node restarts from its data dir and catches up.
	if err := c.Restart(ctx, old); err != nil {
		t.Fatalf("restart %s: %v", old.ID, err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.Live()) != 3 {
		t.Fatalf("%d live nodes", len(c.Live()))
	}
	for _, nd := range c.Live() {
		checkAllPresent(t, nd, acks)
	}
}

func TestIdempotencyAcrossFailover(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	body, _ := json.Marshal(care.AttendanceCreate{Complaint: "chest pain"})
	sum := sha256.Sum256(body)
	idem := &cluster.Idempotency{Key: "reception-42", Route: "POST /v1/attendances", BodyHash: hex.EncodeToString(sum[:])}

	// The leader applies the command, then dies before the caller reads
	// the response.
	first, _, err := clustertest.CreateAttendance(ctx, leader, "chest pain", idem)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)

	// The client retries with the same key; whoever leads now answers with
	// the first response.
	again, res, err := createWithKey(ctx, c, "reception-42", "chest pain")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replayed || again.ID != first.ID || res.Index != first.CreatedIndex {
		t.Fatalf("retry got %+v (replayed %v), first was %s", again, res.Replayed, first.ID)
	}
	// A different body under the same key is refused.
	nl := c.Leader(ctx)
	otherBody, _ := json.Marshal(care.AttendanceCreate{Complaint: "something else"})
	otherSum := sha256.Sum256(otherBody)
	other := &cluster.Idempotency{Key: idem.Key, Route: idem.Route, BodyHash: hex.EncodeToString(otherSum[:])}
	_, mres, err := clustertest.CreateAttendance(ctx, nl, "something else", other)
	if err == nil || mres == nil || mres.Err.Code != cluster.CodeIdempotencyMismatch {
		t.Fatalf("mismatch: err %v, result %+v", err, mres)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Live() {
		err := nd.Store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
			all, err := care.In(v).Attendances(care.AttendanceQuery{})
			if err != nil {
				return err
			}
			if len(all) != 1 || all[0].ID != first.ID {
				return fmt.Errorf("attendances %v, want exactly %s", all, first.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", nd.ID, err)
		}
	}
}
