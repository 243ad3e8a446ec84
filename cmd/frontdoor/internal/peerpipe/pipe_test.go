package peerpipe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serving starts Serve on one end of an in-memory connection for each dial
// and returns the client and the served connections' count.
func serving(t *testing.T, handler fasthttp.RequestHandler) (*Client, *atomic.Int32) {
	t.Helper()
	var served atomic.Int32
	var wg sync.WaitGroup
	c := &Client{Dial: func(string) (net.Conn, error) {
		a, b := net.Pipe()
		served.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = (&Server{Handler: handler}).ServeConn(b)
		}()
		return a, nil
	}}
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
	return c, &served
}

func post(body string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.SetRequestURI("http://leader:8080/v1/cluster/forward")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetBodyString(body)
	return req
}

// Requests in flight together on one pipe each get their own answer,
// though the answers come back in another order than the requests went.
func TestConcurrentRequestsGetTheirOwnAnswers(t *testing.T) {
	c, served := serving(t, func(ctx *fasthttp.RequestCtx) {
		n, _ := strconv.Atoi(string(ctx.PostBody()))
		time.Sleep(time.Duration(n%7) * time.Millisecond) // finish out of order
		ctx.SetStatusCode(201)
		ctx.Response.Header.Set("X-Seen", string(ctx.Path()))
		fmt.Fprintf(ctx, "answer to %d", n)
	})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := post(strconv.Itoa(i))
			defer fasthttp.ReleaseRequest(req)
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			if err := c.Do("leader", req, resp, 10*time.Second); err != nil {
				errs <- err
				return
			}
			want := fmt.Sprintf("answer to %d", i)
			if resp.StatusCode() != 201 || string(resp.Body()) != want || string(resp.Header.Peek("X-Seen")) != "/v1/cluster/forward" {
				errs <- fmt.Errorf("request %d: got %d %q (X-Seen %q), want 201 %q", i, resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Seen"), want)
			}
			if len(resp.Header.Peek(HeaderID)) != 0 {
				errs <- fmt.Errorf("request %d: the pipe's request number reached the caller", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := served.Load(); got != 1 {
		t.Errorf("%d connections dialled, want 1 pipe for every request", got)
	}
}

// The handler sees the connection the pipe came over (frontdoor checks
// it is a member's).
func TestHandlerSeesThePipesConnection(t *testing.T) {
	a, b := net.Pipe()
	seen := make(chan net.Conn, 1)
	go func() {
		_ = (&Server{Handler: func(ctx *fasthttp.RequestCtx) { seen <- ctx.Conn() }}).ServeConn(b)
	}()
	c := &Client{Dial: func(string) (net.Conn, error) { return a, nil }}
	defer c.Close()
	req := post("x")
	resp := fasthttp.AcquireResponse()
	if err := c.Do("leader", req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != b {
		t.Errorf("handler saw connection %v, want the served one", got)
	}
}

// A member that does not serve pipes closes the connection without a
// hello: the caller learns it before anything is sent.
func TestUnsupportedMemberGetsNothing(t *testing.T) {
	a, b := net.Pipe()
	got := make(chan int, 1)
	go func() {
		// An older release reads the channel byte (here nothing) and
		// closes; count what reached it.
		_ = b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _ := io.Copy(io.Discard, b)
		b.Close()
		got <- int(n)
	}()
	go func() {
		time.Sleep(50 * time.Millisecond)
		b.Close()
	}()
	c := &Client{Dial: func(string) (net.Conn, error) { return a, nil }}
	defer c.Close()
	err := c.Do("old", post("create"), fasthttp.AcquireResponse(), 5*time.Second)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Do = %v, want ErrUnsupported", err)
	}
	if n := <-got; n != 0 {
		t.Errorf("%d bytes reached the member that does not serve pipes, want none", n)
	}
}

// A connection that breaks while requests wait for their answers fails
// each of them with ErrConnLost (their outcome unknown), and the next
// request dials a new pipe.
func TestBrokenPipeFailsWaitingRequestsAndRedials(t *testing.T) {
	block := make(chan struct{})
	var conns []net.Conn
	var mu sync.Mutex
	arrived := make(chan struct{}, 10)
	var wg sync.WaitGroup
	c := &Client{Dial: func(string) (net.Conn, error) {
		a, b := net.Pipe()
		mu.Lock()
		conns = append(conns, b)
		first := len(conns) == 1
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = (&Server{Handler: func(ctx *fasthttp.RequestCtx) {
				if first {
					arrived <- struct{}{}
					<-block
				}
				ctx.SetBodyString("ok")
			}}).ServeConn(b)
		}()
		return a, nil
	}}
	defer func() {
		close(block)
		c.Close()
		wg.Wait()
	}()
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- c.Do("leader", post("x"), fasthttp.AcquireResponse(), 10*time.Second) }()
	}
	for range 3 {
		<-arrived
	}
	mu.Lock()
	conns[0].Close() // the leader's end breaks
	mu.Unlock()
	for range 3 {
		if err := <-errs; !errors.Is(err, ErrConnLost) {
			t.Errorf("Do = %v, want ErrConnLost", err)
		}
	}
	resp := fasthttp.AcquireResponse()
	if err := c.Do("leader", post("y"), resp, 5*time.Second); err != nil || string(resp.Body()) != "ok" {
		t.Fatalf("after the break: Do = %v, body %q; want a new pipe's answer", err, resp.Body())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 2 {
		t.Errorf("%d dials, want 2", len(conns))
	}
}

// A request whose answer does not come in time fails with a time-out; the
// late answer is dropped and the pipe goes on serving others.
func TestTimeoutLeavesThePipeWorking(t *testing.T) {
	release := make(chan struct{})
	c, served := serving(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.PostBody()) == "slow" {
			<-release
		}
		ctx.SetBody(ctx.PostBody())
	})
	err := c.Do("leader", post("slow"), fasthttp.AcquireResponse(), 50*time.Millisecond)
	if !IsTimeout(err) {
		t.Fatalf("Do = %v, want a time-out", err)
	}
	close(release)
	for i := range 3 {
		resp := fasthttp.AcquireResponse()
		if err := c.Do("leader", post("fast"), resp, 5*time.Second); err != nil || string(resp.Body()) != "fast" {
			t.Fatalf("request %d after the time-out: %v %q", i, err, resp.Body())
		}
	}
	if served.Load() != 1 {
		t.Errorf("%d pipes, want the one", served.Load())
	}
}

// countingConn counts the writes made to it.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// Messages whose writers wait for each other leave in one write: the
// last writer flushes for all (the point of the pipe), and each message
// arrives whole.
func TestWaitingMessagesLeaveInOneWrite(t *testing.T) {
	const n = 50
	a, b := net.Pipe()
	cc := &countingConn{Conn: a}
	w := newCombiner(cc)
	read := make(chan []string)
	go func() {
		br := bufio.NewReader(b)
		var got []string
		for range n {
			var r fasthttp.Request
			if err := r.Read(br); err != nil {
				break
			}
			got = append(got, string(r.Body()))
		}
		read <- got
	}()
	w.mu.Lock() // a write in progress: the others queue behind it
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := post(strconv.Itoa(i))
			if err := w.write(req.Write); err != nil {
				t.Error(err)
			}
		}()
	}
	for w.waiting.Load() != n {
		time.Sleep(time.Millisecond)
	}
	w.mu.Unlock()
	wg.Wait()
	got := <-read
	if len(got) != n {
		t.Fatalf("read %d whole requests, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, body := range got {
		seen[body] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct requests arrived, want %d", len(seen), n)
	}
	if wr := cc.writes.Load(); wr != 1 {
		t.Errorf("%d writes for %d messages ready together, want 1", wr, n)
	}
	// A writer alone flushes at once.
	go func() {
		var r fasthttp.Request
		_ = r.Read(bufio.NewReader(b))
	}()
	if err := w.write(post("alone").Write); err != nil {
		t.Fatal(err)
	}
	if wr := cc.writes.Load(); wr != 2 {
		t.Errorf("%d writes after a lone message, want 2", wr)
	}
}

// Shutdown lets a request being handled finish and answer, then closes
// the pipe; no new pipe is accepted.
func TestShutdownLetsRequestsInFlightAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inHandler, release := make(chan struct{}), make(chan struct{})
	srv := &Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.PostBody()) == "slow" {
			close(inHandler)
			<-release
		}
		ctx.SetBody(ctx.PostBody())
	}}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := &Client{Dial: func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }}
	defer c.Close()
	addr := ln.Addr().String()
	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp := fasthttp.AcquireResponse()
		err := c.Do(addr, post("slow"), resp, 10*time.Second)
		slow <- result{string(resp.Body()), err}
	}()
	<-inHandler
	stopped := make(chan struct{})
	go func() {
		srv.Shutdown(10 * time.Second)
		close(stopped)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown waits for the handler
	select {
	case <-stopped:
		t.Fatal("Shutdown returned while a request was being handled")
	default:
	}
	close(release)
	if r := <-slow; r.err != nil || r.body != "slow" {
		t.Fatalf("request in flight at shutdown: %v %q, want its answer", r.err, r.body)
	}
	<-stopped
	if err := <-served; err != nil {
		t.Errorf("Serve = %v after Shutdown, want nil", err)
	}
	if err := c.Do(addr, post("late"), fasthttp.AcquireResponse(), 2*time.Second); err == nil {
		t.Error("a request after shutdown was answered")
	}
}

// A member that does not say hello (starting, not serving pipes yet)
// holds up only the requests for it: they fail as not sent once the
// hello is overdue, sharing one dial, while requests to another member go
// on.
func TestSilentMemberHoldsUpOnlyItsOwnRequests(t *testing.T) {
	var silentDials atomic.Int32
	var wg sync.WaitGroup
	var silentEnds []net.Conn
	var mu sync.Mutex
	c := &Client{HelloTimeout: time.Second, Dial: func(addr string) (net.Conn, error) {
		a, b := net.Pipe()
		if addr == "silent" {
			silentDials.Add(1)
			mu.Lock()
			silentEnds = append(silentEnds, b) // never says hello
			mu.Unlock()
			return a, nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = (&Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}).ServeConn(b)
		}()
		return a, nil
	}}
	defer func() {
		c.Close()
		mu.Lock()
		for _, b := range silentEnds {
			b.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	silent := make(chan error, 3)
	for range 3 {
		go func() { silent <- c.Do("silent", post("x"), fasthttp.AcquireResponse(), 10*time.Second) }()
	}
	for silentDials.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	resp := fasthttp.AcquireResponse()
	if err := c.Do("live", post("y"), resp, 5*time.Second); err != nil || string(resp.Body()) != "ok" {
		t.Fatalf("request to a live member while another is silent: %v %q", err, resp.Body())
	}
	select {
	case err := <-silent:
		t.Fatalf("a request to the silent member ended (%v) before the live member's answer came", err)
	default:
	}
	for range 3 {
		err := <-silent
		if err == nil || !strings.Contains(err.Error(), "dial") {
			t.Errorf("request to the silent member: %v, want a dial error (not sent)", err)
		}
	}
	if n := silentDials.Load(); n != 1 {
		t.Errorf("%d dials to the silent member for 3 requests at once, want 1", n)
	}
}
