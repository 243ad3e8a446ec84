package backup

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// fakeSource is a Source whose leadership and backups a test sets.
type fakeSource struct {
	leader  bool
	err     error
	asked   atomic.Int32 // IsLeader calls
	opened  atomic.Int32 // OpenBackup calls
	signals chan struct{}
}

func (f *fakeSource) IsLeader() bool {
	f.asked.Add(1)
	f.signal()
	return f.leader
}

func (f *fakeSource) OpenBackup(context.Context) (*cluster.Backup, error) {
	f.opened.Add(1)
	f.signal()
	return nil, f.err
}

func (f *fakeSource) signal() {
	select {
	case f.signals <- struct{}{}:
	default:
	}
}

// TestSchedulerOnlyLeaderAndFailures: a follower never writes; a leader
// whose backup fails logs and counts each failure, writes nothing, and
// carries on trying at the next tick.
func TestSchedulerOnlyLeaderAndFailures(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		src          *fakeSource
		wantOpened   bool
		wantFailures bool
	}{
		{"follower", &fakeSource{leader: false}, false, false},
		{"leader, failing", &fakeSource{leader: true, err: errors.New("disk on fire")}, true, true},
		{"leadership lost after the tick", &fakeSource{leader: true, err: cluster.ErrNotLeader}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src.signals = make(chan struct{}, 1)
			dir := t.TempDir()
			s, err := NewScheduler(Schedule{Dir: dir, Every: time.Millisecond, Keep: 1,
				Recipients: []age.Recipient{id.Recipient()}}, tt.src, prometheus.NewRegistry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			for tt.src.asked.Load() < 3 {
				select {
				case <-tt.src.signals:
				case <-time.After(10 * time.Second):
					t.Fatalf("the schedule stopped after %d ticks", tt.src.asked.Load())
				}
			}
			cancel()
			<-done
			if got := tt.src.opened.Load() > 0; got != tt.wantOpened {
				t.Fatalf("OpenBackup called: %v, want %v", got, tt.wantOpened)
			}
			if f := testutil.ToFloat64(s.failures); (tt.wantFailures && f < 2) || (!tt.wantFailures && f != 0) {
				t.Fatalf("failures %v (want some: %v): a failure must not stop the schedule", f, tt.wantFailures)
			}
			if testutil.ToFloat64(s.lastSuccess) != 0 {
				t.Fatal("a success recorded")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("files written: %v", entries)
			}
		})
	}
}

// TestNewSchedulerRefusesBadConfig: each missing or bad setting is a
// clear error.
func TestNewSchedulerRefusesBadConfig(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	r := []age.Recipient{id.Recipient()}
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		cfg  Schedule
	}{
		{"no dir", Schedule{Every: time.Hour, Keep: 1, Recipients: r}},
		{"no interval", Schedule{Dir: dir, Keep: 1, Recipients: r}},
		{"keep none", Schedule{Dir: dir, Every: time.Hour, Recipients: r}},
		{"no recipient", Schedule{Dir: dir, Every: time.Hour, Keep: 1}},
	} {
		if _, err := NewScheduler(tt.cfg, &fakeSource{}, nil, nil); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
