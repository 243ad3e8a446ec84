package loadtest

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats collects, per workload operation, the latency of every logical
// operation that succeeded (retries included: what the caller waited), the
// operations that failed for good, and every failed attempt by kind.
// Safe for concurrent use.
type Stats struct {
	mu  sync.Mutex
	ops map[string]*opStats

	ok, failed, retried atomic.Uint64 // for the progress line
}

type opStats struct {
	hist     Histogram
	ok       uint64
	failed   uint64
	attempts map[string]uint64 // failed attempts by kind (retried or not)
	final    map[string]uint64 // operations that failed for good, by last kind
	example  map[string]string // the first such failure of each kind, in words
}

func (s *Stats) op(name string) *opStats {
	if s.ops == nil {
		s.ops = map[string]*opStats{}
	}
	o := s.ops[name]
	if o == nil {
		o = &opStats{attempts: map[string]uint64{}, final: map[string]uint64{}, example: map[string]string{}}
		s.ops[name] = o
	}
	return o
}

func (s *Stats) success(op string, d time.Duration) {
	s.mu.Lock()
	o := s.op(op)
	o.hist.Record(d)
	o.ok++
	s.mu.Unlock()
	s.ok.Add(1)
}

func (s *Stats) attemptFailed(op, kind string) {
	s.mu.Lock()
	s.op(op).attempts[kind]++
	s.mu.Unlock()
	s.retried.Add(1)
}

// failure records an operation that failed for good; detail (the
// problem's detail, say) is kept for the first failure of each kind.
func (s *Stats) failure(op, kind, detail string) {
	s.mu.Lock()
	o := s.op(op)
	o.failed++
	o.final[kind]++
	if _, ok := o.example[kind]; !ok && detail != "" {
		o.example[kind] = detail
	}
	s.mu.Unlock()
	s.failed.Add(1)
}

// OpReport is one operation's figures in the report.
type OpReport struct {
	Op         string            `json:"op"`
	OK         uint64            `json:"ok"`
	Failed     uint64            `json:"failed"`
	PerSecond  float64           `json:"per_second"`
	P50MS      float64           `json:"p50_ms"`
	P95MS      float64           `json:"p95_ms"`
	P99MS      float64           `json:"p99_ms"`
	MaxMS      float64           `json:"max_ms"`
	MeanMS     float64           `json:"mean_ms"`
	Errors     map[string]uint64 `json:"errors,omitempty"`      // failed attempts by kind
	FailedWith map[string]uint64 `json:"failed_with,omitempty"` // operations given up, by last kind
	Examples   map[string]string `json:"examples,omitempty"`    // the first failure of each kind
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// report is the figures of every operation, in name order, over elapsed.
func (s *Stats) report(elapsed time.Duration) []OpReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OpReport, 0, len(s.ops))
	for name, o := range s.ops {
		r := OpReport{
			Op: name, OK: o.ok, Failed: o.failed,
			P50MS: ms(o.hist.Quantile(0.50)), P95MS: ms(o.hist.Quantile(0.95)),
			P99MS: ms(o.hist.Quantile(0.99)), MaxMS: ms(o.hist.Max()), MeanMS: ms(o.hist.Mean()),
		}
		if elapsed > 0 {
			r.PerSecond = float64(o.ok) / elapsed.Seconds()
		}
		if len(o.attempts) > 0 {
			r.Errors = copyCounts(o.attempts)
		}
		if len(o.final) > 0 {
			r.FailedWith = copyCounts(o.final)
		}
		if len(o.example) > 0 {
			r.Examples = make(map[string]string, len(o.example))
			for k, v := range o.example {
				r.Examples[k] = v
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
