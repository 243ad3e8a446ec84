package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// healthRoutes are the route table's rows of health, readiness and metrics: open (routes.go).
func healthRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/healthz", Access: accessOpen, Summary: "Liveness: the process is up", Handler: (*server).healthz},
		{Method: "GET", Path: "/readyz", Access: accessOpen, Summary: "Readiness: a leader is known and this node has caught up", Handler: (*server).readyz},
		{Method: "GET", Path: "/metrics", Access: accessOpen, Summary: "Prometheus metrics", Handler: (*server).serveMetrics},
	}
}

// metricsHandler serves the gatherer's metrics in the Prometheus text
// format.
func metricsHandler(g prometheus.Gatherer) fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}

// serveMetrics: GET /metrics, when the node was given a gatherer; without
// one the route is passed over, as if it were not registered (404).
func (s *server) serveMetrics(c *fiber.Ctx) error {
	if s.metrics == nil {
		return c.Next()
	}
	return s.metrics(c)
}

// healthz: the process is alive and serving HTTP.
func (s *server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readiness is the /readyz body.
type readiness struct {
	Ready        bool   `json:"ready"`
	Leader       string `json:"leader,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	// ClockOffsetMS is this node's clock minus the cluster's: the median
	// of the ClockMembers clocks measured (clockReference).
	ClockOffsetMS float64 `json:"clock_offset_ms"`
	ClockMembers  int     `json:"clock_members,omitempty"`
	ClockKnown    bool    `json:"clock_known"`
}

// readyz is 200 only when this node knows a leader, its clock is within
// cluster.MaxClockSkew of the cluster's (the median of the members'
// clocks: clockChecker), and its FSM has applied up to the
// commit index it knows; otherwise 503 problem+json saying which check failed.
func (s *server) readyz(c *fiber.Ctx) error {
	r := readiness{AppliedIndex: s.store.AppliedIndex(), CommitIndex: s.store.CommitIndex()}
	var reasons []string
	// A node that stopped itself says why first: its state differs from
	// the majority's, or it is short of disk space (it takes no writes).
	if q, ok := s.store.(quarantiner); ok && q.Quarantined() != "" {
		reasons = append(reasons, "quarantined: "+q.Quarantined())
	}
	if d, ok := s.store.(interface{ DiskLow() string }); ok && d.DiskLow() != "" {
		reasons = append(reasons, "disk space low: "+d.DiskLow())
	}
	li, ok := s.store.Leader()
	if !ok {
		reasons = append(reasons, "no leader known")
	} else {
		r.Leader = li.ID
		ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
		round, err := s.clock.reading(ctx)
		cancel()
		if err != nil {
			reasons = append(reasons, "clock offset to the leader unknown: "+err.Error())
		} else {
			// A restarted follower knows only the commit index of the last
			// entries it received; the leader's (from the clock
			// measurement, at most a few seconds old) says whether it has
			// caught up.
			r.CommitIndex = max(r.CommitIndex, round.commit)
			off := round.offset()
			r.ClockKnown = true
			r.ClockOffsetMS = float64(off) / float64(time.Millisecond)
			r.ClockMembers = len(round.members)
			if !clockInLine(off) {
				reasons = append(reasons, fmt.Sprintf("clock is %v away from the cluster's (the median of %d members' clocks; max %v)",
					off, len(round.members), cluster.MaxClockSkew))
			}
		}
	}
	if r.AppliedIndex < r.CommitIndex {
		reasons = append(reasons, fmt.Sprintf("applied index %d behind commit index %d", r.AppliedIndex, r.CommitIndex))
	}
	if len(reasons) > 0 {
		p := &Problem{Type: problemUnavailable, Title: "Not ready", Status: http.StatusServiceUnavailable,
			Detail: joinReasons(reasons), retryAfter: retryAfterSeconds}
		return p
	}
	r.Ready = true
	return c.JSON(r)
}

func joinReasons(rs []string) string {
	out := rs[0]
	for _, r := range rs[1:] {
		out += "; " + r
	}
	return out
}

// clockChecker measures the members' wall clocks from this node, each by
// fetching the member's /v1/cluster/self over HTTP and correcting by half
// the round trip (as NTP does, without its filtering), and judges every
// clock, this node's included, against the members' median clock
// (clockReference). So the odd clock out is the one reported, whichever
// node checks: with the leader's clock 5 s off, the leader is out of line
// and its followers are not. A measurement is reused for clockMaxAge, so
// /readyz costs one round of requests at most every few seconds.
type clockChecker struct {
	store  Store
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	last *clockRound // nil: none yet
}

// clockRound is one measurement of the reachable members' clocks.
type clockRound struct {
	leaderID string
	at       time.Time
	commit   uint64        // the leader's commit index at the measurement (0 on the leader)
	members  []memberClock // this node first, then the members that answered
	ref      time.Duration // clockReference(members)
}

// memberClock is one member's clock as measured from this node.
type memberClock struct {
	ID     string
	Leader bool
	Off    time.Duration // the member's clock minus this node's
}

// offset is this node's clock minus the reference clock.
func (r *clockRound) offset() time.Duration { return -r.ref }

// clockReference is the clock the members' clocks are judged against,
// as an offset from the observer's: the median of the members' clocks; of
// an even number, of the two middle clocks the leader's if it is one (the
// leader stamps every command's time), else the midpoint of the two.
// Offsets are from any one observer: the members' distances from the
// reference do not depend on which (up to measurement error). No members:
// 0.
func clockReference(members []memberClock) time.Duration {
	n := len(members)
	if n == 0 {
		return 0
	}
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, func(a, b memberClock) int { return cmp.Compare(a.Off, b.Off) })
	if n%2 == 1 {
		return ms[n/2].Off
	}
	a, b := ms[n/2-1], ms[n/2]
	switch {
	case a.Leader:
		return a.Off
	case b.Leader:
		return b.Off
	}
	return a.Off + (b.Off-a.Off)/2
}

// clockInLine reports whether a clock off from the reference is in line:
// within cluster.MaxClockSkew (cluster.ClockInLine).
func clockInLine(off time.Duration) bool {
	ref := time.Unix(0, 0)
	return cluster.ClockInLine(ref.Add(off), ref)
}

// markClocksInLine sets ClockInLine on the members of a GET /v1/cluster
// view whose clock was measured (ClockOffsetMS, from the answering node),
// against the median of those clocks (clockReference) rather than the
// answering node's clock.
func markClocksInLine(nodes []NodeFigures) {
	var ms []memberClock
	for _, n := range nodes {
		if n.ClockOffsetMS != nil {
			ms = append(ms, memberClock{ID: n.ID, Leader: n.Leader, Off: time.Duration(*n.ClockOffsetMS * float64(time.Millisecond))})
		}
	}
	ref := clockReference(ms)
	for i := range nodes {
		if off := nodes[i].ClockOffsetMS; off != nil {
			in := clockInLine(time.Duration(*off*float64(time.Millisecond)) - ref)
			nodes[i].ClockInLine = &in
		}
	}
}

const clockMaxAge = 5 * time.Second

func newClockChecker(st Store, client *http.Client) *clockChecker {
	return &clockChecker{store: st, client: client, now: time.Now}
}

// run refreshes the measurement every interval until ctx ends, so /readyz
// rarely waits for a round trip.
func (k *clockChecker) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mctx, cancel := context.WithTimeout(ctx, time.Second)
			_, _ = k.refresh(mctx)
			cancel()
		}
	}
}

// reading is the latest measurement, measured again when it is older
// than clockMaxAge or was taken under another leader.
func (k *clockChecker) reading(ctx context.Context) (*clockRound, error) {
	li, ok := k.store.Leader()
	if !ok {
		return nil, cluster.ErrNoLeader
	}
	k.mu.Lock()
	last := k.last
	k.mu.Unlock()
	if last != nil && last.leaderID == li.ID && k.now().Sub(last.at) < clockMaxAge {
		return last, nil
	}
	return k.refresh(ctx)
}

// refresh measures the members' clocks now, in parallel, and keeps the
// result. Members that do not answer are left out, except the leader: a
// follower that cannot measure the leader's clock (nor learn its commit
// index) has no reading.
func (k *clockChecker) refresh(ctx context.Context) (*clockRound, error) {
	li, ok := k.store.Leader()
	if !ok {
		return nil, cluster.ErrNoLeader
	}
	st := k.store.Status()
	isLeader := k.store.IsLeader()
	type target struct {
		memberClock
		addr   string
		commit uint64
		err    error
	}
	var targets []*target
	leaderListed := false
	for _, n := range st.Nodes {
		if n.ID == st.NodeID || (n.Suffrage != "voter" && n.Suffrage != "nonvoter") {
			continue
		}
		leaderListed = leaderListed || n.ID == li.ID
		targets = append(targets, &target{memberClock: memberClock{ID: n.ID, Leader: n.ID == li.ID}, addr: n.HTTPAddr})
	}
	if !isLeader && !leaderListed {
		targets = append(targets, &target{memberClock: memberClock{ID: li.ID, Leader: true}, addr: li.HTTPAddr})
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			var off time.Duration
			off, t.commit, t.err = k.measure(ctx, t.addr)
			t.Off = -off
		})
	}
	wg.Wait()
	r := &clockRound{leaderID: li.ID, members: []memberClock{{ID: st.NodeID, Leader: isLeader}}}
	for _, t := range targets {
		switch {
		case t.err == nil:
			r.members = append(r.members, t.memberClock)
			if t.Leader {
				r.commit = t.commit
			}
		case t.Leader && !isLeader:
			return nil, t.err
		}
	}
	r.ref = clockReference(r.members)
	r.at = k.now()
	k.mu.Lock()
	k.last = r
	k.mu.Unlock()
	return r, nil
}

// measure does one round trip to a member's /v1/cluster/self: this
// node's clock minus the member's, and the member's commit index.
func (k *clockChecker) measure(ctx context.Context, httpAddr string) (time.Duration, uint64, error) {
	if httpAddr == "" {
		return 0, 0, fmt.Errorf("member's HTTP address unknown")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/v1/cluster/self", nil)
	if err != nil {
		return 0, 0, err
	}
	t0 := k.now()
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("member clock: %w", err)
	}
	defer resp.Body.Close()
	var self NodeFigures
	if err := json.NewDecoder(resp.Body).Decode(&self); err != nil {
		return 0, 0, fmt.Errorf("member clock: %w", err)
	}
	t1 := k.now()
	if resp.StatusCode != http.StatusOK || self.Clock.IsZero() {
		return 0, 0, fmt.Errorf("member clock: status %d", resp.StatusCode)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	return mid.Sub(self.Clock), self.CommitIndex, nil
}
