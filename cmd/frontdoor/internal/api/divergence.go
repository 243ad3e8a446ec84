package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// quarantiner is implemented by stores that can stop themselves when their
// state differs from the majority's (*cluster.Store).
type quarantiner interface {
	Quarantine(reason string)
	Quarantined() string
}

// divergenceChecker compares this node's state hash checkpoints with the
// other members' (their GET /v1/cluster/self, fetched by peerWatch) every
// interval. A node whose
// checkpoint differs from the one a majority of the voters hold at the same
// index quarantines itself: it names the first differing index, stops
// serving and never leads again. A leader in the minority is found the
// same way by its own check, so the majority wins.
type divergenceChecker struct {
	s   *server
	log *slog.Logger
}

func (d *divergenceChecker) run(ctx context.Context, interval time.Duration) {
	q, ok := d.s.store.(quarantiner)
	if !ok {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if q.Quarantined() != "" {
			return
		}
		if reason := d.check(); reason != "" {
			q.Quarantine(reason)
			return
		}
	}
}

// check compares this node's checkpoints with the members' as peerWatch
// last fetched them, and returns why this node is in the minority ("" when
// it is not).
func (d *divergenceChecker) check() string {
	st := d.s.store.Status()
	voters := 0
	for _, n := range st.Nodes {
		if n.Suffrage == "voter" {
			voters++
		}
	}
	var others [][]cluster.Checkpoint
	for id, f := range d.s.peerWatch.figures() {
		if id != st.NodeID && f.Reachable {
			others = append(others, f.Checkpoints)
		}
	}
	idx, own, majority, ok := firstDivergence(st.Checkpoints, others, voters)
	if !ok {
		return ""
	}
	return fmt.Sprintf("state hash at index %d is %.12s… here but %.12s… on a majority of the %d voters", idx, own, majority, voters)
}

// firstDivergence finds the first of own's checkpoints whose index a
// majority of members (more than half of voters, this node included when
// it agrees) holds with another hash.
func firstDivergence(own []cluster.Checkpoint, peers [][]cluster.Checkpoint, voters int) (index uint64, ownHash, majority string, ok bool) {
	if voters < 1 {
		return 0, "", "", false
	}
	for _, c := range own {
		votes := map[string]int{c.Hash: 1}
		for _, p := range peers {
			for _, pc := range p {
				if pc.Index == c.Index {
					votes[pc.Hash]++
				}
			}
		}
		for h, n := range votes {
			if h != c.Hash && n > voters/2 {
				return c.Index, c.Hash, h, true
			}
		}
	}
	return 0, "", "", false
}
