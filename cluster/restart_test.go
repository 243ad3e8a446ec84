package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

func TestRestartWithoutReplay(t *testing.T) {
	tuning := cluster.FastRaftTuning()
	tuning.SnapshotThreshold = 64 // entries, not commands: group commit packs many per entry
	tuning.SnapshotInterval = 100 * time.Millisecond
	tuning.TrailingLogs = 32
	c := clustertest.New(t, 1, clustertest.Options{Raft: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	nd := c.Leader(ctx)

	const total, writers = 20000, 64
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				if _, _, err := clustertest.CreateAttendance(ctx, nd, "restart", nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	applied := nd.Store.AppliedIndex()
	if n := nd.Store.ApplyCount(); n < total {
		t.Fatalf("applied %d commands before restart, want >= %d", n, total)
	}
	snaps, _ := os.ReadDir(filepath.Join(nd.Dir, "raft", "snapshots"))
	if len(snaps) == 0 {
		t.Fatal("no raft snapshot was taken; the test would not exercise NoSnapshotRestoreOnStart")
	}

	if err := c.Stop(ctx, nd); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if got := nd.Store.AppliedIndex(); got != applied {
		t.Fatalf("after reopen the FSM says applied %d, want %d before raft does anything", got, applied)
	}
	if l := c.Leader(ctx); l != nd {
		t.Fatal("restarted node did not lead")
	}
	// Ready: leader, FSM caught up with the commit index.
	waitFor(t, ctx, "applied >= commit", func() bool {
		return nd.Store.AppliedIndex() >= nd.Store.CommitIndex() && nd.Store.AppliedIndex() > applied
	})
	// Only the new term's own registration was applied; nothing replayed,
	// no snapshot restored.
	if n, r := nd.Store.ApplyCount(), nd.Store.RestoreCount(); n > 2 || r != 0 {
		t.Fatalf("restart re-applied %d commands and restored %d snapshots", n, r)
	}
	var count int
	err := nd.Store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		all, err := care.In(v).Attendances(care.AttendanceQuery{Status: care.AttendanceArrived})
		count = len(all)
		return err
	})
	if err != nil || count != total {
		t.Fatalf("after restart: %d attendances, err %v", count, err)
	}
	t.Logf("%d commands in %d raft entries before restart", total, applied)
}

// TestMain doubles as the kill -9 child: with FRONTDOOR_KILL9_DIR set the
// test binary runs a single node that writes until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("FRONTDOOR_KILL9_DIR"); dir != "" {
		os.Exit(kill9Child(dir, os.Getenv("FRONTDOOR_KILL9_ADDR"), os.Getenv("FRONTDOOR_KILL9_SNAPSHOTS") != ""))
	}
	os.Exit(m.Run())
}

// snapshotTuning makes raft snapshot and compact its log all the time.
func snapshotTuning() cluster.RaftTuning {
	tuning := cluster.FastRaftTuning()
	tuning.SnapshotThreshold = 16
	tuning.SnapshotInterval = 20 * time.Millisecond
	tuning.TrailingLogs = 8
	return tuning
}

func kill9Child(dir, addr string, snapshots bool) int {
	ctx := context.Background()
	tuning := cluster.FastRaftTuning()
	if snapshots {
		tuning = snapshotTuning()
	}
	s, err := cluster.New(cluster.Config{
		NodeID: "solo", Dir: dir, RaftBind: addr, HTTPAdvertise: "127.0.0.1:1", Version: "test",
		Logger: clustertest.Logger(), Raft: tuning, Commands: clinic.Commands(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := s.Open(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.Bootstrap(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				body, _ := json.Marshal(care.AttendanceCreate{Complaint: "kill -9"})
				res, err := s.Propose(ctx, cluster.Proposal{Kind: care.KindAttendanceCreate, Actor: cluster.Actor{ID: "t"}, Payload: body})
				if err != nil || res.Err != nil {
					fmt.Fprintln(os.Stderr, "propose:", err, res)
					os.Exit(3)
				}
				var a care.Attendance
				_ = json.Unmarshal(res.Value, &a)
				mu.Lock()
				fmt.Fprintf(out, "ACK %s\n", a.ID)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

func TestKill9LosesNothing(t *testing.T) {
	kill9Round(t, false, 1500)
}

// TestKill9DuringSnapshotsLosesNothing: the same with raft snapshotting
// and compacting its log every few entries (the state store synced before
// each snapshot, not after each batch), so kills land before, during and
// after snapshots; three rounds at different points. After each, every
// acknowledged write is there and the log really was compacted.
func TestKill9DuringSnapshotsLosesNothing(t *testing.T) {
	for _, after := range []int{700, 1100, 1500} {
		t.Run(fmt.Sprint("after ", after), func(t *testing.T) {
			dir := kill9Round(t, true, after)
			snaps, _ := os.ReadDir(filepath.Join(dir, "raft", "snapshots"))
			if len(snaps) == 0 {
				t.Fatal("no snapshot was taken before the kill: the round tested nothing")
			}
		})
	}
}

// kill9Round runs a child node that writes until it has acknowledged
// killAfter writes, kill -9s it, reopens its data dir and checks every
// acknowledged write is there. It returns the data dir.
func kill9Round(t *testing.T, snapshots bool, killAfter int) string {
	t.Helper()
	dir := t.TempDir()
	addr := clustertest.FreeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FRONTDOOR_KILL9_DIR="+dir, "FRONTDOOR_KILL9_ADDR="+addr)
	if snapshots {
		cmd.Env = append(cmd.Env, "FRONTDOOR_KILL9_SNAPSHOTS=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(stdout)
	killed := false
	timeout := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timeout.Stop()
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "ACK "); ok {
			acked = append(acked, id)
		}
		if len(acked) == killAfter && !killed {
			killed = true
			_ = cmd.Process.Kill() // SIGKILL: no Close, no flush, no transfer
		}
	}
	_ = cmd.Wait()
	if len(acked) < killAfter {
		t.Fatalf("child acknowledged only %d writes before dying; stderr:\n%s", len(acked), stderr.String())
	}

	tuning := cluster.FastRaftTuning()
	if snapshots {
		tuning = snapshotTuning()
	}
	s, err := cluster.New(cluster.Config{
		NodeID: "solo", Dir: dir, RaftBind: addr, HTTPAdvertise: "127.0.0.1:1", Version: "test",
		Logger: clustertest.Logger(), Raft: tuning, Commands: clinic.Commands(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if !s.HasExistingState() {
		t.Fatal("no existing state after kill -9")
	}
	err = clustertest.Retry(ctx, func() error {
		return s.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
			for _, id := range acked {
				if _, err := care.In(v).Attendance(id); err != nil {
					return fmt.Errorf("acknowledged %s lost: %w", id, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes all present after kill -9; %d commands re-applied from the raft log", len(acked), s.ApplyCount())
	return dir
}
