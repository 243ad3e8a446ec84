package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in microseconds in log-linear buckets, in the
// manner of HdrHistogram: 128 linear sub-buckets per power of two, so any
// reported percentile is within 1% of the recorded value, and memory is
// fixed (histBuckets counters) however many values are recorded. The zero
// value is ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max uint64 // microseconds, exact
	sum      float64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // linear sub-buckets per power of two
	// Values up to 2^(histMaxShift+histSubBits+1) µs (about 2.4 hours at
	// 32) are kept exactly bucketed; larger ones land in the last bucket.
	histMaxShift = 32
	histBuckets  = (histMaxShift + 2) * histSub
)

// histIndex is the bucket of v: values below 2*histSub have a bucket each;
// above, the top histSubBits+1 significant bits pick the bucket.
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// histBounds is the lowest and highest value that falls in bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	sub := uint64(i%histSub + histSub)
	return sub << shift, (sub+1)<<shift - 1
}

// Record adds one duration (negative durations count as 0).
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)]++
	if h.n == 0 || us < h.min {
		h.min = us
	}
	if us > h.max {
		h.max = us
	}
	h.n++
	h.sum += float64(us)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest recorded value, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) * time.Microsecond }

// Mean is the arithmetic mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Quantile is the value at quantile q (0 < q <= 1) by the nearest-rank
// method: the smallest recorded value v such that at least q of all values
// are <= v, reported as the middle of its bucket (clamped to the exact min
// and max). 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	rank = min(rank, h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, hi := histBounds(i)
			v := lo + (hi-lo)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}
