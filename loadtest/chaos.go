package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Failover is one chaos event: which nodes were killed, and how long
// clients went without an acknowledged write.
type Failover struct {
	At        time.Time `json:"at"`
	Killed    []string  `json:"killed"`
	WasLeader bool      `json:"was_leader"` // the leader was among them
	// RecoveredMS is from the kill until the first write acknowledged in
	// an attempt sent after the kill (writes accepted again); -1 when
	// that never happened before the run ended.
	RecoveredMS float64 `json:"recovered_ms"`
	// GapMS is the longest time between two consecutive acknowledgements
	// (of any write) from the last one before the kill until recovery:
	// the unavailability window clients saw.
	GapMS     float64 `json:"gap_ms"`
	NewLeader string  `json:"new_leader,omitempty"`
	// RejoinedMS is from the kill until every killed node, restarted,
	// was ready again (caught up with the leader); -1 when not measured.
	RejoinedMS float64 `json:"rejoined_ms"`
	// MinorityRefusedMS (--chaos partition) is from the cut until the
	// isolated node answered a write with 503 (it no longer leads); -1
	// when it never did.
	MinorityRefusedMS float64 `json:"minority_refused_ms,omitempty"`
	// MajorityAckedMS (--chaos partition) is from the cut until the
	// majority acknowledged a write sent straight to one of its nodes; -1
	// when it never did. Clients may see a longer gap (RecoveredMS): a
	// follower forwards to the leader it knew until it hears of a new one.
	MajorityAckedMS float64 `json:"majority_acked_ms,omitempty"`
	// HealedMS (--chaos partition) is from the heal until the cut-off
	// node was ready again (caught up); -1 when not measured.
	HealedMS float64 `json:"healed_ms,omitempty"`
	// MinorityAcked counts writes the cut-off node acknowledged while cut
	// off (--chaos partition): it must be 0.
	MinorityAcked int    `json:"minority_acked,omitempty"`
	Error         string `json:"error,omitempty"`

	recovered bool
}

// ChaosReport is every failover of a run.
type ChaosReport struct {
	Mode          string     `json:"mode"`
	EveryMS       float64    `json:"every_ms"`
	Failovers     []Failover `json:"failovers"`
	Unrecovered   int        `json:"unrecovered"`
	MaxRecoverMS  float64    `json:"max_recovered_ms"`
	MeanRecoverMS float64    `json:"mean_recovered_ms"`
	MaxGapMS      float64    `json:"max_gap_ms"`
	// OverTarget counts failovers slower than FailoverTarget (or never
	// recovered).
	OverTarget int `json:"over_target"`
	// UnavailableMS adds up the gaps: the time clients could not write.
	UnavailableMS float64 `json:"unavailable_ms"`
}

// MinorityRefuseTarget is how soon a node cut off from the majority should
// refuse writes (--chaos partition).
const MinorityRefuseTarget = 2 * time.Second

// FailoverTarget is how soon after a kill writes should be accepted again:
// the report counts the failovers that missed it.
const FailoverTarget = 3 * time.Second

// chaos kills and restarts spawned nodes while the load runs, and hears
// of every acknowledged write to time each failover.
type chaos struct {
	c     *Cluster
	mode  string
	every time.Duration
	rng   *rand.Rand
	log   io.Writer

	probes Ledger // probe writes acknowledged (--chaos partition)

	mu      sync.Mutex
	events  []*Failover
	killAt  []time.Time
	lastAck time.Time
}

func newChaos(c *Cluster, mode string, every time.Duration, seed uint64, log io.Writer) *chaos {
	return &chaos{c: c, mode: mode, every: every, rng: rand.New(rand.NewPCG(seed, 7)), log: log}
}

// ack implements ackObserver.
func (ch *chaos) ack(attemptStart, answered time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for i, ev := range ch.events {
		if ev.recovered {
			continue
		}
		if gap := answered.Sub(ch.lastAck); !ch.lastAck.IsZero() && gap > 0 {
			ev.GapMS = max(ev.GapMS, ms(gap))
		}
		if !attemptStart.Before(ch.killAt[i]) {
			ev.recovered = true
			ev.RecoveredMS = ms(answered.Sub(ch.killAt[i]))
		}
	}
	if answered.After(ch.lastAck) {
		ch.lastAck = answered
	}
}

func (ch *chaos) recovered(ev *Failover) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ev.recovered
}

// run kills every ch.every until ctx ends; every node is running again
// when it returns.
func (ch *chaos) run(ctx context.Context) {
	defer ch.restartAll()
	next := time.Now().Add(ch.every)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		// The previous victim must be back and caught up: killing a
		// second node of three while one is still down loses quorum,
		// which is a different test.
		for _, nd := range ch.c.Nodes {
			if err := ch.c.WaitReady(ctx, nd, 30*time.Second); err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(ch.log, "loadtest: chaos: %v; not killing\n", err)
				}
				return
			}
		}
		ch.strike(ctx)
		next = next.Add(ch.every)
		if d := time.Until(next); d < 0 {
			next = time.Now() // a slow restart: strike again once ready
		}
	}
}

// strike kills the mode's victims and restarts them.
func (ch *chaos) strike(ctx context.Context) {
	lead, err := ch.c.Leader(ctx)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(ch.log, "loadtest: chaos: %v\n", err)
		}
		return
	}
	var victims []*Node
	switch ch.mode {
	case ChaosKillLeader:
		victims = []*Node{lead}
	case ChaosKillRandom:
		victims = []*Node{ch.c.Nodes[ch.rng.IntN(len(ch.c.Nodes))]}
	case ChaosRestartAll:
		victims = ch.c.Nodes
	}
	if ch.mode == ChaosPartition {
		ch.partition(ctx, lead)
		return
	}
	ev := &Failover{RecoveredMS: -1, RejoinedMS: -1}
	for _, v := range victims {
		ev.Killed = append(ev.Killed, v.Name)
		ev.WasLeader = ev.WasLeader || v == lead
	}
	at := time.Now()
	ev.At = at
	ch.mu.Lock()
	ch.events = append(ch.events, ev)
	ch.killAt = append(ch.killAt, at)
	ch.mu.Unlock()
	for _, v := range victims {
		ch.c.Kill(v)
	}
	// Restart at once when nothing is left to fail over to; otherwise
	// once writes are accepted again (the survivors elected a leader), or
	// after 5s: the dead node must not be the one that brings writes back.
	if len(victims) < len(ch.c.Nodes) {
		deadline := time.Now().Add(5 * time.Second)
		for !ch.recovered(ev) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, v := range victims {
		if err := ch.c.Restart(v); err != nil {
			ch.mu.Lock()
			ev.Error = err.Error()
			ch.mu.Unlock()
		}
	}
	if nl, err := ch.c.Leader(ctx); err == nil {
		ch.mu.Lock()
		ev.NewLeader = nl.Name
		ch.mu.Unlock()
	}
	for _, v := range victims {
		if ch.c.WaitReady(ctx, v, 60*time.Second) != nil {
			return
		}
	}
	ch.mu.Lock()
	ev.RejoinedMS = ms(time.Since(at))
	ch.mu.Unlock()
}

// partition cuts the leader off from the others (both ways, by the fault
// proxies) and, with writes sent straight to the nodes, times how soon the
// cut-off node refuses them (503) and how soon the majority acknowledges
// one. It holds the cut while the load runs (at least partitionHold, until
// both were seen or partitionMax), then heals and times the cut-off
// node's return. Probe writes that were acknowledged join the checked
// ledger; one acknowledged by the cut-off node is also counted: it must
// never happen.
func (ch *chaos) partition(ctx context.Context, lead *Node) {
	ev := &Failover{RecoveredMS: -1, RejoinedMS: -1, MinorityRefusedMS: -1, MajorityAckedMS: -1, HealedMS: -1,
		Killed: []string{lead.Name}, WasLeader: true}
	at := time.Now()
	ev.At = at
	ch.mu.Lock()
	ch.events = append(ch.events, ev)
	ch.killAt = append(ch.killAt, at)
	ch.mu.Unlock()
	if err := ch.c.Net.Isolate(lead.Name); err != nil {
		ch.mu.Lock()
		ev.Error = err.Error()
		ch.mu.Unlock()
		return
	}
	minority := ch.c.index(lead)
	var majority []int
	for i, nd := range ch.c.Nodes {
		if nd != lead {
			majority = append(majority, i)
		}
	}
	pctx, stopProbes := context.WithTimeout(ctx, partitionMax)
	defer stopProbes()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the cut-off node: until it refuses
		defer wg.Done()
		countAck := func() { ch.mu.Lock(); ev.MinorityAcked++; ch.mu.Unlock() }
		if t, ok := ch.probeUntil(pctx, []int{minority}, "partition probe (cut-off node)", true, countAck); ok {
			ch.mu.Lock()
			ev.MinorityRefusedMS = ms(t.Sub(at))
			ch.mu.Unlock()
		}
	}()
	go func() { // the majority: until it acknowledges a write
		defer wg.Done()
		if t, ok := ch.probeUntil(pctx, majority, "partition probe (majority)", false, nil); ok {
			ch.mu.Lock()
			ev.MajorityAckedMS = ms(t.Sub(at))
			ch.mu.Unlock()
		}
	}()
	sleepCtx(ctx, partitionHold)
	wg.Wait()
	stopProbes()
	if nl, err := ch.c.Leader(ctx); err == nil {
		ch.mu.Lock()
		ev.NewLeader = nl.Name
		ch.mu.Unlock()
	}
	ch.c.Net.Heal()
	healed := time.Now()
	if ch.c.WaitReady(ctx, lead, 60*time.Second) == nil {
		ch.mu.Lock()
		ev.RejoinedMS = ms(time.Since(at))
		ev.HealedMS = ms(time.Since(healed))
		ch.mu.Unlock()
	}
}

// How long a partition lasts: at least partitionHold (the majority takes
// writes the cut-off node must catch up on), at most partitionMax.
const (
	partitionHold = 2 * time.Second
	partitionMax  = 10 * time.Second
)

// probeUntil sends a write to nodes in turn every probeEvery, each in its
// own goroutine (one held by a partition does not delay the next), until
// one is refused (wantRefusal) or acknowledged (otherwise), and returns
// when that answer came. onAck hears of every acknowledgement.
func (ch *chaos) probeUntil(ctx context.Context, nodes []int, complaint string, wantRefusal bool, onAck func()) (time.Time, bool) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu    sync.Mutex
		first time.Time
		wg    sync.WaitGroup
	)
	for k := 0; ctx.Err() == nil; k++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			refused, acked := ch.probe(ctx, i, complaint)
			if acked && onAck != nil {
				onAck()
			}
			if (wantRefusal && refused) || (!wantRefusal && acked) {
				mu.Lock()
				if first.IsZero() {
					first = time.Now()
				}
				mu.Unlock()
				stop()
			}
		}(nodes[k%len(nodes)])
		sleepCtx(ctx, probeEvery)
	}
	wg.Wait()
	return first, !first.IsZero()
}

// probeEvery spaces the probe writes of a partition (at most
// partitionMax/probeEvery of each kind).
const probeEvery = 100 * time.Millisecond

// probe sends one write straight to node i: refused is a 503, acked a
// 2xx (recorded in ch.probes for the checker).
func (ch *chaos) probe(ctx context.Context, i int, complaint string) (refused, acked bool) {
	body := []byte(fmt.Sprintf(`{"complaint":%q}`, complaint))
	resp, err := ch.c.client.Do(ctx, Request{Method: "POST", Path: "/v1/attendances", Node: i, Body: body, Timeout: 2 * time.Second})
	if err != nil {
		return false, false
	}
	if resp.Status == 503 {
		return true, false
	}
	if resp.Status < 200 || resp.Status > 299 {
		return false, false
	}
	var got struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(resp.Body, &got) != nil || got.ID == "" {
		return false, true
	}
	expect, err := NewExpect(map[string]any{"id": got.ID, "complaint": complaint})
	if err == nil {
		ch.probes.Add(AckedWrite{Op: "chaos.probe", Path: "/v1/attendances/" + got.ID, Node: i, AckedAt: time.Now(), Expect: expect})
	}
	return false, true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// restartAll starts every node that is down (the end of a chaos run).
func (ch *chaos) restartAll() {
	for _, nd := range ch.c.Nodes {
		if !nd.Running() {
			if err := ch.c.Restart(nd); err != nil {
				fmt.Fprintf(ch.log, "loadtest: chaos: restart %s: %v\n", nd.Name, err)
			}
		}
	}
}

// report summarises the failovers.
func (ch *chaos) report() *ChaosReport {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	r := &ChaosReport{Mode: ch.mode, EveryMS: ms(ch.every), Failovers: []Failover{}}
	var sum float64
	n := 0
	for _, ev := range ch.events {
		r.Failovers = append(r.Failovers, *ev)
		r.MaxGapMS = max(r.MaxGapMS, ev.GapMS)
		r.UnavailableMS += ev.GapMS
		if !ev.recovered {
			r.Unrecovered++
			r.OverTarget++
			continue
		}
		if ev.RecoveredMS > ms(FailoverTarget) {
			r.OverTarget++
		}
		n++
		sum += ev.RecoveredMS
		r.MaxRecoverMS = max(r.MaxRecoverMS, ev.RecoveredMS)
	}
	if n > 0 {
		r.MeanRecoverMS = sum / float64(n)
	}
	return r
}

func (r *ChaosReport) writeText(b *strings.Builder) {
	defer func() {
		for _, f := range r.Failovers {
			if r.Mode != ChaosPartition {
				continue
			}
			who := strings.Join(f.Killed, ",")
			if f.MinorityRefusedMS >= 0 {
				fmt.Fprintf(b, "  partition of %s: it refused writes after %.0f ms (target %v)", who, f.MinorityRefusedMS, MinorityRefuseTarget)
			} else {
				fmt.Fprintf(b, "  partition of %s: no refusal seen", who)
			}
			if f.MajorityAckedMS >= 0 {
				fmt.Fprintf(b, "; the majority acknowledged a write after %.0f ms", f.MajorityAckedMS)
			} else {
				b.WriteString("; the majority acknowledged no write")
			}
			if f.HealedMS >= 0 {
				fmt.Fprintf(b, "; healed, %s was ready again after %.0f ms", who, f.HealedMS)
			}
			fmt.Fprintf(b, "; writes it acknowledged while cut off: %d\n", f.MinorityAcked)
		}
	}()
	fmt.Fprintf(b, "\nchaos: %s every %.0fs: %d failovers", r.Mode, r.EveryMS/1000, len(r.Failovers))
	if len(r.Failovers) > 0 {
		fmt.Fprintf(b, ", writes accepted again after mean %.0f ms, max %.0f ms (%d over the %v target); longest client gap %.0f ms, %.0f ms in all",
			r.MeanRecoverMS, r.MaxRecoverMS, r.OverTarget, FailoverTarget, r.MaxGapMS, r.UnavailableMS)
	}
	if r.Unrecovered > 0 {
		fmt.Fprintf(b, "; %d not recovered before the run ended", r.Unrecovered)
	}
	b.WriteString("\n")
	for i, ev := range r.Failovers {
		rec := "not recovered"
		if ev.RecoveredMS >= 0 {
			rec = fmt.Sprintf("writes accepted again after %.0f ms", ev.RecoveredMS)
		}
		who := strings.Join(ev.Killed, ",")
		if ev.WasLeader {
			who += " (leader)"
		}
		what := "kill -9"
		if r.Mode == ChaosPartition {
			what = "cut off"
		}
		fmt.Fprintf(b, "  %2d  %s  %s %-20s %s, client gap %.0f ms", i+1, ev.At.Format("15:04:05.000"), what, who, rec, ev.GapMS)
		if ev.NewLeader != "" {
			fmt.Fprintf(b, ", leader now %s", ev.NewLeader)
		}
		if ev.RejoinedMS >= 0 {
			fmt.Fprintf(b, ", all back and ready after %.0f ms", ev.RejoinedMS)
		}
		if ev.Error != "" {
			fmt.Fprintf(b, ", error: %s", ev.Error)
		}
		b.WriteString("\n")
	}
}
