package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	Ready         bool    `json:"ready"`
	Leader        string  `json:"leader,omitempty"`
	AppliedIndex  uint64  `json:"applied_index"`
	CommitIndex   uint64  `json:"commit_index"`
	ClockOffsetMS float64 `json:"clock_offset_ms"`
	ClockKnown    bool    `json:"clock_known"`
}

// readyz is 200 only when this node knows a leader, its clock is within
// cluster.MaxClockSkew of the leader's, and its FSM has applied up to the
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
		off, leaderCommit, err := s.clock.offset(ctx)
		cancel()
		// A restarted follower knows only the commit index of the last
		// entries it received; the leader's (from the clock measurement,
		// at most a few seconds old) says whether it has caught up.
		r.CommitIndex = max(r.CommitIndex, leaderCommit)
		if err != nil {
			reasons = append(reasons, "clock offset to the leader unknown: "+err.Error())
		} else {
			r.ClockKnown = true
			r.ClockOffsetMS = float64(off) / float64(time.Millisecond)
			if off > cluster.MaxClockSkew || off < -cluster.MaxClockSkew {
				reasons = append(reasons, fmt.Sprintf("clock is %v away from the leader's (max %v)", off, cluster.MaxClockSkew))
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

// clockChecker measures this node's wall-clock offset from the leader's by
// fetching the leader's /v1/cluster/self over HTTP and correcting by half
// the round trip (as NTP does, without its filtering). A measurement is
// reused for clockMaxAge, so /readyz costs one leader round trip at most
// every few seconds.
type clockChecker struct {
	store  Store
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	leaderID string
	off      time.Duration
	commit   uint64 // the leader's commit index at the measurement
	at       time.Time
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
			_, _, _ = k.refresh(mctx)
			cancel()
		}
	}
}

// offset returns this node's clock minus the leader's (0 on the leader)
// and the leader's commit index when it was measured (0 on the leader).
func (k *clockChecker) offset(ctx context.Context) (time.Duration, uint64, error) {
	li, ok := k.store.Leader()
	if !ok {
		return 0, 0, cluster.ErrNoLeader
	}
	if k.store.IsLeader() {
		return 0, 0, nil
	}
	k.mu.Lock()
	if k.leaderID == li.ID && !k.at.IsZero() && k.now().Sub(k.at) < clockMaxAge {
		off, commit := k.off, k.commit
		k.mu.Unlock()
		return off, commit, nil
	}
	k.mu.Unlock()
	return k.refresh(ctx)
}

// refresh measures the offset from the current leader now and keeps it.
func (k *clockChecker) refresh(ctx context.Context) (time.Duration, uint64, error) {
	li, ok := k.store.Leader()
	if !ok {
		return 0, 0, cluster.ErrNoLeader
	}
	if k.store.IsLeader() {
		return 0, 0, nil
	}
	off, commit, err := k.measure(ctx, li.HTTPAddr)
	if err != nil {
		return 0, 0, err
	}
	k.mu.Lock()
	k.leaderID, k.off, k.commit, k.at = li.ID, off, commit, k.now()
	k.mu.Unlock()
	return off, commit, nil
}

// measure does one round trip to the leader's /v1/cluster/self: the clock
// offset and the leader's commit index.
func (k *clockChecker) measure(ctx context.Context, leaderHTTP string) (time.Duration, uint64, error) {
	if leaderHTTP == "" {
		return 0, 0, fmt.Errorf("leader's HTTP address unknown")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+leaderHTTP+"/v1/cluster/self", nil)
	if err != nil {
		return 0, 0, err
	}
	t0 := k.now()
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("leader clock: %w", err)
	}
	defer resp.Body.Close()
	var self NodeFigures
	if err := json.NewDecoder(resp.Body).Decode(&self); err != nil {
		return 0, 0, fmt.Errorf("leader clock: %w", err)
	}
	t1 := k.now()
	if resp.StatusCode != http.StatusOK || self.Clock.IsZero() {
		return 0, 0, fmt.Errorf("leader clock: status %d", resp.StatusCode)
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	return mid.Sub(self.Clock), self.CommitIndex, nil
}
