package api

import (
	"context"
	"slices"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// stepDowner is implemented by stores that can hand leadership over
// (*cluster.Store).
type stepDowner interface {
	StepDown(ctx context.Context) error
}

// leaderClockOff reports whether this node's clock is the odd one out: its
// distance from the median of the members' clocks (its own offset 0 among
// the peers' measured offsets) is past cluster.MaxClockSkew. It needs at
// least two measured peers: between two clocks neither is the odd one.
func leaderClockOff(peerOffsets []time.Duration) (time.Duration, bool) {
	if len(peerOffsets) < 2 {
		return 0, false
	}
	all := append([]time.Duration{0}, peerOffsets...)
	slices.Sort(all)
	median := all[len(all)/2]
	return -median, median > cluster.MaxClockSkew || median < -cluster.MaxClockSkew
}

// checkLeaderClock hands leadership over when this node leads with a clock
// the other members' median says is off: proposals are stamped with the
// leader's clock (opening hours, waiting times), so a leader with a wrong
// clock would decide with the wrong time.
func (w *peerWatch) checkLeaderClock(ctx context.Context) {
	if !w.s.store.IsLeader() {
		return
	}
	var offs []time.Duration
	for _, f := range w.figures() {
		if f.Reachable && f.ClockOffsetMS != nil {
			offs = append(offs, time.Duration(*f.ClockOffsetMS*float64(time.Millisecond)))
		}
	}
	off, bad := leaderClockOff(offs)
	if !bad {
		return
	}
	w.s.log.Error("this leader's clock is off from the members' median: handing leadership over", "offset", off)
	if sd, ok := w.s.store.(stepDowner); ok {
		if err := sd.StepDown(ctx); err != nil {
			w.s.log.Warn("clock: leadership transfer", "err", err)
		}
	}
}
