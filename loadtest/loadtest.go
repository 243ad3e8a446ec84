package loadtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrChecksFailed is returned (with the report) when a check found a
// problem or could not verify what it had to: the CLI exits non-zero.
var ErrChecksFailed = errors.New("correctness checks failed")

// BaselineFunc runs the bare raft+Badger baseline: nodes in one process,
// commands of cmdBytes, at concurrency, for the same bound as the
// frontdoor run; it calls record for every command and returns how long
// the load took (start-up excluded). The CLI supplies
// loadtest/baseline's Run, so this package links no raft or Badger.
type BaselineFunc func(ctx context.Context, nodes, cmdBytes, concurrency int, duration time.Duration, requests int,
	dir string, record func(d time.Duration, ok bool)) (time.Duration, error)

// Env is what a run needs besides its options.
type Env struct {
	Command  string       // the command line, for the report
	Log      io.Writer    // progress and notices (stderr)
	TTY      bool         // Log is a terminal: redraw one progress line
	Baseline BaselineFunc // nil: --baseline is refused
	// BaselineHTTP is the baseline with an HTTP hop in front (a floor
	// for any write path behind an HTTP API); nil: not run.
	BaselineHTTP BaselineFunc
}

// Run does one load test: optional baseline, optional spawned cluster,
// the load (with chaos), then the checks. The report is returned also
// with ErrChecksFailed; other errors mean the run could not be made.
func Run(ctx context.Context, o Options, env Env) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if env.Log == nil {
		env.Log = io.Discard
	}
	spec, _ := lookupWorkload(o.Workload)
	seed := uint64(o.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	wl := spec.New(seed)
	if sa, ok := wl.(spawnAware); ok {
		sa.spawned(o.Spawn > 0)
	}
	rep := &Report{Command: env.Command, Machine: machine(), Workload: o.Workload, Concurrency: o.Concurrency, Rate: o.Rate}
	rep.Mode = fmt.Sprintf("closed loop, concurrency %d", o.Concurrency)
	if o.Rate > 0 {
		rep.Mode = fmt.Sprintf("open loop, %g/s, at most %d in flight", o.Rate, o.Concurrency)
	}
	if o.Requests > 0 {
		rep.Mode += fmt.Sprintf(", %d iterations", o.Requests)
	}
	if o.Duration > 0 {
		rep.Mode += fmt.Sprintf(", at most %v", o.Duration)
	}

	if o.Baseline {
		if env.Baseline == nil {
			return nil, errors.New("--baseline is not available in this build")
		}
		fmt.Fprintf(env.Log, "loadtest: baseline: bare 3-node raft + Badger, %d-byte commands, concurrency %d\n", wl.CommandBytes(), o.Concurrency)
		bl, err := runBaseline(ctx, env.Baseline, o, wl.CommandBytes())
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		rep.Baseline = bl
		if env.BaselineHTTP != nil {
			fmt.Fprintf(env.Log, "loadtest: baseline over HTTP: the same behind one fiber endpoint on the leader\n")
			bh, err := runBaseline(ctx, env.BaselineHTTP, o, wl.CommandBytes())
			if err != nil {
				return nil, fmt.Errorf("baseline over HTTP: %w", err)
			}
			rep.BaselineHTTP = bh
		}
	}

	targets, key := o.Targets, o.Key
	var cl *Cluster
	if o.Spawn > 0 {
		fmt.Fprintf(env.Log, "loadtest: starting a %d-node cluster of %s\n", o.Spawn, o.Binary)
		var err error
		cl, err = SpawnCluster(ctx, o.Binary, o.Spawn, o.TempDir, env.Log, o.Chaos == ChaosPartition)
		if err != nil {
			return nil, err
		}
		defer cl.Remove(o.KeepData)
		targets = cl.URLs()
		if key == "" {
			key = cl.Key
		}
		rep.Target = fmt.Sprintf("spawned %d nodes (%s)", o.Spawn, strings.Join(targets, ", "))
	} else {
		rep.Target = strings.Join(targets, ", ")
	}
	client := NewClient(targets, key, o.Concurrency)
	defer client.Close()

	runID := make([]byte, 4)
	_, _ = rand.Read(runID)
	cfg := runConfig{client: client, workload: wl, concurrency: o.Concurrency, rate: o.Rate, duration: o.Duration,
		requests: o.Requests, opTimeout: o.OpTimeout, seed: seed, runID: hex.EncodeToString(runID)}
	if o.Progress {
		cfg.progress, cfg.tty = env.Log, env.TTY
	}

	if wc, ok := wl.(workloadCloser); ok {
		defer wc.Close()
	}
	if ws, ok := wl.(workloadSetup); ok {
		s := &Session{client: client, stats: &Stats{}, ledger: &Ledger{}, synth: newSynth(seed, 1<<40), opTimeout: o.OpTimeout, runID: cfg.runID, worker: -1}
		if err := ws.Setup(ctx, s); err != nil {
			return nil, err
		}
	}

	var ch *chaos
	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	if cl != nil {
		cl.markUsage(time.Now())
		bg.Add(1)
		go func() { // memory and CPU, every second
			defer bg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-bgCtx.Done():
					return
				case <-t.C:
					cl.sampleAll()
				}
			}
		}()
		if o.Chaos != ChaosNone {
			// Chaos ends with the load's bound: no kill while the last
			// operations finish, and every node is up again for the checks.
			chaosCtx, stopChaos := context.WithCancel(bgCtx)
			cfg.onStop = stopChaos
			ch = newChaos(cl, o.Chaos, o.ChaosEvery, seed, env.Log)
			cfg.obs = ch
			bg.Add(1)
			go func() { defer bg.Done(); ch.run(chaosCtx) }()
		}
	}

	var flood *streamFlood
	if o.Streams > 0 {
		flood = newStreamFlood(targets[0], key, o.Streams)
		bg.Add(1)
		go func() { defer bg.Done(); flood.run(bgCtx) }()
	}

	var prof *profiler
	if o.ProfileDir != "" {
		var err error
		if prof, err = newProfiler(o.ProfileDir, o.Workload, key, targets); err != nil {
			return nil, err
		}
		d := o.Duration
		if d == 0 {
			d = maxCPUProfile
		}
		prof.startCPU(ctx, d)
	}

	fmt.Fprintf(env.Log, "loadtest: %s: %s against %s\n", o.Workload, rep.Mode, rep.Target)
	res := runLoad(ctx, cfg)
	stopBG()
	bg.Wait()
	if ch != nil { // probe writes the chaos had acknowledged are checked too
		for _, w := range ch.probes.Writes() {
			res.ledger.Add(w)
		}
	}
	rep.StartedAt, rep.Elapsed, rep.Dropped = res.started, res.elapsed, res.dropped
	rep.Ops = res.stats.report(res.elapsed)
	rep.Acked = res.ledger.Len()
	if sum, ok := wl.(workloadSummary); ok {
		rep.WorkloadSummary = sum.Summary()
	}
	if cl != nil {
		rep.Nodes = cl.Usage(time.Now())
	}
	if prof != nil {
		rep.Profiles, rep.ProfileErrors = prof.finish(ctx)
	}
	if ch != nil {
		rep.Chaos = ch.report()
	}
	if flood != nil {
		rep.Streams = flood.report()
	}
	if res.fatal != nil {
		rep.Problem = res.fatal.Error()
	} else if ctx.Err() != nil {
		rep.Problem = "interrupted"
	}
	if rep.Baseline != nil {
		rep.Ratios = ratios(rep, rep.Baseline)
	}
	if rep.BaselineHTTP != nil {
		rep.RatiosHTTP = ratios(rep, rep.BaselineHTTP)
	}

	// The checks read from every node: each must be up and caught up.
	if cl != nil && ctx.Err() == nil {
		for _, nd := range cl.Nodes {
			if err := cl.WaitReady(ctx, nd, time.Minute); err != nil {
				fmt.Fprintf(env.Log, "loadtest: before the checks: %v\n", err)
			}
		}
	}
	fmt.Fprintf(env.Log, "loadtest: checking %d acknowledged writes on %d nodes\n", rep.Acked, len(targets))
	checkStart := time.Now()
	rep.Checks = RunChecks(ctx, &CheckEnv{Client: client, Ledger: res.ledger, Workload: wl, Log: env.Log}, checksFor(wl))
	fmt.Fprintf(env.Log, "loadtest: checks took %v\n", time.Since(checkStart).Round(time.Millisecond))
	if rep.Failed() {
		return rep, ErrChecksFailed
	}
	return rep, nil
}

// runBaseline runs the baseline with the frontdoor run's bound.
func runBaseline(ctx context.Context, fn BaselineFunc, o Options, cmdBytes int) (*BaselineResult, error) {
	var mu sync.Mutex
	var h Histogram
	var failed uint64
	dir, err := os.MkdirTemp(o.TempDir, "frontdoor-baseline-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	elapsed, err := fn(ctx, 3, cmdBytes, o.Concurrency, o.Duration, o.Requests, dir, func(d time.Duration, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			h.Record(d)
		} else {
			failed++
		}
	})
	if err != nil {
		return nil, err
	}
	if elapsed <= 0 {
		return nil, errors.New("the baseline measured no time")
	}
	mu.Lock()
	defer mu.Unlock()
	return &BaselineResult{Nodes: 3, CommandBytes: cmdBytes, Concurrency: o.Concurrency, Commands: h.Count(), Failed: failed,
		PerSecond: float64(h.Count()) / elapsed.Seconds(), P50MS: ms(h.Quantile(0.5)), P99MS: ms(h.Quantile(0.99)), MaxMS: ms(h.Max())}, nil
}

// ratios compares the run's busiest write operation with a baseline.
func ratios(r *Report, bl *BaselineResult) *BaselineRatios {
	var best *OpReport
	for i := range r.Ops {
		if best == nil || r.Ops[i].OK > best.OK {
			best = &r.Ops[i]
		}
	}
	if best == nil || bl.PerSecond == 0 || bl.P99MS == 0 {
		return nil
	}
	ratios := &BaselineRatios{Op: best.Op, Throughput: best.PerSecond / bl.PerSecond, P99: best.P99MS / bl.P99MS}
	if bl.P50MS > 0 {
		ratios.P50 = best.P50MS / bl.P50MS
	}
	if r.Elapsed > 0 {
		ratios.Writes = float64(r.Acked) / r.Elapsed.Seconds() / bl.PerSecond
	}
	return ratios
}

// machine describes this machine for the report: CPU model and count,
// memory, OS.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb := parseStatusKB(b, "MemTotal:"); kb > 0 {
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	s := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if model != "" {
		s += " (" + model + ")"
	}
	return s + mem + ", " + runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version()
}
