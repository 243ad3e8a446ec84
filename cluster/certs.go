package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// Identity is this node's key and certificate.
func (s *Store) Identity() *trust.Identity { return s.identity }

// peerDialTimeout bounds dialling a member's node-to-node HTTP channel.
const peerDialTimeout = 5 * time.Second

// DialPeer opens a node-to-node HTTP connection to the member at its raft
// address, over mutual TLS (the peer's certificate must name a member
// registered at that address with its key). Without a TCP transport (an
// in-memory test store) there is nothing to dial.
func (s *Store) DialPeer(raftAddr string) (net.Conn, error) {
	if s.mux == nil {
		return nil, errors.New("no raft port: this store has no TCP transport")
	}
	return s.mux.dial(raftAddr, channelHTTP, peerDialTimeout)
}

// PeerListener is the node-to-node HTTP channel of the raft port: each
// connection is a *PeerConn from a verified member. nil without a TCP
// transport. Closing it does not affect raft.
func (s *Store) PeerListener() net.Listener {
	if s.mux == nil {
		return nil
	}
	return &channelListener{m: s.mux, ch: s.mux.http, closed: make(chan struct{})}
}

// PipeListener is the raft port's channel for pipes (many node-to-node
// requests at once on one connection): each connection is a *PeerConn
// from a verified member. nil without a TCP transport.
func (s *Store) PipeListener() net.Listener {
	if s.mux == nil {
		return nil
	}
	return &channelListener{m: s.mux, ch: s.mux.pipe, closed: make(chan struct{})}
}

// registeredNodes is the node registry as this node has applied it.
func (s *Store) registeredNodes() ([]Node, error) {
	var nodes []Node
	err := s.Read(context.Background(), ConsistencyStale, func(v *View) error {
		var err error
		nodes, err = v.Nodes()
		return err
	})
	return nodes, err
}

// memberIPs is the IPs of the members' raft addresses in the node
// registry (the raft port's accept loop keeps handshake places for them).
func (s *Store) memberIPs() []string {
	nodes, err := s.registeredNodes()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		host, _, err := net.SplitHostPort(n.RaftAddr)
		if err != nil {
			continue
		}
		// An IP literal; a member registered by host name shares the
		// others' places (no DNS lookup in the accept loop).
		if ip := net.ParseIP(host); ip != nil {
			out = append(out, ip.String())
		}
	}
	return out
}

// checkPeer decides whether a peer with a CA certificate may talk to this
// node: it must be in the node registry with the key it registered, and a
// node dialled at addr must be the member registered there. A node whose
// registry is still empty (a joiner before its first entries) accepts any
// certificate from the CA its join token named.
func (s *Store) checkPeer(p trust.Peer, addr string) error {
	nodes, err := s.registeredNodes()
	if err != nil {
		return fmt.Errorf("peer check: %w", err)
	}
	if len(nodes) == 0 {
		return nil
	}
	var me *Node
	for i := range nodes {
		n := &nodes[i]
		if addr != "" && n.RaftAddr == addr && n.ID != p.ID {
			s.log.Warn("peer refused: certificate names another node than the one registered at its address",
				"addr", addr, "registered", n.ID, "certificate", p.ID)
			return fmt.Errorf("%s is registered to %s, not %s", addr, n.ID, p.ID)
		}
		if n.ID == p.ID {
			me = n
		}
	}
	if me == nil {
		s.log.Warn("peer refused: not a member", "peer", p.ID, "addr", addr)
		return fmt.Errorf("%s is not a member of this cluster", p.ID)
	}
	if me.KeyFP != "" && me.KeyFP != p.KeyFP {
		s.log.Warn("peer refused: key is not the one it registered", "peer", p.ID, "addr", addr)
		return fmt.Errorf("%s presents a key other than the one it registered", p.ID)
	}
	return nil
}

// readCA is the cluster CA in local state (nil: a cluster made before TLS).
func (s *Store) readCA(ctx context.Context) (*clusterCA, error) {
	var ca *clusterCA
	err := s.Read(ctx, ConsistencyStale, func(v *View) error {
		var c clusterCA
		found, err := v.Get(keyClusterCA, &c)
		if found {
			ca = &c
		}
		return err
	})
	return ca, err
}

// checkJoinCSR checks a join's certificate request against the registry:
// it returns the key's fingerprint and the issuing step to run once the
// node is registered (nil in a cluster without a CA).
func (s *Store) checkJoinCSR(ctx context.Context, r JoinRequest) (func() (JoinAnswer, error), string, error) {
	ca, err := s.readCA(ctx)
	if err != nil {
		return nil, "", err
	}
	if ca == nil {
		return nil, "", nil
	}
	if r.CSR == "" {
		return nil, "", fmt.Errorf("%w: this cluster requires a certificate request (csr) with the join", ErrNodeKey)
	}
	req := trust.Request{ID: r.ID, RaftAddr: r.RaftAddr, HTTPAddr: r.HTTPAddr}
	csr, fp, err := trust.CheckCSR([]byte(r.CSR), req)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrNodeKey, err)
	}
	var old Node
	var found bool
	if err := s.Read(ctx, ConsistencyStale, func(v *View) error {
		found, err = v.Get(keyNode(r.ID), &old)
		return err
	}); err != nil {
		return nil, "", err
	}
	if found && old.KeyFP != "" && old.KeyFP != fp {
		return nil, "", fmt.Errorf("%w: node %s is a member with another key; remove it first to join a new node under its id", ErrNodeKey, r.ID)
	}
	issue := func() (JoinAnswer, error) {
		c, err := trust.OpenCA([]byte(ca.Cert), ca.SealedKey, r.Token)
		if err != nil {
			return JoinAnswer{}, err
		}
		cert, err := c.Issue(csr, req, time.Now())
		if err != nil {
			return JoinAnswer{}, err
		}
		return JoinAnswer{Certificate: string(cert), CA: ca.Cert}, nil
	}
	return issue, fp, nil
}

// NewJoinRequest is this node's request to join with token: its addresses,
// versions and a certificate request for its key.
func (s *Store) NewJoinRequest(token string) (JoinRequest, error) {
	self := s.selfNode()
	r := JoinRequest{ID: self.ID, RaftAddr: self.RaftAddr, HTTPAddr: self.HTTPAddr,
		Version: self.Version, LogicVersion: self.LogicVersion, Token: token}
	if s.identity.External() {
		return r, nil // certified by the trust's own PKI
	}
	csr, err := trust.NewCSR(s.identity.Key(), trust.Request{ID: r.ID, RaftAddr: r.RaftAddr, HTTPAddr: r.HTTPAddr})
	if err != nil {
		return JoinRequest{}, err
	}
	r.CSR = string(csr)
	return r, nil
}

// AcceptJoin installs the certificate a join answered with, once the CA
// that signed it is the one the token names (so an impostor answering the
// join cannot make this node trust it).
func (s *Store) AcceptJoin(token string, a JoinAnswer) error {
	if a.Certificate == "" {
		return nil // a cluster without a CA
	}
	ca, err := trust.ParseCert([]byte(a.CA))
	if err != nil {
		return fmt.Errorf("join answer: CA: %w", err)
	}
	if err := trust.CheckCA(token, ca); err != nil {
		return fmt.Errorf("join answer: %w", err)
	}
	return s.identity.Install([]byte(a.Certificate), []byte(a.CA))
}

// DialPeerHTTP is DialPeer to the member registered with HTTP address
// httpAddr: node-to-node requests name a member by its HTTP address, and
// go to its raft port over mutual TLS instead.
func (s *Store) DialPeerHTTP(httpAddr string) (net.Conn, error) {
	return s.dialMember(httpAddr, channelHTTP)
}

// DialPeerPipe is DialPeerHTTP on the pipe channel.
func (s *Store) DialPeerPipe(httpAddr string) (net.Conn, error) {
	return s.dialMember(httpAddr, channelPipe)
}

// dialMember opens channel ch to the member registered with HTTP address
// httpAddr.
func (s *Store) dialMember(httpAddr string, ch byte) (net.Conn, error) {
	if s.mux == nil {
		return nil, errors.New("no raft port: this store has no TCP transport")
	}
	var raftAddr string
	err := s.Read(context.Background(), ConsistencyStale, func(v *View) error {
		nodes, err := v.Nodes()
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.HTTPAddr != httpAddr {
				continue
			}
			if raftAddr != "" {
				return fmt.Errorf("more than one member is registered at HTTP address %s", httpAddr)
			}
			raftAddr = n.RaftAddr
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dial member at %s: %w", httpAddr, err)
	}
	if raftAddr == "" {
		return nil, fmt.Errorf("dial member at %s: no member is registered there", httpAddr)
	}
	return s.mux.dial(raftAddr, ch, peerDialTimeout)
}

// RenewOwnCertificate gives this node a new certificate signed by the
// cluster CA, opened with the join token (a leader renews its own; other
// nodes re-announce themselves to it).
func (s *Store) RenewOwnCertificate(ctx context.Context, token string) error {
	ca, err := s.readCA(ctx)
	if err != nil {
		return err
	}
	if ca == nil {
		return errors.New("renew certificate: this cluster has no CA")
	}
	c, err := trust.OpenCA([]byte(ca.Cert), ca.SealedKey, token)
	if err != nil {
		return fmt.Errorf("renew certificate: %w", err)
	}
	self := s.selfNode()
	return s.identity.SelfIssue(c, trust.Request{ID: self.ID, RaftAddr: self.RaftAddr, HTTPAddr: self.HTTPAddr}, time.Now())
}
