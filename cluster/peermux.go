package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// The raft port carries three channels, all over mutual TLS with node
// certificates from the cluster CA: raft's own RPCs, node-to-node HTTP (a
// member's figures, whole requests proxied to the leader) and pipes
// (forwarded writes, many at once on one connection: the API's peerpipe).
// The dialler names the channel in the first byte after the handshake; a
// node of an earlier release closes a connection whose channel it does
// not know.
const (
	channelRaft byte = 'R'
	channelHTTP byte = 'H'
	channelPipe byte = 'P'
)

const (
	// handshakeTimeout bounds a peer's TLS handshake and channel byte.
	handshakeTimeout = 10 * time.Second
	// maxHandshakes bounds handshakes in progress: connections beyond it
	// are closed at once, so a flood of idle connections to the raft port
	// cannot hold the node's file descriptors. Connections from a
	// member's address have a bound of their own, so a flood from
	// elsewhere cannot crowd out the members' (an election, a restarted
	// node, forwarded writes all open new connections).
	maxHandshakes = 64
	// maxHandshakesPerAddr bounds one non-member address's handshakes in
	// progress.
	maxHandshakesPerAddr = 8
	// memberAddrsTTL is how long the members' addresses are cached.
	memberAddrsTTL = time.Second
)

// PeerConn is a connection from a verified member: the node its
// certificate names.
type PeerConn struct {
	net.Conn
	Peer trust.Peer
}

// peerMux accepts TLS connections on the raft port, verifies the peer's
// certificate (trust.Identity, and the registry through check) and hands
// each connection to its channel.
type peerMux struct {
	ln     net.Listener
	addr   net.Addr // advertised
	id     *trust.Identity
	check  trust.PeerCheck
	log    *slog.Logger
	raft   chan net.Conn
	http   chan net.Conn
	pipe   chan net.Conn
	sem    chan struct{} // handshakes in progress from other addresses
	member chan struct{} // handshakes in progress from members' addresses
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	// memberIPs lists the IPs of the members' raft addresses (from the
	// node registry); cached for memberAddrsTTL.
	memberIPs func() []string
	mu        sync.Mutex
	known     map[string]bool // cached memberIPs
	knownAt   time.Time
	perAddr   map[string]int // non-member handshakes in progress by IP
}

func newPeerMux(bind string, advertise net.Addr, id *trust.Identity, check trust.PeerCheck, memberIPs func() []string, log *slog.Logger) (*peerMux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	m := &peerMux{
		ln: ln, addr: advertise, id: id, check: check, log: log,
		raft: make(chan net.Conn), http: make(chan net.Conn), pipe: make(chan net.Conn),
		sem: make(chan struct{}, maxHandshakes), member: make(chan struct{}, maxHandshakes), closed: make(chan struct{}),
		memberIPs: memberIPs, perAddr: map[string]int{},
	}
	m.wg.Add(1)
	go m.serve()
	return m, nil
}

// serve accepts until the mux closes; a temporary failure (out of file
// descriptors) backs off instead of ending the loop.
func (m *peerMux) serve() {
	defer m.wg.Done()
	var pause time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			m.log.Warn("raft port: accept failed; backing off", "err", err, "pause", pause)
			select {
			case <-m.closed:
				return
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		release, ok := m.admit(conn)
		if !ok {
			conn.Close() // too many handshakes at once
			continue
		}
		go m.handshake(conn, release)
	}
}

// admit takes a handshake place for conn: from a member's address, one of
// the members' places; from elsewhere, one of the others' and at most
// maxHandshakesPerAddr for its address. ok is false when there is none
// free; release gives the place back.
func (m *peerMux) admit(conn net.Conn) (release func(), ok bool) {
	ip := ""
	if a, isTCP := conn.RemoteAddr().(*net.TCPAddr); isTCP {
		ip = a.IP.String()
	}
	if m.isMember(ip) {
		select {
		case m.member <- struct{}{}:
			return func() { <-m.member }, true
		default:
			return nil, false
		}
	}
	m.mu.Lock()
	if m.perAddr[ip] >= maxHandshakesPerAddr {
		m.mu.Unlock()
		return nil, false
	}
	select {
	case m.sem <- struct{}{}:
	default:
		m.mu.Unlock()
		return nil, false
	}
	m.perAddr[ip]++
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		if m.perAddr[ip]--; m.perAddr[ip] <= 0 {
			delete(m.perAddr, ip)
		}
		m.mu.Unlock()
		<-m.sem
	}, true
}

// isMember reports whether ip is the address of a member's raft port.
func (m *peerMux) isMember(ip string) bool {
	if m.memberIPs == nil || ip == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.known == nil || time.Since(m.knownAt) > memberAddrsTTL {
		m.known = map[string]bool{}
		for _, a := range m.memberIPs() {
			m.known[a] = true
		}
		m.knownAt = time.Now()
	}
	return m.known[ip]
}

func (m *peerMux) handshake(conn net.Conn, release func()) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	tc := tls.Server(conn, m.id.ServerConfig(m.check))
	if err := tc.Handshake(); err != nil {
		release()
		m.log.Debug("raft port: handshake refused", "remote", conn.RemoteAddr(), "err", err)
		conn.Close()
		return
	}
	var b [1]byte
	if _, err := tc.Read(b[:]); err != nil {
		release()
		tc.Close()
		return
	}
	release()
	_ = conn.SetDeadline(time.Time{})
	peer, err := peerOf(tc)
	if err != nil {
		tc.Close()
		return
	}
	pc := &PeerConn{Conn: tc, Peer: peer}
	var ch chan net.Conn
	switch b[0] {
	case channelRaft:
		ch = m.raft
	case channelHTTP:
		ch = m.http
	case channelPipe:
		ch = m.pipe
	default:
		tc.Close()
		return
	}
	select {
	case ch <- pc:
	case <-m.closed:
		tc.Close()
	}
}

// peerOf is whom a handshaken connection's certificate names (already
// verified by the handshake).
func peerOf(tc *tls.Conn) (trust.Peer, error) {
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return trust.Peer{}, errors.New("no peer certificate")
	}
	id, err := trust.NodeID(certs[0])
	if err != nil {
		return trust.Peer{}, err
	}
	fp, err := trust.KeyFingerprint(certs[0].PublicKey)
	if err != nil {
		return trust.Peer{}, err
	}
	return trust.Peer{ID: id, KeyFP: fp}, nil
}

// dial opens channel ch to the member at addr.
func (m *peerMux) dial(addr string, ch byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	// Dial from the address the raft port is bound to, when it names one:
	// peers (and a fault proxy in tests) see this node's own address.
	if ta, ok := m.ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		d.LocalAddr = &net.TCPAddr{IP: ta.IP}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	tc := tls.Client(conn, m.id.ClientConfig(addr, m.check))
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial %s: tls: %w", addr, err)
	}
	if _, err := tc.Write([]byte{ch}); err != nil {
		tc.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	peer, err := peerOf(tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	return &PeerConn{Conn: tc, Peer: peer}, nil
}

func (m *peerMux) close() error {
	var err error
	m.once.Do(func() {
		close(m.closed)
		err = m.ln.Close()
		m.wg.Wait()
	})
	return err
}

// raftLayer is raft's StreamLayer on the mux's raft channel.
type raftLayer struct{ m *peerMux }

var _ raft.StreamLayer = raftLayer{}

func (l raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raft:
		return c, nil
	case <-l.m.closed:
		return nil, net.ErrClosed
	}
}

func (l raftLayer) Close() error   { return l.m.close() }
func (l raftLayer) Addr() net.Addr { return l.m.addr }

func (l raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.m.dial(string(addr), channelRaft, timeout)
}

// channelListener is one of the mux's node-to-node channels (HTTP or
// pipes) as a listener. Closing it stops handing out connections; raft
// goes on.
type channelListener struct {
	m      *peerMux
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *channelListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.m.closed:
		return nil, net.ErrClosed
	}
}

func (l *channelListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *channelListener) Addr() net.Addr { return l.m.addr }
