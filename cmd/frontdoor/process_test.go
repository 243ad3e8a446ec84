package main

// Process-level tests: the real binary, three `serve` processes on loopback
// ports with temp data dirs, production raft timings, kill -9.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// What the process tests read of the HTTP API, as any client sees it (the
// api package's tests use its own names for the same things).
const (
	headerIdempotencyKey = "Idempotency-Key"
	problemNotAccepted   = "/problems/not-accepted"    // nothing was accepted: safe to retry
	problemOutcomeUnkown = "/problems/outcome-unknown" // may have committed: retry with the same Idempotency-Key
)

// created is what the API answers to POST /v1/attendances.
type created struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	ArrivedAt string `json:"arrived_at"`
	Index     uint64 `json:"index"`
	Patient   struct {
		NHSNumber string `json:"nhs_number"`
	} `json:"patient"`
}

// problemBody is an RFC 9457 body as clients see it.
type problemBody struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

// buildBinary builds cmd/frontdoor into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "frontdoor")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one `frontdoor serve` process.
type proc struct {
	id, dir, httpAddr, raftAddr string
	args, env                   []string
	log                         string
	cmd                         *exec.Cmd
	done                        chan error
}

type procCluster struct {
	bin      string
	procs    []*proc
	client   *http.Client
	adminKey string // the bootstrap admin key from p1's data dir, sent on every request
}

func (pc *procCluster) start(t *testing.T, p *proc) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(pc.bin, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan error, 1)
	cmd, done := p.cmd, p.done
	go func() { done <- cmd.Wait(); logf.Close() }()
}

// kill is kill -9.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// term sends SIGTERM and requires exit code 0.
func (p *proc) term(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.cmd = nil
		if err != nil {
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s: exit after SIGTERM: %v\n%s", p.id, err, b)
		}
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.cmd = nil
		t.Fatalf("%s did not exit within 60s of SIGTERM", p.id)
	}
}

func (pc *procCluster) get(p *proc, path string, v any) (int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.httpAddr+path, nil)
	if err != nil {
		return 0, err
	}
	pc.authorize(req)
	resp, err := pc.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%w: %s", err, b)
		}
	}
	return resp.StatusCode, nil
}

func (pc *procCluster) dumpLogs(t *testing.T) {
	if !t.Failed() {
		return
	}
	for _, p := range pc.procs {
		b, _ := os.ReadFile(p.log)
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		t.Logf("---- %s log (tail) ----\n%s", p.id, b)
	}
}

// leader asks the running nodes who leads and returns that process.
func (pc *procCluster) leader(t *testing.T) *proc {
	t.Helper()
	var lead *proc
	nodetest.Eventually(t, "a leader", func() error {
		for _, p := range pc.procs {
			if p.cmd == nil {
				continue
			}
			var v api.ClusterView
			if code, err := pc.get(p, "/v1/cluster", &v); err != nil || code != 200 {
				continue
			}
			for _, q := range pc.procs {
				if q.id == v.Leader && q.cmd != nil {
					lead = q
					return nil
				}
			}
		}
		return fmt.Errorf("no running leader")
	})
	return lead
}

func (pc *procCluster) waitReady(t *testing.T, p *proc) {
	t.Helper()
	nodetest.Eventually(t, p.id+" ready", func() error {
		code, err := pc.get(p, "/readyz", nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("readyz %d %v", code, err)
		}
		return nil
	})
}

// post sends one attendance with an idempotency key.
func (pc *procCluster) post(p *proc, key, body string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.httpAddr+"/v1/attendances", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerIdempotencyKey, key)
	pc.authorize(req)
	resp, err := pc.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// authorize adds the admin key (once bootstrap has written it).
func (pc *procCluster) authorize(req *http.Request) {
	if pc.adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+pc.adminKey)
	}
}

func newProcCluster(t *testing.T, n int) *procCluster {
	t.Helper()
	pc := &procCluster{bin: buildBinary(t), client: &http.Client{Timeout: 15 * time.Second}}
	t.Cleanup(func() {
		pc.dumpLogs(t)
		for _, p := range pc.procs {
			if p.cmd != nil {
				_ = p.cmd.Process.Kill()
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
					t.Errorf("%s: no exit 10s after kill -9", p.id)
				}
			}
		}
	})
	base := t.TempDir()
	for i := range n {
		p := &proc{id: fmt.Sprintf("p%d", i+1), dir: filepath.Join(base, fmt.Sprintf("p%d", i+1)),
			httpAddr: nodetest.FreeAddr(t), raftAddr: nodetest.FreeAddr(t), log: filepath.Join(base, fmt.Sprintf("p%d.log", i+1))}
		p.args = []string{"serve", "--node-id", p.id, "--data-dir", p.dir, "--http-addr", p.httpAddr,
			"--raft-addr", p.raftAddr, "--shutdown-timeout", "5s", "--log-level", "warn"}
		pc.procs = append(pc.procs, p)
	}
	pc.start(t, pc.procs[0])
	pc.waitReady(t, pc.procs[0])
	// /readyz can turn 200 before Bootstrap has finished writing the token
	// file: wait for the whole token.
	var tok []byte
	nodetest.Eventually(t, "join token written", func() error {
		var err error
		tok, err = os.ReadFile(filepath.Join(pc.procs[0].dir, node.JoinTokenFile))
		if err == nil && len(strings.TrimSpace(string(tok))) == 0 {
			err = fmt.Errorf("join token file empty")
		}
		return err
	})
	nodetest.Eventually(t, "admin key written", func() error {
		k, err := node.ReadKeyFile(filepath.Join(pc.procs[0].dir, node.AdminKeyFile))
		pc.adminKey = k
		return err
	})
	for _, p := range pc.procs[1:] {
		// The seed and the token's file come from the environment, as a
		// systemd unit would pass them (flags and env are interchangeable).
		p.env = []string{"FRONTDOOR_JOIN=" + pc.procs[0].httpAddr,
			"FRONTDOOR_JOIN_TOKEN_FILE=" + filepath.Join(pc.procs[0].dir, node.JoinTokenFile)}
		pc.start(t, p)
	}
	nodetest.Eventually(t, "all voters", func() error {
		var v api.ClusterView
		if code, err := pc.get(pc.procs[0], "/v1/cluster", &v); err != nil || code != 200 {
			return fmt.Errorf("cluster %d %v", code, err)
		}
		voters := 0
		for _, n := range v.Nodes {
			if n.Suffrage == "voter" {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d voters", voters)
		}
		return nil
	})
	for _, p := range pc.procs {
		pc.waitReady(t, p)
	}
	return pc
}

// TestProcessClusterKillLeaderLosesNoAcknowledgedWrite kills -9 the leader
// while writing and restarts it (every acknowledged write is on every
// node); then a POST whose leader dies before the response, retried with
// the same key elsewhere, makes one attendance; then with two of three
// stopped a write is 503 with Retry-After and /readyz 503; and finally
// SIGTERM exits 0.
func TestProcessClusterKillLeaderLosesNoAcknowledgedWrite(t *testing.T) {
	pc := newProcCluster(t, 3)

	// Writers: each logical write keeps its Idempotency-Key across retries
	// (on any node), so a write whose outcome was unknown is not doubled.
	const writers, perWriter = 4, 40
	var (
		mu    sync.Mutex
		acked = map[string]string{} // key -> attendance id
		count atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"complaint":"writer %d write %d"}`, w, i)
				for attempt := 0; ctx.Err() == nil; attempt++ {
					p := pc.procs[(w+i+attempt)%len(pc.procs)]
					code, b, err := pc.post(p, key, body)
					if err == nil && code == http.StatusCreated {
						var c created
						if err := json.Unmarshal(b, &c); err != nil {
							t.Errorf("%s: %v", key, err)
							return
						}
						mu.Lock()
						acked[key] = c.ID
						mu.Unlock()
						count.Add(1)
						break
					}
					if err == nil && code != http.StatusServiceUnavailable {
						t.Errorf("%s on %s: %d %s", key, p.id, code, b)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	// Kill the leader mid-writes, then restart it from its data dir.
	nodetest.Eventually(t, "some writes acknowledged", func() error {
		if count.Load() < writers*perWriter/4 {
			return fmt.Errorf("%d acknowledged", count.Load())
		}
		return nil
	})
	victim := pc.leader(t)
	victim.kill(t)
	t.Logf("kill -9 leader %s after %d acknowledged writes", victim.id, count.Load())
	nodetest.Eventually(t, "writes continue after the kill", func() error {
		if count.Load() < writers*perWriter/2 {
			return fmt.Errorf("%d acknowledged", count.Load())
		}
		return nil
	})
	t.Logf("restarting %s after %d acknowledged writes", victim.id, count.Load())
	pc.start(t, victim)
	wg.Wait()
	if ctx.Err() != nil || t.Failed() {
		t.Fatalf("writers did not finish: %d of %d acknowledged", count.Load(), writers*perWriter)
	}
	// Every acknowledged write is on every node, the restarted one included.
	for _, p := range pc.procs {
		pc.waitReady(t, p)
		nodetest.Eventually(t, p.id+" has every acknowledged write", func() error {
			var list struct {
				Attendances []created `json:"attendances"`
			}
			if code, err := pc.get(p, "/v1/attendances?consistency=stale", &list); err != nil || code != 200 {
				return fmt.Errorf("list %d %v", code, err)
			}
			have := map[string]bool{}
			for _, a := range list.Attendances {
				have[a.ID] = true
			}
			if len(list.Attendances) != len(acked) {
				return fmt.Errorf("%d attendances, %d acknowledged (a retried key made two?)", len(list.Attendances), len(acked))
			}
			for key, id := range acked {
				if !have[id] {
					return fmt.Errorf("acknowledged %s (%s) missing", key, id)
				}
			}
			return nil
		})
	}

	// The binary exports raft's own metrics (through the go-metrics sink
	// cluster.InstallRaftMetrics installs) next to the HTTP histograms.
	metrics, err := pc.client.Get("http://" + pc.leader(t).httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	for _, want := range []string{"raft_commitTime", `frontdoor_http_request_duration_seconds_count{code="201",method="POST",route="/v1/attendances"}`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("/metrics of the leader lacks %s", want)
		}
	}

	// The leader dies before it can answer; the client
	// retries with the same key on another node.
	lead := pc.leader(t)
	const key7, body7 = "failover-key", `{"complaint":"idempotent across failover"}`
	var before api.NodeFigures
	if code, err := pc.get(lead, "/v1/cluster/self", &before); err != nil || code != 200 {
		t.Fatalf("leader figures: %d %v", code, err)
	}
	answered := make(chan int, 1)
	go func() {
		code, _, _ := pc.post(lead, key7, body7)
		answered <- code
	}()
	// Kill it as soon as the entry is in its log: most likely before the
	// response is written (and if the response won the race, the retry
	// below must still not make a second attendance).
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		var now api.NodeFigures
		if code, err := pc.get(lead, "/v1/cluster/self", &now); err == nil && code == 200 && now.LastIndex > before.LastIndex {
			break
		}
		time.Sleep(time.Millisecond)
	}
	lead.kill(t)
	t.Logf("the first POST got status %d (0: no response) before the leader died", <-answered)
	var other *proc
	for _, p := range pc.procs {
		if p.cmd != nil {
			other = p
			break
		}
	}
	nodetest.Eventually(t, "retry with the same key succeeds", func() error {
		code, b, err := pc.post(other, key7, body7)
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("%d %v %s", code, err, b)
		}
		return nil
	})
	pc.start(t, lead)
	pc.waitReady(t, lead)
	var list struct {
		Attendances []struct {
			Complaint string `json:"complaint"`
		} `json:"attendances"`
	}
	if code, err := pc.get(other, "/v1/attendances?consistency=linearizable", &list); err != nil || code != 200 {
		t.Fatalf("list: %d %v", code, err)
	}
	n7 := 0
	for _, a := range list.Attendances {
		if a.Complaint == "idempotent across failover" {
			n7++
		}
	}
	t.Logf("%d attendance(s) for the key retried after killing %s", n7, lead.id)
	if n7 != 1 {
		t.Fatalf("%d attendances for the retried request, want exactly 1", n7)
	}

	// Two of three stopped (cleanly: SIGTERM exits 0).
	survivor := pc.procs[2]
	pc.procs[0].term(t)
	pc.procs[1].term(t)
	pc.client.Timeout = 9 * time.Second // "well under 10 s", or the request fails
	code, b, err := pc.post(survivor, "after-quorum-loss", `{"complaint":"no quorum"}`)
	if err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("POST without quorum: %d %v %s", code, err, b)
	}
	var p problemBody
	nodetest.DecodeJSON(t, b, &p)
	t.Logf("without quorum: %d %s", code, b)
	if p.Type != problemNotAccepted && p.Type != problemOutcomeUnkown {
		t.Fatalf("problem type %q", p.Type)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+survivor.httpAddr+"/v1/attendances", strings.NewReader(`{"complaint":"x"}`))
	pc.authorize(req)
	resp, err := pc.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second POST without quorum: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Readiness follows once the survivor notices it has no leader (a
	// heartbeat timeout or so after the last contact).
	nodetest.Eventually(t, "survivor not ready", func() error {
		if code, err := pc.get(survivor, "/readyz", nil); err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz without quorum: %d %v", code, err)
		}
		return nil
	})
	survivor.term(t)
}
