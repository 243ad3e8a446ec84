package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Mode is what a proxy does with a connection's bytes.
type Mode int

const (
	ModePass      Mode = iota // forward
	ModeRefuse                // reset existing and new connections
	ModeBlackhole             // hold: forward nothing, accept but do not dial
	ModeDelay                 // forward each chunk Fault.Delay after it was read
)

// Fault is the treatment of a proxy's connections.
type Fault struct {
	Mode  Mode
	Delay time.Duration // ModeDelay only
}

// The faults without parameters.
var (
	Pass      = Fault{Mode: ModePass}
	Refuse    = Fault{Mode: ModeRefuse}
	Blackhole = Fault{Mode: ModeBlackhole}
)

// Delay is a link that delivers everything d late.
func Delay(d time.Duration) Fault { return Fault{Mode: ModeDelay, Delay: d} }

func (f Fault) String() string {
	switch f.Mode {
	case ModePass:
		return "pass"
	case ModeRefuse:
		return "refuse"
	case ModeBlackhole:
		return "blackhole"
	case ModeDelay:
		return "delay " + f.Delay.String()
	}
	return fmt.Sprintf("mode(%d)", int(f.Mode))
}

const (
	chunkSize   = 32 << 10
	chunkQueue  = 16 // chunks read ahead per direction (held or delayed)
	dialTimeout = 5 * time.Second
)

// Proxy forwards TCP connections from its listen address to a target and
// applies faults to them. Safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	closed chan struct{}
	wg     sync.WaitGroup
	// after waits for a delay (time.After; tests substitute it).
	after func(time.Duration) <-chan time.Time

	mu       sync.Mutex
	def      Fault
	from     map[string]Fault // by source name
	identify func(net.Conn) string
	conns    map[*conn]struct{}
	sources  map[string]int
	changed  chan struct{} // closed (and replaced) on every change
	shut     bool
}

// New listens on listen (e.g. "127.0.0.1:0") and forwards every connection
// to target, passing everything until told otherwise. Sources are told
// apart by remote IP until SetIdentify says otherwise.
func New(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s: %w", listen, err)
	}
	p := &Proxy{
		ln: ln, target: target, closed: make(chan struct{}), after: time.After,
		from: map[string]Fault{}, identify: remoteIP, conns: map[*conn]struct{}{},
		sources: map[string]int{}, changed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}

// Addr is the address the proxy listens on (what the node advertises).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is where the proxy forwards to (the node's real port).
func (p *Proxy) Target() string { return p.target }

// SetIdentify sets how the proxy names the source of a connection (""
// when unknown); it is asked once per connection, when accepted.
func (p *Proxy) SetIdentify(fn func(net.Conn) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fn == nil {
		fn = remoteIP
	}
	p.identify = fn
}

// Set sets the fault for connections from sources without one of their own.
func (p *Proxy) Set(f Fault) {
	p.mu.Lock()
	p.def = f
	p.changeLocked()
	p.mu.Unlock()
}

// SetFrom sets the fault for connections from source src (as named by the
// identify function), whatever the default.
func (p *Proxy) SetFrom(src string, f Fault) {
	p.mu.Lock()
	p.from[src] = f
	p.changeLocked()
	p.mu.Unlock()
}

// Reset passes everything again and forgets every per-source fault.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.def = Pass
	clear(p.from)
	p.changeLocked()
	p.mu.Unlock()
}

// Fault is the fault applied to connections from src now.
func (p *Proxy) Fault(src string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faultLocked(src)
}

// Sources counts the connections accepted so far by source ("" for
// connections nobody was recognised as opening).
func (p *Proxy) Sources() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.sources))
	for k, v := range p.sources {
		out[k] = v
	}
	return out
}

// Conns is the number of connections open through the proxy now.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening and resets every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.shut {
		p.mu.Unlock()
		return nil
	}
	p.shut = true
	close(p.closed)
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range conns {
		c.abort()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) faultLocked(src string) Fault {
	if f, ok := p.from[src]; ok && src != "" {
		return f
	}
	return p.def
}

// changeLocked wakes everything waiting on a fault and resets the
// connections that are now refused.
func (p *Proxy) changeLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	for c := range p.conns {
		if p.faultLocked(c.src).Mode == ModeRefuse {
			go c.abort()
		}
	}
}

// state is the fault for src and a channel closed at the next change.
func (p *Proxy) state(src string) (Fault, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faultLocked(src), p.changed
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.closed:
				return
			case <-time.After(10 * time.Millisecond): // out of descriptors: back off
			}
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// conn is one proxied connection.
type conn struct {
	p      *Proxy
	src    string
	client net.Conn
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	server net.Conn
}

// abort resets both sides.
func (c *conn) abort() {
	c.once.Do(func() {
		close(c.done)
		reset(c.client)
		c.mu.Lock()
		if c.server != nil {
			reset(c.server)
		}
		c.mu.Unlock()
	})
}

func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, as a refusing host would send
	}
	_ = nc.Close()
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	identify := p.identify
	p.mu.Unlock()
	c := &conn{p: p, src: identify(client), client: client, done: make(chan struct{})}
	p.mu.Lock()
	p.sources[c.src]++
	if p.shut {
		p.mu.Unlock()
		reset(client)
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		c.abort()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()

	// A held connection is not dialled through until the fault lifts: the
	// node must not see it at all.
	for {
		f, changed := p.state(c.src)
		if f.Mode == ModeRefuse {
			return
		}
		if f.Mode != ModeBlackhole {
			break
		}
		select {
		case <-changed:
		case <-c.done:
			return
		}
	}
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.server = server
	c.mu.Unlock()
	select {
	case <-c.done: // aborted while dialling
		reset(server)
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pump(client, server) }()
	go func() { defer wg.Done(); c.pump(server, client) }()
	wg.Wait()
}

type chunk struct {
	b  []byte
	at time.Time
}

// pump copies src to dst chunk by chunk, each through the gate; at EOF it
// half-closes dst, on any error it aborts the connection.
func (c *conn) pump(src, dst net.Conn) {
	chunks := make(chan chunk, chunkQueue)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case chunks <- chunk{b: buf[:n], at: time.Now()}:
				case <-c.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range chunks {
		if !c.gate(ch.at) {
			c.abort()
			return
		}
		if _, err := dst.Write(ch.b); err != nil {
			c.abort()
			return
		}
	}
	select {
	case <-c.done:
		return
	default:
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		c.abort()
	}
}

// gate waits until a chunk read at `at` may be forwarded; false when the
// connection is to be reset (refused, closed).
func (c *conn) gate(at time.Time) bool {
	for {
		f, changed := c.p.state(c.src)
		switch f.Mode {
		case ModePass:
			return true
		case ModeRefuse:
			return false
		case ModeBlackhole:
			select {
			case <-changed:
				continue
			case <-c.done:
				return false
			}
		case ModeDelay:
			wait := time.Until(at.Add(f.Delay))
			if wait <= 0 {
				return true
			}
			select {
			case <-c.p.after(wait):
				return true
			case <-changed:
				continue
			case <-c.done:
				return false
			}
		default:
			return true
		}
	}
}
