package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// runRoot runs the command tree in process with args.
func runRoot(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestLoadtestCLIErrors: refused options are clear CLI errors, and a
// workload that needs an API this build lacks says so instead of running.
func TestLoadtestCLIErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"loadtest"}, "nothing to load: give --target URL[,URL...] of an existing cluster, or --spawn 3 to start one"},
		{[]string{"loadtest", "--spawn", "3", "--workload", "stampede"}, `--workload "stampede": want one of`},
		{[]string{"loadtest", "--target", "http://127.0.0.1:1", "--chaos", "kill-leader"}, "--chaos kill-leader needs --spawn"},
		{[]string{"loadtest", "--spawn", "3", "--concurrency", "0"}, "--concurrency 0: want 1 to 4096"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			_, _, err := runRoot(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestLoadtestFailsOnLostWrite: against a "cluster" that acknowledges
// writes and then has none of them, the command reports them lost and
// fails (main turns the error into exit status 1).
func TestLoadtestFailsOnLostWrite(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n++
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("gone-%d", n)})
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	out, _, err := runRoot(t, "loadtest", "--target", srv.URL, "--requests", "5", "--concurrency", "1", "--progress=false")
	if err == nil || !strings.Contains(err.Error(), "correctness checks failed") {
		t.Fatalf("error %v, want the checks to fail", err)
	}
	if !strings.Contains(out, "lost acknowledged writes: 5\n") {
		t.Fatalf("report:\n%s", out)
	}
}

// TestLoadtestSpawnEndToEnd builds the binary and runs it as an operator
// would: a spawned 3-node cluster, a short run, and with chaos a leader
// kill every 2s; nothing acknowledged may be lost, and the exit status is
// the verdict.
func TestLoadtestSpawnEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and spawns clusters")
	}
	bin := buildBinary(t)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"create", []string{"--requests", "200", "--concurrency", "4"},
			[]string{"attendance.create         200       0", "acknowledged writes: 200\n"}},
		{"kill-leader", []string{"--chaos", "kill-leader", "--chaos-every", "2s", "--duration", "6s", "--concurrency", "4"},
			[]string{"chaos: kill-leader every 2s: ", "(leader)"}},
		{"mix", []string{"--workload", "mix", "--duration", "5s", "--concurrency", "4"},
			[]string{"attendance.answer", "attendance.nhs111", "patient.create", "journeys finished", "double-booked slots: checked ", "lost dispatch webhooks: 0\n"}},
		// NHS 111 over BaRS: referrals and bookings of real places; the
		// checker finds every acknowledged one and no overbooked session.
		{"nhs111", []string{"--workload", "nhs111", "--duration", "5s", "--concurrency", "4"},
			[]string{"attendance.nhs111", "bars.booking", "bars.slot_search", "over BaRS", "double-booked slots: checked "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tmp := t.TempDir()
			args := append([]string{"loadtest", "--spawn", "3", "--progress=false", "--temp-dir", tmp}, c.args...)
			profiles := t.TempDir()
			if c.name == "mix" {
				args = append(args, "--profile", profiles)
			}
			cmd := exec.CommandContext(ctx, bin, args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			err := cmd.Run()
			t.Logf("%s in %v\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out.String())
			if err != nil {
				t.Fatalf("exit: %v\nstderr:\n%s", err, errb.String())
			}
			report := out.String()
			slots := "double-booked slots: not checked: workload allocates no slots\n"
			if c.name == "mix" || c.name == "nhs111" {
				slots = "double-booked slots: 0\n"
			}
			for _, want := range append(c.want, "lost acknowledged writes: 0\n", slots) {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			if m := regexp.MustCompile(`acknowledged writes: (\d+)\n`).FindStringSubmatch(report); m == nil || m[1] == "0" {
				t.Errorf("no write acknowledged: %v", m)
			}
			if c.name == "mix" {
				// --profile: each node's CPU profile of the run, heap and
				// allocations, in pprof's gzipped format.
				names, _ := filepath.Glob(filepath.Join(profiles, "mix-*.pprof"))
				if len(names) != 9 || !strings.Contains(report, "profiles (go tool pprof FILE): 9 written") {
					t.Errorf("profiles written: %v", names)
				}
				for _, n := range names {
					if b, err := os.ReadFile(n); err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
						t.Errorf("%s is not a pprof profile (%d bytes, %v)", n, len(b), err)
					}
				}
			}
			// The spawned cluster is gone: nothing left in the temp dir.
			if left, _ := exec.Command("find", tmp, "-mindepth", "1").Output(); len(left) > 0 {
				t.Errorf("left behind:\n%s", left)
			}
		})
	}
}

// TestLoadtestSpawnInterrupted: Ctrl-C in the middle of a run stops the
// spawned nodes and removes their data dirs; the report says the run was
// interrupted and the exit status is not 0 (nothing was proven).
func TestLoadtestSpawnInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and spawns a cluster")
	}
	bin := buildBinary(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "loadtest", "--spawn", "3", "--duration", "60s", "--concurrency", "2",
		"--progress=false", "--temp-dir", tmp)
	var out nodetest.SyncBuffer
	var errb nodetest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, "the load to start", func() error {
		if !strings.Contains(errb.String(), "loadtest: create: closed loop") {
			return fmt.Errorf("stderr so far: %s", errb.String())
		}
		return nil
	})
	time.Sleep(time.Second)
	pids := nodePIDs(t, tmp)
	if len(pids) != 3 {
		t.Fatalf("%d node processes running under %s, want 3", len(pids), tmp)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("exit 0 after Ctrl-C; report:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "run stopped early: interrupted") {
		t.Errorf("report does not say it was interrupted:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	if left := nodePIDs(t, tmp); len(left) > 0 {
		t.Errorf("node processes still running after Ctrl-C: %v", left)
	}
	if left, _ := exec.Command("find", tmp, "-mindepth", "1").Output(); len(left) > 0 {
		t.Errorf("left behind:\n%s", left)
	}
}

// nodePIDs lists the running processes whose command line mentions dir.
func nodePIDs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) || !strings.Contains(string(b), "serve") {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
			continue // a zombie is not running
		}
		pids = append(pids, e.Name())
	}
	return pids
}
