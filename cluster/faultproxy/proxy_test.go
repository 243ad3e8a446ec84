package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"
)

// echoServer answers every line with the same line; it counts accepted
// connections.
type echoServer struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted int
}

func newEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.accepted++
			e.mu.Unlock()
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return e
}

func (e *echoServer) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepted
}

func mustProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and waits (at most 5s, as a bound, not a
// measurement) for its echo.
func roundTrip(c net.Conn, line string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echo: got " + got)
	}
	return nil
}

// silent reports whether nothing comes back on c within a short wait: a
// negative check, which timing can only make pass.
func silent(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestModes(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, p *Proxy, echo *echoServer)
	}{
		{"pass forwards both ways", func(t *testing.T, p *Proxy, _ *echoServer) {
			c := dialFrom(t, "", p.Addr())
			for _, l := range []string{"a", "bb", "ccc"} {
				if err := roundTrip(c, l); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"refuse resets existing and new connections", func(t *testing.T, p *Proxy, _ *echoServer) {
			c := dialFrom(t, "", p.Addr())
			if err := roundTrip(c, "before"); err != nil {
				t.Fatal(err)
			}
			p.Set(Refuse)
			if err := roundTrip(c, "after"); err == nil {
				t.Fatal("an existing connection still works after Refuse")
			}
			c2 := dialFrom(t, "", p.Addr())
			if err := roundTrip(c2, "new"); err == nil {
				t.Fatal("a new connection works under Refuse")
			}
			p.Set(Pass)
			if err := roundTrip(dialFrom(t, "", p.Addr()), "healed"); err != nil {
				t.Fatal(err)
			}
		}},
		{"blackhole holds, then delivers when lifted", func(t *testing.T, p *Proxy, echo *echoServer) {
			c := dialFrom(t, "", p.Addr())
			if err := roundTrip(c, "before"); err != nil {
				t.Fatal(err)
			}
			p.Set(Blackhole)
			if _, err := io.WriteString(c, "held\n"); err != nil {
				t.Fatal(err)
			}
			if !silent(c) {
				t.Fatal("bytes crossed a blackhole")
			}
			c2 := dialFrom(t, "", p.Addr()) // accepted, not dialled through
			if _, err := io.WriteString(c2, "new\n"); err != nil {
				t.Fatal(err)
			}
			if !silent(c2) || echo.count() != 1 {
				t.Fatalf("held connection reached the target (%d accepted)", echo.count())
			}
			p.Set(Pass)
			for _, pc := range []struct {
				c    net.Conn
				line string
			}{{c, "held\n"}, {c2, "new\n"}} {
				_ = pc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := bufio.NewReader(pc.c).ReadString('\n')
				if err != nil || got != pc.line {
					t.Fatalf("after heal: %q, %v; want %q", got, err, pc.line)
				}
			}
		}},
		{"close ends every connection", func(t *testing.T, p *Proxy, _ *echoServer) {
			c := dialFrom(t, "", p.Addr())
			if err := roundTrip(c, "x"); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if err := roundTrip(c, "y"); err == nil {
				t.Fatal("connection survived Close")
			}
			if p.Conns() != 0 {
				t.Fatalf("%d connections after Close", p.Conns())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			echo := newEcho(t)
			tc.run(t, mustProxy(t, echo.ln.Addr().String()), echo)
		})
	}
}

// TestDelay: a delayed chunk waits for the delay's timer (a fake one here)
// and no longer once it fires.
func TestDelay(t *testing.T) {
	echo := newEcho(t)
	p := mustProxy(t, echo.ln.Addr().String())
	waits := make(chan time.Duration, 4)
	fire := make(chan time.Time)
	p.mu.Lock()
	p.after = func(d time.Duration) <-chan time.Time { waits <- d; return fire }
	p.mu.Unlock()
	c := dialFrom(t, "", p.Addr())
	if err := roundTrip(c, "warm"); err != nil {
		t.Fatal(err)
	}
	const d = time.Hour
	p.Set(Delay(d))
	if _, err := io.WriteString(c, "late\n"); err != nil {
		t.Fatal(err)
	}
	if w := <-waits; w <= 0 || w > d {
		t.Fatalf("waited %v for a %v delay", w, d)
	}
	if !silent(c) {
		t.Fatal("a delayed chunk arrived before its timer")
	}
	fire <- time.Time{} // client -> server
	if w := <-waits; w <= 0 || w > d {
		t.Fatalf("reply waited %v", w)
	}
	fire <- time.Time{} // server -> client
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "late\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if f := p.Fault(""); f != Delay(d) || f.String() != "delay 1h0m0s" {
		t.Fatalf("fault %v", f)
	}
}

// TestNetworkBySourceIP: members dialling from their own loopback address
// are told apart; Isolate cuts one off both ways, Cut one way, Heal lifts
// both.
func TestNetworkBySourceIP(t *testing.T) {
	ips := map[string]string{"a": LoopbackIP(21), "b": LoopbackIP(22), "c": LoopbackIP(23)}
	if ips["a"] == "127.0.0.1" || ips["b"] == "127.0.0.1" {
		t.Skip("this machine has no 127.0.0.N aliases")
	}
	n := NewNetwork()
	t.Cleanup(func() { n.Close() })
	for _, name := range []string{"a", "b", "c"} {
		n.Add(name, mustProxy(t, newEcho(t).ln.Addr().String()), Source{IP: ips[name]})
	}
	type link struct{ from, to string }
	// check opens a connection over every link: a cut one must stay
	// silent, any other must echo (bounded wait, not a measurement).
	check := func(step string, cut ...link) {
		t.Helper()
		want := map[link]bool{}
		for _, l := range cut {
			want[l] = true
		}
		for _, from := range n.Names() {
			for _, to := range n.Names() {
				if from == to {
					continue
				}
				c := dialFrom(t, ips[from], n.Proxy(to).Addr())
				if want[link{from, to}] {
					if _, err := io.WriteString(c, "ping\n"); err != nil {
						t.Fatal(err)
					}
					if !silent(c) {
						t.Errorf("%s: %s -> %s crossed the cut", step, from, to)
					}
					continue
				}
				if err := roundTrip(c, "ping"); err != nil {
					t.Errorf("%s: %s -> %s: %v", step, from, to, err)
				}
			}
		}
	}
	check("all pass")
	if err := n.Isolate("a"); err != nil {
		t.Fatal(err)
	}
	check("a isolated", link{"a", "b"}, link{"a", "c"}, link{"b", "a"}, link{"c", "a"})
	n.Heal()
	if err := n.Cut("b", "c"); err != nil {
		t.Fatal(err)
	}
	check("b cannot reach c", link{"b", "c"})
	n.Heal()
	check("healed")
	if err := n.Isolate("nobody"); err == nil {
		t.Fatal("isolated a non-member")
	}
	for _, name := range n.Names() {
		for src, k := range n.Proxy(name).Sources() {
			if src == "" || src == name {
				t.Errorf("proxy %s: %d connections from %q", name, k, src)
			}
		}
	}
}

// TestIdentifyByProcess: on Linux a connection is traced to the process
// that holds its socket.
func TestIdentifyByProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Skip("cannot start another process:", err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	n := NewNetwork()
	t.Cleanup(func() { n.Close() })
	p := mustProxy(t, newEcho(t).ln.Addr().String())
	n.Add("us", p, Source{IP: "127.0.0.1", PID: os.Getpid})
	n.Add("other", mustProxy(t, newEcho(t).ln.Addr().String()), Source{IP: "127.0.0.1", PID: func() int { return sleeper.Process.Pid }})
	c := dialFrom(t, "127.0.0.1", p.Addr())
	if err := roundTrip(c, "who"); err != nil {
		t.Fatal(err)
	}
	if got := p.Sources(); got["us"] != 1 || len(got) != 1 {
		t.Fatalf("sources %v, want us:1", got)
	}
	// Refusing "us" resets our connection; "other" would not be.
	p.SetFrom("other", Refuse)
	if err := roundTrip(c, "still"); err != nil {
		t.Fatal(err)
	}
	p.SetFrom("us", Refuse)
	if err := roundTrip(c, "gone"); err == nil {
		t.Fatal("connection from a refused source still works")
	}
}
