package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is everything a run found; it prints as text or JSON.
type Report struct {
	Command     string        `json:"command"`
	Machine     string        `json:"machine"`
	Target      string        `json:"target"` // "spawned 3 nodes" or the URLs
	Workload    string        `json:"workload"`
	Mode        string        `json:"mode"` // "closed loop, concurrency 16" / "open loop, 200/s, ..."
	Concurrency int           `json:"concurrency"`
	Rate        float64       `json:"rate,omitempty"`
	StartedAt   time.Time     `json:"started_at"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Dropped     uint64        `json:"dropped,omitempty"` // open loop arrivals not started
	// WorkloadSummary is what the workload says it did ("" for create).
	WorkloadSummary string `json:"workload_summary,omitempty"`

	Ops      []OpReport         `json:"operations"`
	Nodes    []NodeUsage        `json:"nodes,omitempty"`
	Chaos    *ChaosReport       `json:"chaos,omitempty"`
	Streams  *StreamFloodReport `json:"streams,omitempty"`
	Baseline *BaselineResult    `json:"baseline,omitempty"`
	Ratios   *BaselineRatios    `json:"ratio_to_baseline,omitempty"`
	// The baseline with an HTTP hop in front, and the ratios to it.
	BaselineHTTP *BaselineResult   `json:"baseline_http,omitempty"`
	RatiosHTTP   *BaselineRatios   `json:"ratio_to_baseline_http,omitempty"`
	Checks       []CheckResult     `json:"checks"`
	Acked        int               `json:"acknowledged_writes"`
	Abandoned    map[string]uint64 `json:"-"`

	// Profiles are the pprof files written (--profile), ProfileErrors the
	// profiles that could not be taken.
	Profiles      []string `json:"profiles,omitempty"`
	ProfileErrors []string `json:"profile_errors,omitempty"`

	Problem string `json:"problem,omitempty"` // why the run stopped early
}

// BaselineResult is the bare raft+Badger cluster's figures for the same
// command size and concurrency, measured in the same run.
type BaselineResult struct {
	Nodes        int     `json:"nodes"`
	CommandBytes int     `json:"command_bytes"`
	Concurrency  int     `json:"concurrency"`
	Commands     uint64  `json:"commands"`
	Failed       uint64  `json:"failed"`
	PerSecond    float64 `json:"per_second"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
	MaxMS        float64 `json:"max_ms"`
}

// BaselineRatios is frontdoor's write figures over the baseline's:
// throughput above 1 is faster than bare raft, p99 above 1 is slower.
type BaselineRatios struct {
	Op         string  `json:"op"`
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	// Writes is every acknowledged write per second (all operations)
	// over the baseline's commands per second: the fair figure for a
	// workload whose iterations make many writes.
	Writes float64 `json:"writes_throughput"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Failed() {
			return true
		}
	}
	return r.Problem != ""
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people. Its last lines are the checks'
// verdicts, always in the same order.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "frontdoor loadtest: %s\n", r.Command)
	fmt.Fprintf(&b, "machine:  %s\n", r.Machine)
	fmt.Fprintf(&b, "target:   %s\n", r.Target)
	fmt.Fprintf(&b, "workload: %s, %s, %.1fs", r.Workload, r.Mode, r.Elapsed.Seconds())
	if r.Dropped > 0 {
		fmt.Fprintf(&b, ", %d arrivals dropped (every worker busy: raise --concurrency)", r.Dropped)
	}
	b.WriteString("\n")
	if r.WorkloadSummary != "" {
		fmt.Fprintf(&b, "          %s\n", r.WorkloadSummary)
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "%-20s %8s %7s %9s %9s %9s %9s %9s\n", "operation", "ok", "failed", "per sec", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, o := range r.Ops {
		fmt.Fprintf(&b, "%-20s %8d %7d %9.1f %9.2f %9.2f %9.2f %9.2f\n", o.Op, o.OK, o.Failed, o.PerSecond, o.P50MS, o.P95MS, o.P99MS, o.MaxMS)
	}
	if len(r.Ops) == 0 {
		b.WriteString("(no operation finished)\n")
	}
	errLines := 0
	for _, o := range r.Ops {
		for _, kv := range sortedCounts(o.Errors) {
			if errLines == 0 {
				b.WriteString("\nerrors (failed attempts, retried unless the operation failed):\n")
			}
			errLines++
			fmt.Fprintf(&b, "  %-20s %-48s %d\n", o.Op, kv.k, kv.v)
		}
		for _, kv := range sortedCounts(o.FailedWith) {
			if errLines == 0 {
				b.WriteString("\nerrors (failed attempts, retried unless the operation failed):\n")
			}
			errLines++
			fmt.Fprintf(&b, "  %-20s %-48s %d\n", o.Op, "failed for good: "+kv.k, kv.v)
			if ex := o.Examples[kv.k]; ex != "" {
				fmt.Fprintf(&b, "      first: %s\n", ex)
			}
		}
	}
	if errLines == 0 {
		b.WriteString("\nerrors: none\n")
	}
	if len(r.Profiles) > 0 || len(r.ProfileErrors) > 0 {
		fmt.Fprintf(&b, "\nprofiles (go tool pprof FILE): %d written\n", len(r.Profiles))
		for _, f := range r.Profiles {
			fmt.Fprintf(&b, "  %s\n", f)
		}
		for _, e := range r.ProfileErrors {
			fmt.Fprintf(&b, "  not taken: %s\n", e)
		}
	}

	if len(r.Nodes) > 0 {
		fmt.Fprintf(&b, "\n%-6s %9s %9s %9s %9s %9s %9s\n", "node", "RSS MB", "peak MB", "anon MB", "CPU s", "CPU %", "restarts")
		for _, n := range r.Nodes {
			fmt.Fprintf(&b, "%-6s %9.1f %9.1f %9.1f %9.2f %9.1f %9d\n", n.Node, n.RSSMB, n.PeakRSSMB, n.PeakAnonMB, n.CPUSeconds, n.CPUPercent, n.Restarts)
		}
		for _, n := range r.Nodes {
			if len(n.PeakByKindMB) == 0 {
				continue
			}
			var parts []string
			for _, k := range rssKinds {
				if mb, ok := n.PeakByKindMB[k]; ok && mb >= 0.05 {
					parts = append(parts, fmt.Sprintf("%s %.1f", k, mb))
				}
			}
			fmt.Fprintf(&b, "%-6s highest sampled RSS %.1f MB: %s\n", n.Node, n.PeakSampledMB, strings.Join(parts, ", "))
		}
	}
	if r.Chaos != nil {
		r.Chaos.writeText(&b)
	}
	if r.Streams != nil {
		r.Streams.writeText(&b)
	}
	if r.Baseline != nil {
		bl := r.Baseline
		fmt.Fprintf(&b, "\nbaseline: bare %d-node raft + raft-boltdb + Badger in one process, %d-byte commands, concurrency %d\n",
			bl.Nodes, bl.CommandBytes, bl.Concurrency)
		fmt.Fprintf(&b, "  %d commands (%d failed), %.1f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			bl.Commands, bl.Failed, bl.PerSecond, bl.P50MS, bl.P99MS, bl.MaxMS)
		if r.Ratios != nil {
			fmt.Fprintf(&b, "  frontdoor %s / baseline: throughput x%.2f, p50 x%.2f, p99 x%.2f; all acknowledged writes: throughput x%.2f\n",
				r.Ratios.Op, r.Ratios.Throughput, r.Ratios.P50, r.Ratios.P99, r.Ratios.Writes)
		}
	}
	if r.BaselineHTTP != nil {
		bl := r.BaselineHTTP
		fmt.Fprintf(&b, "\nbaseline over HTTP: the same behind one fiber endpoint on the leader (the load tool's client), concurrency %d\n",
			bl.Concurrency)
		fmt.Fprintf(&b, "  %d commands (%d failed), %.1f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			bl.Commands, bl.Failed, bl.PerSecond, bl.P50MS, bl.P99MS, bl.MaxMS)
		if r.Baseline != nil && r.Baseline.PerSecond > 0 && r.Baseline.P50MS > 0 {
			fmt.Fprintf(&b, "  baseline over HTTP / baseline: throughput x%.2f, p50 x%.2f, p99 x%.2f\n",
				bl.PerSecond/r.Baseline.PerSecond, bl.P50MS/r.Baseline.P50MS, bl.P99MS/max(r.Baseline.P99MS, 1e-9))
		}
		if r.RatiosHTTP != nil {
			fmt.Fprintf(&b, "  frontdoor %s / baseline over HTTP: throughput x%.2f, p50 x%.2f, p99 x%.2f; all acknowledged writes: throughput x%.2f\n",
				r.RatiosHTTP.Op, r.RatiosHTTP.Throughput, r.RatiosHTTP.P50, r.RatiosHTTP.P99, r.RatiosHTTP.Writes)
		}
	}
	if r.Problem != "" {
		fmt.Fprintf(&b, "\nrun stopped early: %s\n", r.Problem)
	}

	fmt.Fprintf(&b, "\nacknowledged writes: %d\n", r.Acked)
	for _, c := range r.Checks {
		if c.Note != "" {
			fmt.Fprintf(&b, "  %s: checked %s\n", c.Name, c.Note)
		}
	}
	for _, c := range r.Checks {
		for _, d := range c.Details {
			fmt.Fprintf(&b, "  %s: %s\n", c.Name, d)
		}
	}
	for _, c := range r.Checks {
		b.WriteString(c.Line())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type countKV struct {
	k string
	v uint64
}

func sortedCounts(m map[string]uint64) []countKV {
	out := make([]countKV, 0, len(m))
	for k, v := range m {
		out = append(out, countKV{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].v != out[j].v {
			return out[i].v > out[j].v
		}
		return out[i].k < out[j].k
	})
	return out
}
