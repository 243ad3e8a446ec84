package care

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// The leader-only dispatch worker: it delivers outbox entries through the
// signed notifier and watches acceptance deadlines and clinician-first
// clocks (clinician_first.go). It runs on the leader
// only, one instance per term: started when this node becomes leader, after
// the term's first command has applied (a barrier: everything committed
// earlier is applied here), and
// stopped when leadership is lost. It never touches state itself: every
// outcome is a command (dispatch.delivered, dispatch.delivery_failed,
// dispatch.escalate, attendance.clinician_lapsed) that the FSM validates. Apply never waits for it: the
// worker learns of new entries by scanning state whenever the applied index
// moves (the FSM's notify channel, closed without blocking) or its poll
// interval passes.

// DispatchConfig tunes the worker. Zero fields take the defaults noted.
type DispatchConfig struct {
	// Notifier delivers webhooks (default NewNotifier(): 10s per
	// attempt, 6 attempts, backoff 500ms..30s).
	Notifier *Notifier
	// Poll is the longest wait between scans (default 1s).
	Poll time.Duration
	// LeaderPoll is how often leadership is checked (default 100ms).
	LeaderPoll time.Duration
	// MaxInFlight bounds concurrent deliveries (default 8).
	MaxInFlight int
	// EscalateRetry is the wait before proposing again an escalation the
	// FSM refused (default 5s).
	EscalateRetry time.Duration
	// Now is the leader's clock for the deadline watch (default time.Now).
	// The FSM decides with its own clock; tests skew this one to show it.
	Now func() time.Time
}

func (c DispatchConfig) withDefaults() DispatchConfig {
	if c.Notifier == nil {
		c.Notifier = NewNotifier()
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.LeaderPoll <= 0 {
		c.LeaderPoll = 100 * time.Millisecond
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 8
	}
	if c.EscalateRetry <= 0 {
		c.EscalateRetry = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// StartDispatch registers the dispatch metrics on reg (nil: not exported)
// and runs the outbox worker on s while this node leads (see
// cluster.Store.WhileLeader). It returns at once; the work stops when ctx
// ends or the store closes. Call it once per Store, after Open.
func StartDispatch(ctx context.Context, s *cluster.Store, reg prometheus.Registerer, cfg DispatchConfig) error {
	if cfg.Now == nil {
		cfg.Now = s.Clock
	}
	cfg = cfg.withDefaults()
	dm := newDispatchMetrics(s)
	if reg != nil {
		if err := reg.Register(dm); err != nil {
			return fmt.Errorf("dispatch metrics: %w", err)
		}
	}
	log := s.Logger().With("worker", "dispatch")
	return s.WhileLeader(ctx, cfg.LeaderPoll, func(ctx context.Context) {
		w := &outboxWorker{s: s, log: log, cfg: cfg, m: dm, inflight: map[string]uint64{}, retryAt: map[string]time.Time{}}
		w.run(ctx)
	})
}

type outboxWorker struct {
	s   *cluster.Store
	log *slog.Logger
	cfg DispatchConfig
	m   *dispatchMetrics

	mu sync.Mutex
	// inflight holds the webhook ids this worker has claimed: 0 while the
	// delivery runs, then the raft index of the command that recorded its
	// outcome, until a scan reads a view that includes that index. A scan
	// whose view was read before the record was applied still lists the
	// entry as pending; without the index it saw the claim gone and sent
	// the webhook again.
	inflight map[string]uint64
	retryAt  map[string]time.Time // dispatch or attendance id -> earliest next escalation or lapse proposal
	wg       sync.WaitGroup

	// deadlinesAt is when the deadline watch (clinician-first lapses,
	// dispatch acceptance) last ran: it reads every attendance awaiting a
	// clinician and every open dispatch, so it runs at most once per Poll
	// rather than on every applied entry (under load that scan was a third
	// of the leader's CPU). Deadlines are minutes long; a second is plenty.
	deadlinesAt time.Time
}

func (w *outboxWorker) run(ctx context.Context) {
	defer w.wg.Wait()
	w.log.Info("dispatch worker started", "applied", w.s.AppliedIndex())
	for ctx.Err() == nil {
		applied := w.s.AppliedIndex()
		if err := w.scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("dispatch worker: scan", "err", err)
		}
		wctx, cancel := context.WithTimeout(ctx, w.cfg.Poll)
		_ = w.s.WaitApplied(wctx, applied+1)
		cancel()
	}
}

// scan starts deliveries of pending outbox entries and proposes escalations
// of dispatches whose acceptance deadline has passed on the leader's clock.
func (w *outboxWorker) scan(ctx context.Context) error {
	var pending []*OutboxEntry
	var open []*Dispatch
	var awaiting []*Attendance
	var seen uint64 // the view's applied index
	deadlines := time.Since(w.deadlinesAt) >= w.cfg.Poll
	err := w.s.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		if seen, err = v.AppliedIndex(); err != nil {
			return err
		}
		if pending, err = In(v).PendingOutbox(); err != nil || !deadlines {
			return err
		}
		if awaiting, err = In(v).AwaitingClinician(); err != nil {
			return err
		}
		open, err = In(v).Dispatches(DispatchQuery{OpenOnly: true})
		return err
	})
	if err != nil {
		return err
	}
	for _, e := range w.claim(seen, pending) {
		w.wg.Add(1)
		go func(e *OutboxEntry) {
			defer w.wg.Done()
			recorded := w.deliver(ctx, e)
			w.mu.Lock()
			if recorded > 0 {
				w.inflight[e.ID] = recorded
			} else {
				delete(w.inflight, e.ID)
			}
			w.mu.Unlock()
		}(e)
	}
	if !deadlines {
		return nil
	}
	w.deadlinesAt = time.Now()
	now := w.cfg.Now()
	w.forgetPassedRetries(now)
	if err := w.lapses(ctx, awaiting, now); err != nil {
		return err
	}
	for _, d := range open {
		if !d.AwaitingAcceptance() || now.Before(d.AcceptBy) {
			continue
		}
		w.mu.Lock()
		next, waiting := w.retryAt[d.ID]
		w.mu.Unlock()
		if waiting && now.Before(next) {
			continue
		}
		_, err := w.s.ProposeSystem(ctx, KindDispatchEscalate, DispatchEscalate{DispatchID: d.ID})
		var ce *cluster.CommandError
		switch {
		case err == nil:
			w.log.Info("dispatch escalated: acceptance deadline passed", "dispatch", d.ID, "accept_by", d.AcceptBy)
		case errors.As(err, &ce):
			w.log.Info("dispatch escalation refused", "dispatch", d.ID, "reason", ce.Message)
			w.mu.Lock()
			w.retryAt[d.ID] = now.Add(w.cfg.EscalateRetry)
			w.mu.Unlock()
		default:
			return err
		}
	}
	return nil
}

// claim returns the pending entries (read in a view at applied index
// seen) to deliver now, and marks them in flight: not those being
// delivered, not those whose outcome was recorded after seen, and no more
// than MaxInFlight deliveries at once. It forgets the records seen
// includes.
func (w *outboxWorker) claim(seen uint64, pending []*OutboxEntry) []*OutboxEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	running := 0
	for id, recorded := range w.inflight {
		switch {
		case recorded == 0:
			running++
		case recorded <= seen:
			delete(w.inflight, id)
		}
	}
	var out []*OutboxEntry
	for _, e := range pending {
		if _, claimed := w.inflight[e.ID]; claimed || running >= w.cfg.MaxInFlight {
			continue
		}
		w.inflight[e.ID] = 0
		running++
		out = append(out, e)
	}
	return out
}

// forgetPassedRetries drops the retry times that have passed (a passed
// one and none mean the same: propose again), so retryAt holds only the
// refusals of the last EscalateRetry and cannot grow without bound.
func (w *outboxWorker) forgetPassedRetries(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, next := range w.retryAt {
		if !now.Before(next) {
			delete(w.retryAt, id)
		}
	}
}

// lapses proposes attendance.clinician_lapsed for each attendance awaiting
// the clinician whose clinician_due has passed on the leader's clock and
// whose alert is not yet raised; the FSM checks the due time against its
// own clock and raises the alert once.
func (w *outboxWorker) lapses(ctx context.Context, awaiting []*Attendance, now time.Time) error {
	for _, a := range awaiting {
		if a.ClinicianLapsed || a.ClinicianDue == nil || now.Before(*a.ClinicianDue) {
			continue
		}
		w.mu.Lock()
		next, waiting := w.retryAt[a.ID]
		w.mu.Unlock()
		if waiting && now.Before(next) {
			continue
		}
		_, err := w.s.ProposeSystem(ctx, KindAttendanceClinicianLapsed, AttendanceClinicianLapsed{AttendanceID: a.ID})
		var ce *cluster.CommandError
		switch {
		case err == nil:
			w.log.Info("clinician-first floor lapsed: alert raised", "attendance", a.ID, "due", a.ClinicianDue)
		case errors.As(err, &ce):
			w.log.Info("clinician-first lapse refused", "attendance", a.ID, "reason", ce.Message)
			w.mu.Lock()
			w.retryAt[a.ID] = now.Add(w.cfg.EscalateRetry)
			w.mu.Unlock()
		default:
			return fmt.Errorf("propose lapse of %s: %w", a.ID, err)
		}
	}
	return nil
}

// deliver sends one outbox entry and records the outcome with a command,
// and returns the raft index of that command (0: nothing recorded). A
// cancelled delivery (leadership lost) records nothing: the next leader
// resumes it with the same webhook-id.
func (w *outboxWorker) deliver(ctx context.Context, e *OutboxEntry) uint64 {
	var svc *routing.Service
	var allow *routing.WebhookAllowList
	err := w.s.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		if svc, err = directory.In(v).Service(e.ServiceID); err != nil {
			return err
		}
		allow, err = directory.In(v).WebhookAllowList()
		return err
	})
	var res DeliveryResult
	switch {
	case errors.Is(err, cluster.ErrNotFound) || (err == nil && (svc.Webhook == nil || svc.Webhook.URL == "")):
		res = DeliveryResult{Status: NotifyPermanent, LastError: "service " + e.ServiceID + " has no dispatch webhook"}
	case err != nil:
		return 0
	default:
		res, _ = w.cfg.Notifier.Notify(ctx, *svc.Webhook, allow, e.ID, e.Body)
	}
	if res.Status == NotifyCancelled || ctx.Err() != nil {
		return 0
	}
	w.m.deliveries.WithLabelValues(res.Status).Inc()
	kind := KindDispatchDeliveryFailed
	rep := DispatchDeliveryReport{WebhookID: e.ID, Attempts: res.Attempts, HTTPStatus: res.LastStatus, Error: res.LastError}
	if res.Status == NotifyDelivered {
		kind = KindDispatchDelivered
	} else {
		rep.Result = res.Status
	}
	// The error text is the node's own, but it quotes what a receiver
	// sent: keep it within the input limits Apply holds it to.
	rep.Error = inputlimit.Clean(rep.Error, 2000)
	recorded, err := w.s.ProposeSystem(ctx, kind, rep)
	if err != nil {
		w.log.Warn("dispatch worker: record delivery", "webhook_id", e.ID, "kind", kind, "err", err)
		return 0
	}
	w.log.Info("dispatch webhook", "webhook_id", e.ID, "result", res.Status, "attempts", res.Attempts)
	return recorded.Index
}

// dispatchMetrics exports the two-hour clock and time to accept, computed
// from replicated state at scrape time (so every node reports the same and
// a restart neither loses nor double counts), plus this node's delivery
// attempts as leader.
type dispatchMetrics struct {
	s          *cluster.Store
	deliveries *prometheus.CounterVec
	ratio      *prometheus.Desc
	completed  *prometheus.Desc
	accept     *prometheus.Desc
	byStatus   *prometheus.Desc
	alerts     *prometheus.Desc
}

// TimeToAcceptBuckets are the bucket bounds (seconds) of
// frontdoor_dispatch_time_to_accept_seconds.
var TimeToAcceptBuckets = []float64{60, 120, 300, 600, 900, 1200, 1800, 3600}

func newDispatchMetrics(s *cluster.Store) *dispatchMetrics {
	return &dispatchMetrics{
		s: s,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdoor_dispatch_webhook_deliveries_total",
			Help: "Dispatch webhook deliveries finished by this node as leader, by result (delivered, permanent_failure, retries_exhausted).",
		}, []string{"result"}),
		ratio: prometheus.NewDesc("frontdoor_dispatch_on_scene_within_2h_ratio",
			"Share of completed rapid response dispatches on scene within 2 hours of the referral (national target 0.7); 0 before the first.", nil, nil),
		completed: prometheus.NewDesc("frontdoor_dispatch_completed",
			"Completed rapid response dispatches, by whether the team was on scene within 2 hours.", []string{"within_2h"}, nil),
		accept: prometheus.NewDesc("frontdoor_dispatch_time_to_accept_seconds",
			"Time from dispatch creation to acceptance by the team.", nil, nil),
		byStatus: prometheus.NewDesc("frontdoor_dispatches",
			"Dispatches by status.", []string{"status"}, nil),
		alerts: prometheus.NewDesc("frontdoor_alerts_open",
			"Alerts not yet acknowledged by a person.", nil, nil),
	}
}

func (m *dispatchMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.deliveries.Describe(ch)
	ch <- m.ratio
	ch <- m.completed
	ch <- m.accept
	ch <- m.byStatus
	ch <- m.alerts
}

// DispatchStats are the figures behind the dispatch metrics.
type DispatchStats struct {
	Completed       int
	CompletedWithin int // on scene within 2 hours
	AcceptSeconds   []float64
	ByStatus        map[string]int
	OpenAlerts      int
}

// Ratio is CompletedWithin / Completed (0 when none completed).
func (st DispatchStats) Ratio() float64 {
	if st.Completed == 0 {
		return 0
	}
	return float64(st.CompletedWithin) / float64(st.Completed)
}

// DispatchStats computes the dispatch figures from local state.
func (v State) DispatchStats() (DispatchStats, error) {
	st := DispatchStats{ByStatus: map[string]int{}}
	ds, err := v.Dispatches(DispatchQuery{})
	if err != nil {
		return st, err
	}
	for _, d := range ds {
		st.ByStatus[d.Status]++
		if d.AcceptedAt != nil {
			st.AcceptSeconds = append(st.AcceptSeconds, d.AcceptedAt.Sub(d.CreatedAt).Seconds())
		}
		if d.Status == DispatchCompleted {
			st.Completed++
			if d.Clock.Met != nil && *d.Clock.Met {
				st.CompletedWithin++
			}
		}
	}
	al, err := v.Alerts(true)
	if err != nil {
		return st, err
	}
	st.OpenAlerts = len(al)
	return st, nil
}

func (m *dispatchMetrics) Collect(ch chan<- prometheus.Metric) {
	m.deliveries.Collect(ch)
	var st DispatchStats
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := m.s.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		st, err = In(v).DispatchStats()
		return err
	})
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(m.ratio, prometheus.GaugeValue, st.Ratio())
	ch <- prometheus.MustNewConstMetric(m.completed, prometheus.GaugeValue, float64(st.CompletedWithin), "true")
	ch <- prometheus.MustNewConstMetric(m.completed, prometheus.GaugeValue, float64(st.Completed-st.CompletedWithin), "false")
	buckets := make(map[float64]uint64, len(TimeToAcceptBuckets))
	var sum float64
	for _, b := range TimeToAcceptBuckets {
		for _, s := range st.AcceptSeconds {
			if s <= b {
				buckets[b]++
			}
		}
	}
	for _, s := range st.AcceptSeconds {
		sum += s
	}
	ch <- prometheus.MustNewConstHistogram(m.accept, uint64(len(st.AcceptSeconds)), sum, buckets)
	for _, s := range []string{DispatchPending, DispatchNotified, DispatchAccepted, DispatchDeclined, DispatchEnRoute,
		DispatchOnScene, DispatchCompleted, DispatchEscalated} {
		ch <- prometheus.MustNewConstMetric(m.byStatus, prometheus.GaugeValue, float64(st.ByStatus[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(m.alerts, prometheus.GaugeValue, float64(st.OpenAlerts))
}
