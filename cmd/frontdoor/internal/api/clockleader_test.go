package api

import (
	"testing"
	"time"
)

func TestLeaderClockOff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name  string
		peers []time.Duration // peer clock minus this node's
		off   bool
	}{
		{"all in line", []time.Duration{10 * time.Millisecond, -20 * time.Millisecond}, false},
		{"this leader 5 s behind both", []time.Duration{5 * s, 5 * s}, true},
		{"this leader 5 s ahead of both", []time.Duration{-5 * s, -5 * s}, true},
		{"one follower off", []time.Duration{5 * s, 0}, false},
		{"only one peer measured", []time.Duration{5 * s}, false},
		{"five members, two off", []time.Duration{5 * s, 5 * s, 0, 0}, false},
		{"five members, this one off", []time.Duration{5 * s, 5 * s, 5 * s, 5 * s}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, off := leaderClockOff(tc.peers); off != tc.off {
				t.Fatalf("off = %v, want %v", off, tc.off)
			}
		})
	}
}
