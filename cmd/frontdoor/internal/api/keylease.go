package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// Revocation is immediate: once DELETE /v1/keys/{id} has answered, no node
// accepts the key, a lagging follower serving stale reads included.
//
// Each node trusts its local copy of the keys only while it holds a key
// lease: the leader's access generation G (the raft index of the last key
// change) read linearizably, granted at a time t0 the node took before
// asking. The lease is good until t0 + keyLeaseDuration, and only while
// the node's own key state is at generation G or later. A node whose lease
// has run out asks for a new one; one whose state is behind G forwards the
// request to the leader, which decides with its own state. Followers ask
// every keyLeaseDuration/4, and at once when their generation changes, and
// say which generation they have applied.
//
// The leader acknowledges a revocation at index R only when every other
// member has said it holds generation R or later, or keyLeaseDuration (plus
// a margin for clock rates) has passed since the leader applied R: a lease
// granted with a generation below R was asked for before the leader applied
// R, so it has run out by then. A new leader grants leases only from a
// linearizable read, which sees every acknowledged revocation.

const (
	// defaultKeyLease is how long a key lease lasts.
	defaultKeyLease = 2 * time.Second
	keyLeasePath    = "/v1/cluster/key-lease"
)

// keyLeaseMargin covers the members' clocks running at slightly different
// rates over one lease.
func keyLeaseMargin(d time.Duration) time.Duration { return d/10 + 50*time.Millisecond }

// keyLease is one node's lease on its key state, and on the leader the
// generations its followers have confirmed.
type keyLease struct {
	s   *server
	dur time.Duration

	mu    sync.Mutex
	gen   uint64    // the leader's access generation when granted
	until time.Time // end of the lease (zero: none)
	round *leaseRound

	confMu    sync.Mutex
	confirmed map[string]uint64 // member id -> access generation it applied
	confCh    chan struct{}     // closed and replaced on every confirmation
}

type leaseRound struct {
	done chan struct{}
	err  error
}

func newKeyLease(s *server, d time.Duration) *keyLease {
	if d <= 0 {
		d = defaultKeyLease
	}
	return &keyLease{s: s, dur: d, confirmed: map[string]uint64{}, confCh: make(chan struct{})}
}

// register exports the lease as frontdoor_key_lease_valid (1 while this
// node holds one with time left: a 0 node forwards or refuses keyed
// requests) and frontdoor_key_lease_generation.
func (l *keyLease) register(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	promauto.With(reg).NewGaugeFunc(prometheus.GaugeOpts{Name: "frontdoor_key_lease_valid",
		Help: "1 while this node holds a key lease from the leader with time left (keylease.go)."},
		func() float64 {
			if l.current() {
				return 1
			}
			return 0
		})
	promauto.With(reg).NewGaugeFunc(prometheus.GaugeOpts{Name: "frontdoor_key_lease_generation",
		Help: "The leader's access generation (raft index of the last key change) in this node's key lease."},
		func() float64 {
			gen, _ := l.granted()
			return float64(gen)
		})
}

// trusts reports whether key state at generation gen may be used now.
func (l *keyLease) trusts(gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until) && gen >= l.gen
}

// current reports whether the lease has time left (whatever the local
// generation).
func (l *keyLease) current() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.until)
}

// granted is the leader's generation of a lease with time left.
func (l *keyLease) granted() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen, time.Now().Before(l.until)
}

// keyCatchUpWait is how long a request waits for this node to apply the
// leader's key generation before the leader is asked instead.
const keyCatchUpWait = 250 * time.Millisecond

// refresh asks for a lease now; concurrent callers share one request.
func (l *keyLease) refresh(ctx context.Context) error {
	l.mu.Lock()
	r := l.round
	if r == nil {
		r = &leaseRound{done: make(chan struct{})}
		l.round = r
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), l.dur/2)
			defer cancel()
			r.err = l.ask(cctx)
			l.mu.Lock()
			l.round = nil
			l.mu.Unlock()
			close(r.done)
		}()
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keyLeaseRequest is the POST /v1/cluster/key-lease body: which member
// asks and the access generation it has applied.
type keyLeaseRequest struct {
	NodeID string `json:"node_id"`
	Gen    uint64 `json:"gen"`
}

// keyLeaseAnswer is the leader's answer: its access generation, read
// linearizably.
type keyLeaseAnswer struct {
	LeaderID string `json:"leader_id"`
	Gen      uint64 `json:"gen"`
	// LeaseMS is the leader's lease length: a member with a longer one of
	// its own takes the leader's, so the leader's wait covers it.
	LeaseMS int64 `json:"lease_ms"`
}

// ask gets a lease: from this node's own linearizable read when it leads,
// else from the leader, reporting the local generation.
func (l *keyLease) ask(ctx context.Context) error {
	t0 := time.Now()
	var gen uint64
	dur := l.dur
	if l.s.store.IsLeader() {
		g, err := l.leaderGen(ctx)
		if err != nil {
			return err
		}
		gen = g
	} else {
		local, err := l.localGen(ctx)
		if err != nil {
			return err
		}
		li, ok := l.s.store.Leader()
		if !ok || li.HTTPAddr == "" {
			return cluster.ErrNoLeader
		}
		body, _ := json.Marshal(keyLeaseRequest{NodeID: l.s.selfID, Gen: local})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+li.HTTPAddr+keyLeasePath, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		resp, err := l.s.peers.Do(req)
		if err != nil {
			return fmt.Errorf("key lease from %s: %w", li.ID, err)
		}
		defer resp.Body.Close()
		var a keyLeaseAnswer
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("key lease from %s: %s", li.ID, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			return fmt.Errorf("key lease from %s: %w", li.ID, err)
		}
		gen = a.Gen
		if d := time.Duration(a.LeaseMS) * time.Millisecond; d < dur {
			dur = d
		}
	}
	l.mu.Lock()
	l.gen, l.until = gen, t0.Add(dur)
	l.mu.Unlock()
	return nil
}

// leaderGen is the access generation by a linearizable read: it includes
// every key change acknowledged so far, whoever led then.
func (l *keyLease) leaderGen(ctx context.Context) (uint64, error) {
	var gen uint64
	err := l.s.store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		var err error
		gen, err = access.In(v).AccessGeneration()
		return err
	})
	return gen, err
}

func (l *keyLease) localGen(ctx context.Context) (uint64, error) {
	var gen uint64
	err := l.s.store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		gen, err = access.In(v).AccessGeneration()
		return err
	})
	return gen, err
}

// run keeps the lease fresh until ctx ends: every dur/4, and at once when
// the local access generation changes (so the leader hears of an applied
// revocation without waiting).
func (l *keyLease) run(ctx context.Context) {
	waiter, _ := l.s.store.(applyWaiter)
	var last uint64
	next := time.Now()
	for ctx.Err() == nil {
		gen, err := l.localGen(ctx)
		if err == nil && (gen != last || !time.Now().Before(next)) {
			last = gen
			if err := l.refresh(ctx); err != nil {
				l.s.log.Debug("key lease", "err", err)
			}
			next = time.Now().Add(l.dur / 4)
		}
		wctx, cancel := context.WithDeadline(ctx, next)
		if waiter != nil {
			_ = waiter.WaitApplied(wctx, l.s.store.AppliedIndex()+1)
		} else {
			<-wctx.Done()
		}
		cancel()
		// Under a stream of writes, look at the generation at most every
		// 20 ms.
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// confirm records that member id has applied access generation gen.
func (l *keyLease) confirm(id string, gen uint64) {
	l.confMu.Lock()
	defer l.confMu.Unlock()
	if gen > l.confirmed[id] {
		l.confirmed[id] = gen
		close(l.confCh)
		l.confCh = make(chan struct{})
	}
}

// awaitRevocation returns once every other member has confirmed access
// generation index or later, or once no lease granted before the leader
// applied index can still be in force (the caller calls it after the
// revocation applied here). ctx ending first is an error: the revocation
// is committed, but some member may accept the key a little longer.
func (l *keyLease) awaitRevocation(ctx context.Context, index uint64) error {
	deadline := time.NewTimer(l.dur + keyLeaseMargin(l.dur))
	defer deadline.Stop()
	for {
		l.confMu.Lock()
		ch := l.confCh
		all := true
		st := l.s.store.Status()
		for _, n := range st.Nodes {
			if n.ID == st.NodeID || n.Suffrage == "none" {
				continue
			}
			if l.confirmed[n.ID] < index {
				all = false
				break
			}
		}
		l.confMu.Unlock()
		if all {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keyLeaseRoutes is the route table's row of the node-to-node key lease
// (routes.go).
func keyLeaseRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: keyLeasePath, Access: accessOpen,
			Summary: "Node to node: the leader's access generation, read linearizably, as a follower's lease on its API key state (no patient data)",
			Body:    keyLeaseRequest{}, Handler: (*server).grantKeyLease},
	}
}

// grantKeyLease answers a member's lease request on the leader. The
// member's confirmation counts only from a member (over the raft port when
// the cluster has one): anyone else could hurry a revocation's
// acknowledgement.
func (s *server) grantKeyLease(c *fiber.Ctx) error {
	var req keyLeaseRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if !s.store.IsLeader() {
		return cluster.ErrNotLeader
	}
	if req.NodeID != "" && (!s.peerOnly || fromPeer(c)) {
		s.lease.confirm(req.NodeID, req.Gen)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	gen, err := s.lease.leaderGen(ctx)
	if err != nil {
		return err
	}
	return c.JSON(keyLeaseAnswer{LeaderID: s.selfID, Gen: gen, LeaseMS: s.lease.dur.Milliseconds()})
}

// errKeyStateStale: this node may not trust its key state now and cannot
// ask the leader.
var errKeyStateStale = errors.New("this node's API key state is not confirmed by the leader")

// keyStateStale is the 503 for a request whose key this node cannot check:
// nothing was done, so it is safe to retry (the not-accepted problem).
func keyStateStale() *Problem {
	return notAccepted(errKeyStateStale.Error() + ": no leader to confirm it or to forward to; retry")
}
