package api

import (
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

func TestFirstDivergence(t *testing.T) {
	ck := func(pairs ...any) []cluster.Checkpoint {
		var out []cluster.Checkpoint
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, cluster.Checkpoint{Index: uint64(pairs[i].(int)), Hash: pairs[i+1].(string)})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		own    []cluster.Checkpoint
		peers  [][]cluster.Checkpoint
		voters int
		index  uint64
		ok     bool
	}{
		{"all agree", ck(256, "a", 512, "b"), [][]cluster.Checkpoint{ck(256, "a", 512, "b"), ck(256, "a")}, 3, 0, false},
		{"odd one out is this node", ck(256, "a", 512, "x"), [][]cluster.Checkpoint{ck(256, "a", 512, "b"), ck(512, "b")}, 3, 512, true},
		{"odd one out is a peer", ck(256, "a", 512, "b"), [][]cluster.Checkpoint{ck(256, "a", 512, "x"), ck(512, "b")}, 3, 0, false},
		{"no majority either way", ck(512, "a"), [][]cluster.Checkpoint{ck(512, "b"), ck(512, "c")}, 3, 0, false},
		{"peer has not reached the index", ck(256, "a", 512, "x"), [][]cluster.Checkpoint{ck(256, "a")}, 3, 0, false},
		{"two of five disagree with me", ck(256, "a"), [][]cluster.Checkpoint{ck(256, "b"), ck(256, "b"), ck(256, "a"), ck(256, "a")}, 5, 0, false},
		{"three of five disagree with me", ck(256, "a"), [][]cluster.Checkpoint{ck(256, "b"), ck(256, "b"), ck(256, "b"), ck(256, "a")}, 5, 256, true},
		{"first differing index is named", ck(256, "x", 512, "y"), [][]cluster.Checkpoint{ck(256, "a", 512, "b"), ck(256, "a", 512, "b")}, 3, 256, true},
		{"single node", ck(256, "a"), nil, 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, _, _, ok := firstDivergence(tc.own, tc.peers, tc.voters)
			if ok != tc.ok || idx != tc.index {
				t.Fatalf("got index %d ok %v, want %d %v", idx, ok, tc.index, tc.ok)
			}
		})
	}
}
