package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestFloodedNodeStaysUp: a `frontdoor serve` process started with its
// soft and hard open-file limits lowered to 512 (ulimit -n before exec)
// is sent more idle connections than that limit from one address and
// twice an API key's share of event streams; it stays up, refuses the
// extra streams with 429, and answers a legitimate client from another
// address (a node used to exit when accept failed with "too many open
// files").
func TestFloodedNodeStaysUp(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	httpAddr, raftAddr := nodetest.FreeAddr(t), nodetest.FreeAddr(t)
	logPath := filepath.Join(dir, "node.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	const fileLimit = 512
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, fileLimit), bin,
		"serve", "--data-dir", filepath.Join(dir, "data"), "--http-addr", httpAddr, "--raft-addr", raftAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + httpAddr
	var key string
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if key, err = node.ReadKeyFile(filepath.Join(dir, "data", node.AdminKeyFile)); err == nil {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("node not ready: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// More idle connections than the process may open files, from
	// 127.0.0.2 (loopback answers on the whole 127/8).
	flooder := net.Dialer{Timeout: 200 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range fileLimit + 300 {
		c, err := flooder.Dial("tcp", httpAddr)
		if err != nil {
			continue // the backlog is full: that is the flood working
		}
		idle = append(idle, c)
	}

	// Twice the per-key share of event streams.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codes := map[int]int{}
	var bodies []io.Closer
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	stream := &http.Client{} // no timeout: streams stay open
	for range 16 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/queue/stream", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := stream.Do(req)
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		codes[resp.StatusCode]++
		bodies = append(bodies, resp.Body)
	}
	if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("16 streams on one key: %v (want some 200 and the rest 429)", codes)
	}

	// A legitimate client still gets its arrival recorded.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/attendances", strings.NewReader(`{"complaint":"cut finger"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("legitimate client during the flood: %v\n%s", err, b)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("legitimate arrival during the flood: %d %s", resp.StatusCode, b)
	}
	select {
	case err := <-done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("the node exited during the flood: %v\n%s", err, b)
	default:
	}
	t.Logf("%d idle connections held open from 127.0.0.2; streams %v; the node answered 201", len(idle), codes)
}
