package netguard

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestRaiseFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	if lim.Max > 256 {
		// Lower the soft limit first, so there is something to raise; the
		// raise puts it back where the Go runtime left it (the hard limit).
		low := lim
		low.Cur = 256
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
			t.Skip(err)
		}
	}
	old, now, err := RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	var after syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after); err != nil {
		t.Fatal(err)
	}
	if now != lim.Max || after.Cur != lim.Max || old > now {
		t.Fatalf("RaiseFileLimit = %d -> %d, soft limit now %d; want the hard limit %d", old, now, after.Cur, lim.Max)
	}
	if lim.Max > 256 && old != 256 {
		t.Fatalf("old soft limit %d, want 256", old)
	}
}

// The flood test runs a server in a child process (this test binary again,
// running TestFloodChild) whose file limit is childFileLimit.
const (
	childEnv       = "NETGUARD_FLOOD_CHILD" // the child's Limit cap, or "bare" for no Limit
	childFileLimit = 64
	floodConns     = 150 // well over childFileLimit
)

// TestFloodChild is the child's side of TestFloodOfConnections: a fasthttp
// server (as fiber runs) on loopback with 64 file descriptors, its
// listener wrapped by Limit unless told "bare". It prints its address and
// serves until killed; if Serve returns, it exits 3.
func TestFloodChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run by TestFloodOfConnections in a child process")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = childFileLimit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveLn := ln
	if mode != "bare" {
		n, err := strconv.Atoi(mode)
		if err != nil {
			t.Fatal(err)
		}
		serveLn = Limit(ln, n, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	}
	srv := &fasthttp.Server{
		Handler:     func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("served") },
		ReadTimeout: 250 * time.Millisecond, // idle connections are dropped soon
		IdleTimeout: 250 * time.Millisecond,
	}
	fmt.Printf("listening %s\n", ln.Addr())
	err = srv.Serve(serveLn)
	fmt.Fprintf(os.Stderr, "serve ended: %v\n", err)
	os.Exit(3)
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFloodOfConnections: a server with 64 file descriptors gets 150 idle
// connections it cannot all hold. Behind Limit it stays up, whether the
// cap keeps it under the file limit or the file limit is hit first
// (EMFILE, waited out), and a client that comes after the flood is
// served. Without Limit the same flood stops the server: the control,
// showing the flood does hit the limit.
func TestFloodOfConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tests := []struct {
		name    string
		mode    string // the child's Limit cap, or "bare"
		survive bool
		log     string // in the child's stderr
	}{
		{"cap under the file limit", "16", true, ""},
		{"cap over the file limit: EMFILE waited out", "1000", true, "too many open files"},
		{"no Limit: the server stops (control)", "bare", false, "too many open files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, exited, stderr := startChild(t, tt.mode)
			flood := make([]net.Conn, 0, floodConns)
			defer func() {
				for _, c := range flood {
					c.Close()
				}
			}()
			for range floodConns {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					break // the backlog is full: flood enough
				}
				flood = append(flood, c)
			}
			if len(flood) <= childFileLimit {
				// Fewer than the file limit can only be a server that
				// stopped mid-flood (its listener gone): the control's
				// expected end, anything else's failure.
				stopped := false
				select {
				case <-exited:
					stopped = true
				case <-time.After(5 * time.Second):
				}
				if tt.survive || !stopped {
					t.Fatalf("only %d flood connections opened (server stopped: %v)\n%s", len(flood), stopped, stderr)
				}
			}

			if !tt.survive {
				select {
				case <-exited:
				case <-time.After(20 * time.Second):
					t.Fatalf("the server without Limit survived the flood: the test does not reach the file limit\n%s", stderr)
				}
			} else {
				// A legitimate client, queued behind the flood, is served
				// once the server has dropped the idle connections.
				client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					t.Fatalf("client after the flood: %v\nchild stderr:\n%s", err, stderr)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != "served" {
					t.Fatalf("client after the flood: %d %q", resp.StatusCode, body)
				}
				select {
				case <-exited:
					t.Fatalf("child exited\n%s", stderr)
				default:
				}
			}
			if !strings.Contains(stderr.String(), tt.log) {
				t.Fatalf("child's log lacks %q:\n%s", tt.log, stderr)
			}
		})
	}
}

// startChild runs TestFloodChild in a child process and returns its
// address, a channel closed when it has exited, and its stderr. The child
// is killed at the end of the test.
func startChild(t *testing.T, mode string) (string, <-chan struct{}, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addrc <- a
			}
		}
		err := cmd.Wait()
		fmt.Fprintf(stderr, "child exit: %v\n", err)
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	select {
	case a := <-addrc:
		return a, exited, stderr
	case <-exited:
		t.Fatalf("child exited before listening\n%s", stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("child did not listen\n%s", stderr)
	}
	return "", nil, nil
}
