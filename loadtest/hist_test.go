package loadtest

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// TestHistogramBuckets: buckets tile the value range without gaps or
// overlaps; values below 256µs are exact and every wider bucket is at most
// 1/128 of its values wide.
func TestHistogramBuckets(t *testing.T) {
	prevHi := int64(-1)
	for i := range histBuckets - 1 {
		lo, hi := histBounds(i)
		if int64(lo) != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: index of bounds %d,%d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		if w := float64(hi - lo + 1); lo >= 2*histSub && w/float64(lo) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d [%d,%d] is %.4f of its low bound wide", i, lo, hi, w/float64(lo))
		}
		prevHi = int64(hi)
	}
	if got := histIndex(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last", got)
	}
}

// TestHistogramQuantiles compares the histogram's percentiles with exact
// nearest-rank percentiles of the sorted samples.
func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func() time.Duration
		n    int
	}{
		{"constant 7ms", func() time.Duration { return 7 * time.Millisecond }, 1000},
		{"uniform 0-100ms", func() time.Duration { return time.Duration(r.Int64N(int64(100 * time.Millisecond))) }, 20000},
		{"exponential mean 5ms", func() time.Duration { return time.Duration(r.ExpFloat64() * float64(5*time.Millisecond)) }, 50000},
		{"bimodal 2ms and 900ms", func() time.Duration {
			if r.IntN(100) == 0 {
				return 900*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return 2*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
		}, 10000},
		{"sub-microsecond", func() time.Duration { return time.Duration(r.Int64N(900)) }, 100},
		{"single value", func() time.Duration { return 3 * time.Second }, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, c.n)
			for i := range samples {
				samples[i] = c.gen()
				h.Record(samples[i])
			}
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			if h.Count() != uint64(c.n) {
				t.Fatalf("count %d, want %d", h.Count(), c.n)
			}
			if want := samples[c.n-1].Truncate(time.Microsecond); h.Max() != want {
				t.Errorf("max %v, want %v", h.Max(), want)
			}
			if want := samples[0].Truncate(time.Microsecond); h.Min() != want {
				t.Errorf("min %v, want %v", h.Min(), want)
			}
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				rank := int(math.Ceil(q * float64(c.n)))
				want := samples[max(rank, 1)-1]
				got := h.Quantile(q)
				// within 1% (bucket width) plus the microsecond resolution
				if tol := time.Duration(float64(want)*0.01) + time.Microsecond; absDur(got-want) > tol {
					t.Errorf("p%g = %v, want %v ± %v", q*100, got, want, tol)
				}
			}
		})
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, all, empty Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Millisecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(&empty)
	for _, q := range []float64{0.5, 0.99} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged p%g %v, recorded together %v", q*100, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != 1000 || a.Max() != all.Max() || a.Min() != 0 {
		t.Errorf("merged count %d max %v min %v", a.Count(), a.Max(), a.Min())
	}
	if empty.Quantile(0.99) != 0 || empty.Max() != 0 || empty.Mean() != 0 {
		t.Errorf("empty histogram: p99 %v max %v mean %v", empty.Quantile(0.99), empty.Max(), empty.Mean())
	}
	var neg Histogram
	neg.Record(-time.Second)
	if neg.Max() != 0 || neg.Count() != 1 {
		t.Errorf("negative duration: max %v count %d", neg.Max(), neg.Count())
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
