package api

import (
	"context"
	"encoding/json"
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
	Store           // nil: any other method panics (not used by /readyz)
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
	return cluster.Status{NodeID: "me", Clock: time.Now()}
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

// TestReadyz: 200 only with a known leader, a clock within 1s of the
// leader's (measured over HTTP) and the FSM caught up with the commit index.
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
			return &fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderClock(t, 3*time.Second)}, applied: 9, commit: 9}
		}, 503, "away from the leader"},
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
