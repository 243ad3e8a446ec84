package loadtest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runConfig is one load run.
type runConfig struct {
	client      *Client
	workload    Workload
	concurrency int
	rate        float64 // > 0: open loop
	duration    time.Duration
	requests    int // iterations; 0: unbounded (duration bounds)
	opTimeout   time.Duration
	seed        uint64
	runID       string
	obs         ackObserver
	progress    io.Writer // nil: no progress line
	tty         bool      // progress redraws one line
	onStop      func()    // called once when the bound is reached (chaos stops then)
}

// runResult is what a load run measured.
type runResult struct {
	stats     *Stats
	ledger    *Ledger
	elapsed   time.Duration // from the first iteration to the last answer
	started   time.Time
	dropped   uint64 // open loop: arrivals not started, every worker busy
	abandoned uint64 // iterations stopped by the end of the run
	fatal     error
}

// grace is how long in-flight operations may go on after the run's bound
// is reached: their outcome counts (an acknowledged write is recorded).
const grace = 10 * time.Second

// runLoad runs the workload until the duration passes or the requests are
// started, then lets in-flight iterations finish (at most grace more).
func runLoad(ctx context.Context, cfg runConfig) *runResult {
	res := &runResult{stats: &Stats{}, ledger: &Ledger{}}
	// stop: no new iterations. work: in-flight ones (cut after grace).
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		stopCtx, cancel = context.WithTimeout(stopCtx, cfg.duration)
		defer cancel()
	}
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var fatalOnce sync.Once
	fatal := func(err error) {
		fatalOnce.Do(func() { res.fatal = err; stop(); cancelWork() })
	}
	go func() {
		select {
		case <-ctx.Done(): // Ctrl-C: stop now
			cancelWork()
		case <-workCtx.Done():
		}
	}()

	var started atomic.Uint64
	take := func() bool { // may another iteration start?
		if stopCtx.Err() != nil {
			return false
		}
		if cfg.requests > 0 && started.Add(1) > uint64(cfg.requests) {
			return false
		}
		return true
	}
	newSession := func(w int) *Session {
		return &Session{client: cfg.client, stats: res.stats, ledger: res.ledger, obs: cfg.obs,
			synth: newSynth(cfg.seed, uint64(w)), opTimeout: cfg.opTimeout, runID: cfg.runID, worker: w, fatal: fatal}
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		res.started = time.Now()
		if cfg.rate > 0 {
			res.dropped = openLoop(stopCtx, workCtx, cfg, newSession, take)
		} else {
			closedLoop(workCtx, cfg, newSession, take)
		}
	}()

	// Progress, and the grace period once the bound is reached.
	var tick <-chan time.Time
	if cfg.progress != nil {
		every := time.Second
		if !cfg.tty {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	var graceTimer <-chan time.Time
	stopSeen := stopCtx.Done()
	for {
		select {
		case <-done:
			res.elapsed = time.Since(res.started)
			if cfg.progress != nil {
				printProgress(cfg, res, started.Load())
				if cfg.tty {
					fmt.Fprintln(cfg.progress)
				}
			}
			return res
		case <-tick:
			printProgress(cfg, res, started.Load())
		case <-stopSeen:
			stopSeen = nil
			graceTimer = time.After(grace)
			if cfg.onStop != nil {
				cfg.onStop()
			}
		case <-graceTimer:
			cancelWork()
		}
	}
}

// closedLoop runs concurrency workers, each starting its next iteration as
// soon as the previous one ends.
func closedLoop(work context.Context, cfg runConfig, newSession func(int) *Session, take func() bool) {
	var wg sync.WaitGroup
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSession(w)
			for n := uint64(0); take() && work.Err() == nil; n++ {
				_ = cfg.workload.Step(work, s, n)
			}
		}()
	}
	wg.Wait()
}

// openLoop starts iterations at a fixed rate whatever the latency, on at
// most concurrency workers. An arrival that finds every worker busy is
// dropped and counted (the client, not the cluster, is saturated). Latency
// counts from when the iteration was due, so queueing is not hidden.
func openLoop(stop, work context.Context, cfg runConfig, newSession func(int) *Session, take func() bool) (dropped uint64) {
	due := make(chan time.Time, cfg.concurrency)
	var wg sync.WaitGroup
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSession(w)
			var n uint64
			for t := range due {
				if work.Err() != nil {
					continue
				}
				s.due = t
				_ = cfg.workload.Step(work, s, n)
				n++
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	next := time.Now()
	for take() {
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-stop.Done():
				t.Stop()
			case <-t.C:
			}
			if stop.Err() != nil {
				break
			}
		}
		select {
		case due <- next:
		default:
			dropped++
		}
		next = next.Add(interval)
	}
	close(due)
	wg.Wait()
	return dropped
}

// printProgress writes the progress line: a bar when the run is bounded
// by a known amount, then what happened so far.
func printProgress(cfg runConfig, res *runResult, started uint64) {
	elapsed := time.Since(res.started)
	frac := 0.0
	switch {
	case cfg.requests > 0 && cfg.duration > 0:
		frac = max(float64(min(started, uint64(cfg.requests)))/float64(cfg.requests), elapsed.Seconds()/cfg.duration.Seconds())
	case cfg.requests > 0:
		frac = float64(min(started, uint64(cfg.requests))) / float64(cfg.requests)
	case cfg.duration > 0:
		frac = elapsed.Seconds() / cfg.duration.Seconds()
	}
	frac = min(max(frac, 0), 1)
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	ok, failed, retried := res.stats.ok.Load(), res.stats.failed.Load(), res.stats.retried.Load()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(ok) / elapsed.Seconds()
	}
	line := fmt.Sprintf("[%s] %3.0f%% %6.1fs  ok %d  failed %d  retries %d  %.0f ops/s", bar, 100*frac,
		elapsed.Seconds(), ok, failed, retried, rate)
	if cfg.tty {
		fmt.Fprintf(cfg.progress, "\r%-100s", line)
	} else {
		fmt.Fprintln(cfg.progress, line)
	}
}
