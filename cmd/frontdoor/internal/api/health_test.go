package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// fakeStore is a Store whose readiness figures a test sets.
type fakeStore struct {
	leader          *cluster.LeaderInfo
	isLeader        bool
	applied, commit uint64
	nodes           []cluster.NodeStatus // the members besides "me" (Status)
	Store                                // nil: any other method panics (not used by /readyz)
}

func (f *fakeStore) Leader() (cluster.LeaderInfo, bool) {
	if f.leader == nil {
		return cluster.LeaderInfo{}, false
	}
	return *f.leader, true
}
func (f *fakeStore) IsLeader() bool       { return f.isLeader }
func (f *fakeStore) AppliedIndex() uint64 { return f.applied }
func (f *fakeStore) CommitIndex() uint64  { return f.commit }
func (f *fakeStore) Status() cluster.Status {
	return cluster.Status{NodeID: "me", Clock: time.Now(), Nodes: f.nodes}
}

// leaderClock serves /v1/cluster/self with a clock skew away from ours.
func leaderClock(t *testing.T, skew time.Duration) string {
	t.Helper()
	return leaderAt(t, skew, 9)
}

// leaderAt is leaderClock with the leader's commit index.
func leaderAt(t *testing.T, skew time.Duration, commit uint64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(NodeFigures{ID: "lead", Clock: time.Now().Add(skew), CommitIndex: commit})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// members serves /v1/cluster/self for each member, its clock skewed from
// ours, and lists them as voters (leader: the leader's ID).
func members(t *testing.T, leader string, skews map[string]time.Duration) []cluster.NodeStatus {
	t.Helper()
	var out []cluster.NodeStatus
	for id, skew := range skews {
		out = append(out, cluster.NodeStatus{ID: id, Suffrage: "voter", HTTPAddr: leaderAt(t, skew, 9), Leader: id == leader})
	}
	return out
}

// TestReadyz: 200 only with a known leader, a clock within 1s of the
// cluster's (the median of the members' clocks, measured over HTTP) and
// the FSM caught up with the commit index.
func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		store  func(t *testing.T) *fakeStore
		status int
		detail string
	}{
		{"leader itself, caught up", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "me"}, isLeader: true, applied: 9, commit: 9}
		}, 200, ""},
		{"no leader", func(t *testing.T) *fakeStore {
			return &fakeStore{applied: 9, commit: 9}
		}, 503, "no leader"},
		{"applied behind commit", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "me"}, isLeader: true, applied: 8, commit: 9}
		}, 503, "applied index 8 behind commit index 9"},
		{"follower, clock in line", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderClock(t, 200*time.Millisecond)}, applied: 9, commit: 9}
		}, 200, ""},
		{"follower, clock 3s behind the leader", func(t *testing.T) *fakeStore {
			// Two clocks: the leader's is the reference.
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderClock(t, 3*time.Second)}, applied: 9, commit: 9}
		}, 503, "away from the cluster's (the median of 2 members' clocks"},
		{"follower, the leader 5s off, the other follower in line", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderClock(t, 5*time.Second)}, applied: 9, commit: 9,
				nodes: members(t, "lead", map[string]time.Duration{"lead": 5 * time.Second, "other": 0})}
		}, 200, ""},
		{"leader 5s off its two followers", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "me"}, isLeader: true, applied: 9, commit: 9,
				nodes: members(t, "me", map[string]time.Duration{"f1": -5 * time.Second, "f2": -5 * time.Second})}
		}, 503, "away from the cluster's (the median of 3 members' clocks"},
		{"leader, a follower 5s off, the other in line", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "me"}, isLeader: true, applied: 9, commit: 9,
				nodes: members(t, "me", map[string]time.Duration{"f1": 5 * time.Second, "f2": 0})}
		}, 200, ""},
		{"leader, followers unreachable", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "me"}, isLeader: true, applied: 9, commit: 9,
				nodes: []cluster.NodeStatus{{ID: "f1", Suffrage: "voter", HTTPAddr: clustertest.FreeAddr(t)}}}
		}, 200, ""},
		{"follower behind the leader's commit index", func(t *testing.T) *fakeStore {
			// A restarted follower that knows only an old commit index.
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderAt(t, 0, 42)}, applied: 9, commit: 9}
		}, 503, "applied index 9 behind commit index 42"},
		{"follower, leader unreachable", func(t *testing.T) *fakeStore {
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: clustertest.FreeAddr(t)}, applied: 9, commit: 9}
		}, 503, "clock offset to the leader unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := New(Config{Store: tt.store(t), Logger: slog.New(slog.DiscardHandler)})
			resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/readyz", nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.detail) {
				t.Fatalf("readyz = %d %s; want %d containing %q", resp.StatusCode, body, tt.status, tt.detail)
			}
			if tt.status == 503 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("503 with Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

// TestClockOffsetCorrectsForRoundTrip: the offset is measured against the
// midpoint of the request, so a slow round trip does not read as skew.
func TestClockOffsetCorrectsForRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The leader's clock equals ours; the answer takes 300ms each way
		// as far as the fake clock below is concerned.
		_ = json.NewEncoder(w).Encode(NodeFigures{Clock: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)})
	}))
	defer srv.Close()
	ticks := []time.Time{
		time.Date(2026, 1, 1, 11, 59, 59, 700_000_000, time.UTC), // t0: sent
		time.Date(2026, 1, 1, 12, 0, 0, 300_000_000, time.UTC),   // t1: answer read
	}
	k := newClockChecker(&fakeStore{}, srv.Client())
	k.now = func() time.Time { t := ticks[0]; ticks = ticks[1:]; return t }
	off, _, err := k.measure(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if off != 0 {
		t.Fatalf("offset %v, want 0 (midpoint of a 600ms round trip)", off)
	}
}

// TestClockReference: the median clock; of an even number, the leader's
// of the middle two, else their midpoint.
func TestClockReference(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name    string
		members []memberClock
		want    time.Duration
	}{
		{"none", nil, 0},
		{"one", []memberClock{{ID: "a", Off: 3 * s}}, 3 * s},
		{"three, one off", []memberClock{{ID: "a"}, {ID: "b", Off: 5 * s, Leader: true}, {ID: "c", Off: 100 * time.Millisecond}}, 100 * time.Millisecond},
		{"three, from the odd one's view", []memberClock{{ID: "b", Leader: true}, {ID: "a", Off: -5 * s}, {ID: "c", Off: -4900 * time.Millisecond}}, -4900 * time.Millisecond},
		{"two, the leader's", []memberClock{{ID: "a"}, {ID: "b", Off: 3 * s, Leader: true}}, 3 * s},
		{"four, the leader in the middle", []memberClock{{ID: "a"}, {ID: "b", Off: s, Leader: true}, {ID: "c", Off: 2 * s}, {ID: "d", Off: 9 * s}}, s},
		{"four, the leader outside the middle", []memberClock{{ID: "a", Leader: true}, {ID: "b", Off: s}, {ID: "c", Off: 2 * s}, {ID: "d", Off: 9 * s}}, 1500 * time.Millisecond},
		{"five, two off", []memberClock{{ID: "a", Off: -7 * s}, {ID: "b"}, {ID: "c", Off: 200 * time.Millisecond}, {ID: "d", Off: 300 * time.Millisecond}, {ID: "e", Off: 8 * s, Leader: true}}, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clockReference(tt.members); got != tt.want {
				t.Fatalf("clockReference = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClockCheckBlamesTheOddClockOut: three nodes, one clock 5s off: only
// that node is out of line, whichever node checks and whichever leads.
// Each node's clock is simulated as real time plus its skew; members are
// measured over HTTP.
func TestClockCheckBlamesTheOddClockOut(t *testing.T) {
	skews := map[string]time.Duration{"a": 0, "b": 150 * time.Millisecond, "c": 5 * time.Second}
	for _, leader := range []string{"a", "c"} {
		for _, observer := range []string{"a", "b", "c"} {
			t.Run(fmt.Sprintf("%s leads, %s checks", leader, observer), func(t *testing.T) {
				st := &fakeStore{isLeader: observer == leader}
				for id, skew := range skews {
					if id == observer {
						continue
					}
					addr := leaderAt(t, skew-skews[observer], 9)
					st.nodes = append(st.nodes, cluster.NodeStatus{ID: id, Suffrage: "voter", HTTPAddr: addr, Leader: id == leader})
					if id == leader {
						st.leader = &cluster.LeaderInfo{ID: id, HTTPAddr: addr}
					}
				}
				if st.isLeader {
					st.leader = &cluster.LeaderInfo{ID: "me"}
				}
				k := newClockChecker(st, &http.Client{Timeout: 5 * time.Second})
				round, err := k.reading(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if len(round.members) != 3 {
					t.Fatalf("%d members measured, want 3", len(round.members))
				}
				for _, m := range round.members {
					id := m.ID
					if id == "me" {
						id = observer
					}
					if in, want := clockInLine(m.Off-round.ref), id != "c"; in != want {
						t.Errorf("%s in line %v, want %v (offset %v from the reference)", id, in, want, m.Off-round.ref)
					}
				}
				if in, want := clockInLine(round.offset()), observer != "c"; in != want {
					t.Errorf("the checking node in line %v, want %v", in, want)
				}
			})
		}
	}
}

// TestMarkClocksInLine: GET /v1/cluster's verdicts are against the
// median clock, not the answering node's.
func TestMarkClocksInLine(t *testing.T) {
	ms := func(v float64) *float64 { return &v }
	tests := []struct {
		name  string
		nodes []NodeFigures
		want  map[string]bool // absent: no verdict
	}{
		{"the answering leader is off", []NodeFigures{
			{ID: "a", Leader: true, ClockOffsetMS: ms(0)}, {ID: "b", ClockOffsetMS: ms(-5000)}, {ID: "c", ClockOffsetMS: ms(-4850)}},
			map[string]bool{"a": false, "b": true, "c": true}},
		{"a follower is off", []NodeFigures{
			{ID: "a", ClockOffsetMS: ms(0)}, {ID: "b", Leader: true, ClockOffsetMS: ms(120)}, {ID: "c", ClockOffsetMS: ms(5000)}},
			map[string]bool{"a": true, "b": true, "c": false}},
		{"an unreachable member", []NodeFigures{
			{ID: "a", ClockOffsetMS: ms(0)}, {ID: "b", Leader: true, ClockOffsetMS: ms(3000)}, {ID: "c"}},
			map[string]bool{"a": false, "b": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			markClocksInLine(tt.nodes)
			for _, n := range tt.nodes {
				want, judged := tt.want[n.ID]
				switch {
				case !judged && n.ClockInLine != nil:
					t.Errorf("%s judged without a measured clock", n.ID)
				case judged && (n.ClockInLine == nil || *n.ClockInLine != want):
					t.Errorf("%s in line %v, want %v", n.ID, n.ClockInLine, want)
				}
			}
		})
	}
}
