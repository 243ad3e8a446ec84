// Package peerpipe carries many HTTP requests at once over one connection
// between two members, answered in any order, with their writes coalesced.
//
// A follower forwards every write it serves to the leader. Over HTTP/1.1 a
// connection carries one request at a time, so forwarding a burst took a
// connection per request in flight and a write and a read system call, and
// a wake-up of each process, per request and per answer. Over a pipe the
// requests (and the answers) that are ready together leave in one write:
// whoever writes last flushes, nobody waits for a flush (combiner), and
// the answers are read as they come, each tagged with its request's
// number (the X-Frontdoor-Pipe-Id header), so a burst of forwarded writes
// costs a few system calls, not a few per write. The messages are plain HTTP/1.1
// (fasthttp's encoding, Content-Length framed), and the serving side runs
// each request through the same fasthttp handler (the API's fiber app) as
// its node-to-node HTTP channel: what a request may do does not depend on
// the way it came.
//
// Why not a library: HTTP/2 would multiplex the same way, but fasthttp (and
// so fiber, which serves the API) does not serve it, and fasthttp's
// PipelineClient pipelines onto a server that answers one connection's
// requests one at a time, in order, which would hold every forwarded write
// behind the one before it while it waits for its raft commit.
//
// The connections are the caller's (the raft port's mutual-TLS channel in
// frontdoor). The serving side says it speaks the protocol by writing
// Hello first; a dialler that does not read it (a member of an older
// release closes the connection) gets ErrUnsupported and sends nothing, so
// the caller may fall back to HTTP without risking a request twice.
package peerpipe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Hello is the byte a serving member writes first on a pipe.
const Hello byte = '1'

// HeaderID tags a request and its answer with the request's number on its
// connection.
const HeaderID = "X-Frontdoor-Pipe-Id"

const (
	// MaxBodySize bounds a request or answer body: one over it ends the
	// pipe (the API's bound on a request body is 1 MiB, and a forwarded
	// proposal is about the size of the request it came from).
	MaxBodySize = 8 << 20
	// maxInFlightPerConn bounds the requests one connection has being
	// handled at once on the serving side; the reader waits beyond it.
	maxInFlightPerConn = 512
	bufSize            = 64 << 10
)

// ErrUnsupported is returned by Client.Do when the member at the address
// does not serve pipes: nothing was sent.
var ErrUnsupported = errors.New("peerpipe: the member does not serve pipes")

// ErrConnLost is returned by Client.Do when the connection broke after the
// request was written: whether the other side handled it is unknown.
var ErrConnLost = errors.New("peerpipe: the connection broke before the answer")

// errTimeout is returned by Client.Do when no answer came in time (after
// the request was written: it may have been handled).
var errTimeout = errors.New("peerpipe: no answer in time")

// IsTimeout reports whether err is Client.Do's time-out.
func IsTimeout(err error) bool { return errors.Is(err, errTimeout) }

// Server answers pipes with Handler.
type Server struct {
	// Handler answers each request (in a goroutine of its own).
	Handler fasthttp.RequestHandler

	mu       sync.Mutex
	lns      []net.Listener
	conns    map[net.Conn]struct{}
	stopping bool
	wg       sync.WaitGroup
}

// Serve serves the pipes accepted on ln until ln closes (Shutdown closes
// it).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if stopping || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("peerpipe: accept: %w", err)
		}
		go func() { _ = s.ServeConn(conn) }()
	}
}

// Shutdown stops accepting pipes and reading requests, lets the requests
// being handled finish and their answers go out for up to timeout, and
// then closes every pipe.
func (s *Server) Shutdown(timeout time.Duration) {
	s.mu.Lock()
	s.stopping = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now()) // the reader stops; answers still go out
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// ServeConn answers the requests on conn until conn fails or closes, or
// the server shuts down. It writes Hello first. Requests are handled
// concurrently (at most maxInFlightPerConn at once); answers are written
// as they finish, several per write when they finish together.
// conn is handed to each request's context (RequestCtx.Conn), so the
// handler sees the connection the pipe came over.
func (s *Server) ServeConn(conn net.Conn) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		conn.Close()
		return nil
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()
	if _, err := conn.Write([]byte{Hello}); err != nil {
		return fmt.Errorf("peerpipe: hello: %w", err)
	}
	sc := &servedConn{conn: conn, br: bufio.NewReaderSize(conn, bufSize), w: newCombiner(conn),
		sem: make(chan struct{}, maxInFlightPerConn), readEnded: make(chan error, 1)}
	go s.read(sc)
	err := <-sc.readEnded
	sc.handlers.Wait()
	var ne net.Error
	if isClosed(err) || (errors.As(err, &ne) && ne.Timeout()) {
		return sc.w.failed()
	}
	return fmt.Errorf("peerpipe: read request: %w", err)
}

// servedConn is a pipe being served.
type servedConn struct {
	conn      net.Conn
	br        *bufio.Reader
	w         *combiner
	sem       chan struct{} // requests being handled
	handlers  sync.WaitGroup
	readEnded chan error // the error that ended reading
}

// read reads one request from sc and handles it; before handling it, it
// starts the goroutine that reads the next. So a request is handled by
// the goroutine that read it, at once, not after a hand-over to another
// (at a few requests in flight the wake-up of a handler goroutine cost
// more than the pipe saved), and requests are still handled
// concurrently.
func (s *Server) read(sc *servedConn) {
	ctx := &fasthttp.RequestCtx{}
	ctx.Init2(sc.conn, nil, false)
	if err := ctx.Request.ReadLimitBody(sc.br, MaxBodySize); err != nil {
		sc.readEnded <- err
		return
	}
	sc.sem <- struct{}{} // at most maxInFlightPerConn: reading waits
	sc.handlers.Add(1)
	defer func() {
		<-sc.sem
		sc.handlers.Done()
	}()
	go s.read(sc)
	id := string(ctx.Request.Header.Peek(HeaderID))
	s.Handler(ctx)
	ctx.Response.Header.Set(HeaderID, id)
	if err := sc.w.write(ctx.Response.Write); err != nil {
		sc.conn.Close() // the reader ends
	}
}

// writeTimeout bounds one write to a pipe: a peer that takes no bytes for
// this long has its pipe broken.
const writeTimeout = 10 * time.Second

// combiner writes messages to a connection from many goroutines, each
// message whole, and flushes only when no other writer is waiting: the
// last of a group flushes for all of them, and nobody waits for a flush
// of its own, so messages that are ready together leave in one write
// without a goroutine in between.
type combiner struct {
	conn    net.Conn
	waiting atomic.Int32
	mu      sync.Mutex
	bw      *bufio.Writer
	err     error
}

func newCombiner(conn net.Conn) *combiner {
	return &combiner{conn: conn, bw: bufio.NewWriterSize(conn, bufSize)}
}

// write writes one message with put; after a failure every write fails.
func (c *combiner) write(put func(*bufio.Writer) error) error {
	c.waiting.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	others := c.waiting.Add(-1)
	if c.err != nil {
		return c.err
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := put(c.bw); err != nil {
		c.err = err
		return err
	}
	if others == 0 {
		if err := c.bw.Flush(); err != nil {
			c.err = err
			return err
		}
	}
	return nil
}

// failed is the error of the write that failed, nil if none did.
func (c *combiner) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func isClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Client keeps one pipe to each member it sends to, dialled with Dial.
// A pipe that breaks is dialled again by the next request.
type Client struct {
	// Dial opens a connection to the member at addr.
	Dial func(addr string) (net.Conn, error)
	// HelloTimeout bounds the wait for the member's Hello after dialling
	// (default 500ms). A serving member writes it at once; one that is
	// starting (a killed leader restarted while its followers still name
	// it) accepts the connection but may not serve pipes for seconds, and
	// the requests waiting for it are requests not going to the new
	// leader: with 2s, leader-kill walk-in runs took 2.34 s on average to
	// accept writes again after a kill (five runs) against 2.07 s over
	// HTTP; with 500ms, 2.11 s (three runs). An overdue hello fails the
	// request as not sent (503, retried).
	HelloTimeout time.Duration

	mu      sync.Mutex
	pipes   map[string]*pipe
	dialing map[string]*dialing
}

// Do sends req to the member at addr and waits up to timeout for its
// answer, which it copies into resp. req may be reused when Do returns. Errors: ErrUnsupported
// (nothing sent), a dial error (nothing sent; it says "dial"),
// ErrConnLost or a time-out (IsTimeout): the request may have been
// handled.
func (c *Client) Do(addr string, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	p, err := c.pipe(addr)
	if err != nil {
		return err
	}
	cl := &call{done: make(chan *fasthttp.Response, 1)}
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return ErrConnLost
	}
	p.next++
	id := p.next
	p.pending[id] = cl
	p.mu.Unlock()
	req.Header.Set(HeaderID, strconv.FormatUint(id, 10))
	err = p.w.write(req.Write)
	req.Header.Del(HeaderID)
	if err != nil {
		p.broken(err)
		return p.fail(id)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case got := <-cl.done:
		if got == nil {
			return ErrConnLost
		}
		got.Header.Del(HeaderID)
		got.CopyTo(resp)
		fasthttp.ReleaseResponse(got)
		return nil
	case <-timer.C:
		p.forget(id)
		return errTimeout
	}
}

// Close closes every pipe; requests waiting on them get ErrConnLost.
func (c *Client) Close() {
	c.mu.Lock()
	pipes := c.pipes
	c.pipes = nil
	c.mu.Unlock()
	for _, p := range pipes {
		p.conn.Close()
	}
}

// pipe returns the live pipe to addr, dialling one if there is none. One
// dial per address is in progress at a time, and the callers to that
// address wait for it; nothing is held while it runs, so a member that is
// slow to answer (starting, or gone) holds up only the requests for it.
func (c *Client) pipe(addr string) (*pipe, error) {
	c.mu.Lock()
	if p := c.pipes[addr]; p != nil {
		select {
		case <-p.dead:
			delete(c.pipes, addr)
		default:
			c.mu.Unlock()
			return p, nil
		}
	}
	if d := c.dialing[addr]; d != nil {
		c.mu.Unlock()
		<-d.done
		return d.p, d.err
	}
	d := &dialing{done: make(chan struct{})}
	if c.dialing == nil {
		c.dialing = map[string]*dialing{}
	}
	c.dialing[addr] = d
	c.mu.Unlock()

	d.p, d.err = c.dial(addr)
	c.mu.Lock()
	delete(c.dialing, addr)
	if d.p != nil {
		if c.pipes == nil {
			c.pipes = map[string]*pipe{}
		}
		c.pipes[addr] = d.p
	}
	c.mu.Unlock()
	close(d.done)
	return d.p, d.err
}

// dialing is a dial in progress, and then its outcome.
type dialing struct {
	done chan struct{}
	p    *pipe
	err  error
}

// dial opens a pipe to addr and waits for the member's hello.
func (c *Client) dial(addr string) (*pipe, error) {
	conn, err := c.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("peerpipe: dial %s: %w", addr, err)
	}
	wait := c.HelloTimeout
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil || b[0] != Hello {
		conn.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, fmt.Errorf("peerpipe: dial %s: no hello: %w", addr, err)
		}
		return nil, ErrUnsupported
	}
	_ = conn.SetReadDeadline(time.Time{})
	p := &pipe{conn: conn, w: newCombiner(conn), pending: map[uint64]*call{}, dead: make(chan struct{})}
	go p.read()
	return p, nil
}

type call struct {
	done chan *fasthttp.Response // nil when the connection broke
}

// pipe is one connection: requests are written by their callers, answers
// read and handed to their callers by read.
type pipe struct {
	conn net.Conn
	w    *combiner
	dead chan struct{} // closed once the connection failed

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*call
	err     error
}

// forget drops a call its caller stopped waiting for.
func (p *pipe) forget(id uint64) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// fail is a queued call's answer once the connection failed.
func (p *pipe) fail(id uint64) error {
	p.forget(id)
	return ErrConnLost
}

// broken records err, fails every pending call and closes the connection.
func (p *pipe) broken(err error) {
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return
	}
	p.err = err
	pending := p.pending
	p.pending = map[uint64]*call{}
	close(p.dead)
	p.mu.Unlock()
	p.conn.Close()
	for _, cl := range pending {
		cl.done <- nil
	}
}

// read hands each answer to the call it names.
func (p *pipe) read() {
	br := bufio.NewReaderSize(p.conn, bufSize)
	for {
		resp := fasthttp.AcquireResponse()
		if err := resp.ReadLimitBody(br, MaxBodySize); err != nil {
			fasthttp.ReleaseResponse(resp)
			p.broken(err)
			return
		}
		id, err := strconv.ParseUint(string(resp.Header.Peek(HeaderID)), 10, 64)
		if err != nil {
			fasthttp.ReleaseResponse(resp)
			p.broken(fmt.Errorf("peerpipe: an answer without a request number: %w", err))
			return
		}
		p.mu.Lock()
		cl := p.pending[id]
		delete(p.pending, id)
		p.mu.Unlock()
		if cl == nil {
			fasthttp.ReleaseResponse(resp) // its caller gave up
			continue
		}
		cl.done <- resp
	}
}
