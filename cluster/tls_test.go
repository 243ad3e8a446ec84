package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// tlsLayer dials a node's raft port with a given client certificate (or
// none), as a process outside the cluster would.
type tlsLayer struct {
	cert    *tls.Certificate
	plain   bool
	channel byte // the channel named after the handshake: 0 is raft's
}

func (l tlsLayer) Accept() (net.Conn, error) { select {} }
func (l tlsLayer) Close() error              { return nil }
func (l tlsLayer) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (l tlsLayer) Dial(a raft.ServerAddress, d time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", string(a), d)
	if err != nil || l.plain {
		return conn, err
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if l.cert != nil {
		cfg.Certificates = []tls.Certificate{*l.cert}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	ch := l.channel
	if ch == 0 {
		ch = 'R'
	}
	if _, err := tc.Write([]byte{ch}); err != nil {
		return nil, err
	}
	return tc, nil
}

// injectEntry sends the follower an AppendEntries carrying one entry at
// its next index in the current term, as the attack on the plain raft port
// did; it returns the transport's error.
func injectEntry(t *testing.T, layer raft.StreamLayer, target *clustertest.Node) error {
	t.Helper()
	tr := raft.NewNetworkTransport(layer, 1, 2*time.Second, io.Discard)
	defer tr.Close()
	st := target.Store.Status()
	args := raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte("127.0.0.1:1")},
		Term:              st.Term,
		PrevLogEntry:      st.LastIndex,
		PrevLogTerm:       st.Term,
		LeaderCommitIndex: st.CommitIndex,
	}
	var resp raft.AppendEntriesResponse
	return tr.AppendEntries(raft.ServerID(target.ID), raft.ServerAddress(target.RaftAddr), &args, &resp)
}

func nodeCert(t *testing.T, nd *clustertest.Node) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(trust.Dir(nd.Dir), "node.crt"), filepath.Join(trust.Dir(nd.Dir), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue makes a certificate for id with a fresh key, signed by ca.
func issue(t *testing.T, ca *trust.CA, id, raftAddr string) (tls.Certificate, string) {
	t.Helper()
	key, err := trust.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	req := trust.Request{ID: id, RaftAddr: raftAddr}
	csrPEM, err := trust.NewCSR(key, req)
	if err != nil {
		t.Fatal(err)
	}
	csr, fp, err := trust.CheckCSR(csrPEM, req)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.Issue(csr, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := trust.ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, fp
}

// TestRaftPortRefusesNonMembers is the injected-entry attack: a process
// with raft's own transport and no member certificate cannot reach a
// follower's raft, nor can one with a certificate from another CA, of a
// removed node, or for a member's id with another key. A member's own
// certificate gets through (the harness can fail).
func TestRaftPortRefusesNonMembers(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	followers := c.Others(leader)
	follower, other := followers[0], followers[1]
	// The real CA, opened with the join token as a member would.
	caPEM, sealed, err := leader.Store.ClusterCA(ctx)
	if err != nil || caPEM == "" {
		t.Fatalf("cluster CA: %q %v", caPEM, err)
	}
	realCA, err := trust.OpenCA([]byte(caPEM), sealed, c.Token)
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := trust.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rogue, _ := issue(t, rogueCA, leader.ID, leader.RaftAddr)
	stolenID, _ := issue(t, realCA, leader.ID, leader.RaftAddr) // the leader's id, another key
	stranger, _ := issue(t, realCA, "stranger", "127.0.0.1:1")  // never joined

	before := follower.Store.Status().LastIndex
	for _, tc := range []struct {
		name  string
		layer tlsLayer
	}{
		{"plain TCP, raft's own transport", tlsLayer{plain: true}},
		{"TLS without a certificate", tlsLayer{}},
		{"certificate from another CA", tlsLayer{cert: &rogue}},
		{"cluster certificate for the leader's id with another key", tlsLayer{cert: &stolenID}},
		{"cluster certificate of a node that never joined", tlsLayer{cert: &stranger}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := injectEntry(t, tc.layer, follower); err == nil {
				t.Fatal("the follower took an AppendEntries from outside the cluster")
			}
		})
	}
	if got := follower.Store.Status().LastIndex; got < before {
		t.Fatalf("follower's log went back: %d -> %d", before, got)
	}

	// A member's certificate passes the same harness.
	own := nodeCert(t, other)
	if err := injectEntry(t, tlsLayer{cert: &own}, follower); err != nil {
		t.Fatalf("a member's certificate was refused: %v", err)
	}

	// Once removed, that member's certificate is refused.
	if err := clustertest.Retry(ctx, func() error { return c.Leader(ctx).Store.RemoveNode(ctx, other.ID) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := injectEntry(t, tlsLayer{cert: &own}, follower)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a removed node's certificate is still accepted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPipeChannelRefusesNonMembers: the pipe channel (forwarded writes)
// hands the API only connections from members: a process without a
// member certificate, or with one from another CA, never reaches it, and
// a member's connection arrives naming that member.
func TestPipeChannelRefusesNonMembers(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	member := c.Others(leader)[1]
	ln := leader.Store.PipeListener()
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn
		}
	}()
	rogueCA, err := trust.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rogue, _ := issue(t, rogueCA, member.ID, member.RaftAddr)
	for _, tc := range []struct {
		name  string
		layer tlsLayer
	}{
		{"TLS without a certificate", tlsLayer{channel: 'P'}},
		{"certificate from another CA for a member's id", tlsLayer{cert: &rogue, channel: 'P'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tc.layer.Dial(raft.ServerAddress(leader.RaftAddr), 2*time.Second)
			if err == nil {
				_, _ = conn.Write([]byte("POST /v1/cluster/forward HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
				defer conn.Close()
			}
			select {
			case got := <-accepted:
				t.Fatalf("the pipe channel handed out a connection from %v", got.RemoteAddr())
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
	own := nodeCert(t, member)
	conn, err := tlsLayer{cert: &own, channel: 'P'}.Dial(raft.ServerAddress(leader.RaftAddr), 2*time.Second)
	if err != nil {
		t.Fatalf("a member's pipe was refused: %v", err)
	}
	defer conn.Close()
	select {
	case got := <-accepted:
		pc, ok := got.(*cluster.PeerConn)
		if !ok || pc.Peer.ID != member.ID {
			t.Fatalf("pipe connection %T %+v, want the member %s's", got, got, member.ID)
		}
		got.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a member's pipe never reached the channel")
	}
}

// TestPeerCheck: the registry decides whom a verified certificate may
// speak for: a member with its own key at its own address.
func TestPeerCheck(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.Options{})
	a, b := c.Nodes[0], c.Nodes[1]
	fpA := a.Store.Identity().KeyFingerprint()
	fpB := b.Store.Identity().KeyFingerprint()
	for i, tc := range []struct {
		peer trust.Peer
		addr string
		ok   bool
	}{
		{trust.Peer{ID: a.ID, KeyFP: fpA}, "", true},
		{trust.Peer{ID: a.ID, KeyFP: fpA}, a.RaftAddr, true},
		{trust.Peer{ID: b.ID, KeyFP: fpB}, a.RaftAddr, false}, // b's certificate at a's address
		{trust.Peer{ID: a.ID, KeyFP: fpB}, "", false},         // a's id, b's key
		{trust.Peer{ID: "nobody", KeyFP: fpA}, "", false},
	} {
		err := b.Store.CheckPeer(tc.peer, tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("case %d %+v at %q: err %v, want ok=%v", i, tc.peer, tc.addr, err, tc.ok)
		}
	}
}

// TestJoinIssuesCertificate: a joiner gets a certificate from the CA its
// token names; a join for a member's id with another key is refused, as is
// one without a certificate request.
func TestJoinIssuesCertificate(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fp, ok := trust.TokenCA(c.Token)
	if !ok {
		t.Fatalf("join token %q names no CA", c.Token)
	}
	for _, nd := range c.Nodes {
		id := nd.Store.Identity()
		if !id.Certified() || trust.Fingerprint(id.CA()) != fp {
			t.Fatalf("%s: certified %v, CA %v", nd.ID, id.Certified(), id.CA() != nil)
		}
	}
	leader := c.Leader(ctx)
	joiner, err := c.AddNode(ctx, "joiner")
	if err != nil {
		t.Fatal(err)
	}
	// A request for the leader's id made with the joiner's key.
	req, err := joiner.Store.NewJoinRequest(c.Token)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := trust.NewCSR(joiner.Store.Identity().Key(), trust.Request{ID: leader.ID, RaftAddr: leader.RaftAddr, HTTPAddr: leader.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	steal := cluster.JoinRequest{ID: leader.ID, RaftAddr: leader.RaftAddr, HTTPAddr: "127.0.0.1:9", Token: c.Token, CSR: string(csr)}
	if _, err := leader.Store.Join(ctx, steal); !errors.Is(err, cluster.ErrNodeKey) {
		t.Fatalf("join with a replayed request for another address: %v", err)
	}
	steal.HTTPAddr = leader.HTTPAddr
	if _, err := leader.Store.Join(ctx, steal); !errors.Is(err, cluster.ErrNodeKey) {
		t.Fatalf("join for the leader's id with another key: %v", err)
	}
	noCSR := req
	noCSR.CSR = ""
	if _, err := leader.Store.Join(ctx, noCSR); !errors.Is(err, cluster.ErrNodeKey) {
		t.Fatalf("join without a certificate request: %v", err)
	}
	if joiner.Store.Identity().Certified() {
		t.Fatal("the joiner has a certificate before joining")
	}
	if err := c.Join(ctx, joiner, c.Token); err != nil {
		t.Fatal(err)
	}
	if !joiner.Store.Identity().Certified() {
		t.Fatal("the joiner has no certificate after joining")
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	// An answer from another CA than the token names is not installed.
	other, err := trust.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := joiner.Store.AcceptJoin(c.Token, cluster.JoinAnswer{Certificate: "x", CA: string(other.CertPEM())}); err == nil {
		t.Fatal("a join answer from another CA was accepted")
	}
}

// TestRenewOwnCertificate: a leader renews its certificate with the CA
// opened by the join token, keeps its key (peers pin it), and the cluster
// goes on replicating.
func TestRenewOwnCertificate(t *testing.T) {
	c := clustertest.New(t, 2, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	id := leader.Store.Identity()
	before, fp := id.NotAfter(), id.KeyFingerprint()
	time.Sleep(1100 * time.Millisecond) // NotAfter has a resolution of one second
	if err := leader.Store.RenewOwnCertificate(ctx, "fdj1.wrong"); err == nil {
		t.Fatal("renewed with a wrong token")
	}
	if err := leader.Store.RenewOwnCertificate(ctx, c.Token); err != nil {
		t.Fatal(err)
	}
	if !id.NotAfter().After(before) || id.KeyFingerprint() != fp {
		t.Fatalf("not renewed under the same key: %v -> %v", before, id.NotAfter())
	}
	if _, _, err := clustertest.CreateAttendance(ctx, leader, "after renewal", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRaftPortFloodLeavesMembersTheirPlaces: a flood of idle connections
// from a non-member address (each sitting in its TLS handshake) takes at
// most maxHandshakesPerAddr of the raft port's handshake places, and never
// the members': a member still opens new connections (as an election, a
// restarted node or a forwarded write does) while the flood holds.
func TestRaftPortFloodLeavesMembersTheirPlaces(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	follower := c.Others(leader)[0]
	// 200 idle connections from 127.0.0.9, never sending a ClientHello.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}, Timeout: time.Second}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 200 {
		conn, err := d.Dial("tcp", follower.RaftAddr)
		if err != nil {
			t.Fatalf("flood dial: %v", err)
		}
		held = append(held, conn)
	}
	const perAddr, places = 8, 64 // peermux.go: maxHandshakesPerAddr, maxHandshakes
	// A member opens new connections to the flooded node: every one is
	// taken.
	for i := range 2 * places {
		conn, err := leader.Store.DialPeer(follower.RaftAddr)
		if err != nil {
			t.Fatalf("member connection %d refused during the flood: %v", i, err)
		}
		conn.Close()
	}
	// The port closes all but maxHandshakesPerAddr of them at once.
	open := 0
	for _, conn := range held {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		var b [1]byte
		if _, err := conn.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
			open++ // still waiting for our ClientHello
		}
	}
	if open > perAddr {
		t.Errorf("%d flood connections held in handshake, want at most %d", open, perAddr)
	}
}
