package loadtest

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// TestRunBaselineRatio: with --baseline the baseline runs first with the
// workload's command size and the run's concurrency and bound, and the
// report gives frontdoor's figures as ratios to it.
func TestRunBaselineRatio(t *testing.T) {
	f := newFakeCluster(t, 3, nil)
	var gotBytes, gotConc, gotReq int
	fake := func(_ context.Context, nodes, cmdBytes, conc int, _ time.Duration, requests int, _ string, record func(time.Duration, bool)) (time.Duration, error) {
		gotBytes, gotConc, gotReq = cmdBytes, conc, requests
		for range 100 {
			record(10*time.Millisecond, true)
		}
		record(time.Second, false)
		return time.Second, nil
	}
	httpRuns := 0
	fakeHTTP := func(_ context.Context, _, _, _ int, _ time.Duration, _ int, _ string, record func(time.Duration, bool)) (time.Duration, error) {
		httpRuns++
		for range 50 {
			record(20*time.Millisecond, true)
		}
		return time.Second, nil
	}
	rep, err := Run(context.Background(), Options{Targets: f.urls(), Concurrency: 3, Requests: 40, Baseline: true, Seed: 9},
		Env{Baseline: fake, BaselineHTTP: fakeHTTP})
	if err != nil {
		t.Fatal(err)
	}
	if gotBytes < 50 || gotBytes > 400 || gotConc != 3 || gotReq != 40 {
		t.Fatalf("baseline asked for %d-byte commands at concurrency %d for %d requests", gotBytes, gotConc, gotReq)
	}
	bl := rep.Baseline
	if bl == nil || bl.Commands != 100 || bl.Failed != 1 || bl.PerSecond != 100 || math.Abs(bl.P99MS-10) > 0.1 {
		t.Fatalf("baseline %+v", bl)
	}
	op := rep.Ops[0]
	if rep.Ratios == nil || math.Abs(rep.Ratios.Throughput-op.PerSecond/100) > 1e-9 || math.Abs(rep.Ratios.P99-op.P99MS/bl.P99MS) > 1e-9 {
		t.Fatalf("ratios %+v for %+v", rep.Ratios, op)
	}
	if want := float64(rep.Acked) / rep.Elapsed.Seconds() / 100; math.Abs(rep.Ratios.Writes-want) > 1e-9 || rep.Acked != 40 {
		t.Fatalf("all-writes ratio %v, want %v (%d acknowledged)", rep.Ratios.Writes, want, rep.Acked)
	}
	bh := rep.BaselineHTTP
	if httpRuns != 1 || bh == nil || bh.Commands != 50 || bh.PerSecond != 50 || math.Abs(bh.P50MS-20) > 0.1 {
		t.Fatalf("baseline over HTTP run %d times: %+v", httpRuns, bh)
	}
	if r := rep.RatiosHTTP; r == nil || math.Abs(r.Throughput-op.PerSecond/50) > 1e-9 || math.Abs(r.P50-op.P50MS/bh.P50MS) > 1e-9 {
		t.Fatalf("ratios to the baseline over HTTP %+v for %+v", r, op)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if !strings.Contains(b.String(), "frontdoor attendance.create / baseline: throughput x") ||
		!strings.Contains(b.String(), "frontdoor attendance.create / baseline over HTTP: throughput x") {
		t.Fatalf("report:\n%s", b.String())
	}
	if _, err := Run(context.Background(), Options{Targets: f.urls(), Concurrency: 1, Requests: 1, Baseline: true}, Env{}); err == nil {
		t.Fatal("--baseline without a baseline in the build was accepted")
	}
}
