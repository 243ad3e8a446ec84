package cluster

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Membership commands: the node registry and the join-token hash live in
// replicated state so every node knows every member's HTTP address and
// version, and any future leader can check a join token.
const (
	KindClusterInit  Kind = "cluster.init"
	KindNodeRegister Kind = "cluster.node_register"
	KindNodeRemove   Kind = "cluster.node_remove"
)

// Node is a node registry record.
type Node struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raft_addr"`
	HTTPAddr     string `json:"http_addr"`
	Version      string `json:"version"`
	LogicVersion int    `json:"logic_version"`
	// KeyFP is the fingerprint of the node's public key: peers present a
	// certificate for that key, or are refused (peerCheck).
	KeyFP        string `json:"key_fp,omitempty"`
	JoinedIndex  uint64 `json:"joined_index"`
	UpdatedIndex uint64 `json:"updated_index"`
}

type clusterInit struct {
	JoinTokenHash string     `json:"join_token_hash"`
	Node          Node       `json:"node"`
	CA            *clusterCA `json:"ca,omitempty"` // absent in clusters created before TLS
}

// clusterCA is the cluster's certificate authority in replicated state:
// its certificate, and its key sealed with the join token (trust.SealKey).
type clusterCA struct {
	Cert      string `json:"cert"` // PEM
	SealedKey []byte `json:"sealed_key"`
}

type nodeRemove struct {
	ID string `json:"id"`
}

// membershipCommands are the engine's own commands; every Store has them
// beside the domain's (Config.Commands).
func membershipCommands() []Command {
	return []Command{
		{Kind: KindClusterInit, Since: 1, Apply: applyClusterInit},
		{Kind: KindNodeRegister, Since: 1, Apply: applyNodeRegister},
		{Kind: KindNodeRemove, Since: 1, Apply: applyNodeRemove},
		{Kind: KindClusterRestore, Since: 8, Apply: applyClusterRestore},
	}
}

func applyClusterInit(tx *Tx, raw json.RawMessage) (any, error) {
	var in clusterInit
	if err := DecodeStrict(raw, &in); err != nil {
		return nil, &CommandError{Code: CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	if len(in.JoinTokenHash) != 64 {
		return nil, Invalid(map[string]string{"join_token_hash": "must be hex sha256"})
	}
	if _, found, err := tx.GetRaw(keyJoinTokenHash); err != nil {
		return nil, err
	} else if found {
		return nil, &CommandError{Code: CodeConflict, Message: "cluster already initialised"}
	}
	tx.PutRaw(keyJoinTokenHash, []byte(in.JoinTokenHash))
	if in.CA != nil {
		if in.CA.Cert == "" || len(in.CA.SealedKey) == 0 {
			return nil, Invalid(map[string]string{"ca": "cert and sealed_key are required"})
		}
		if err := tx.Put(keyClusterCA, in.CA); err != nil {
			return nil, err
		}
	}
	tx.Audit("cluster.init", "cluster", nil)
	return registerNode(tx, in.Node)
}

func applyNodeRegister(tx *Tx, raw json.RawMessage) (any, error) {
	var n Node
	if err := DecodeStrict(raw, &n); err != nil {
		return nil, &CommandError{Code: CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	return registerNode(tx, n)
}

func registerNode(tx *Tx, n Node) (any, error) {
	if n.ID == "" || n.RaftAddr == "" {
		return nil, Invalid(map[string]string{"id": "id and raft_addr are required"})
	}
	if n.LogicVersion < 1 {
		n.LogicVersion = 1
	}
	var old Node
	found, err := tx.Get(keyNode(n.ID), &old)
	if err != nil {
		return nil, err
	}
	n.JoinedIndex = tx.Index()
	if found {
		n.JoinedIndex = old.JoinedIndex
	}
	n.UpdatedIndex = tx.Index()
	// A new id at a known raft address replaces the old registration.
	err = tx.Scan(prefixNode, "", func(key string, val []byte) error {
		var other Node
		if err := json.Unmarshal(val, &other); err != nil {
			return err
		}
		if other.ID != n.ID && other.RaftAddr == n.RaftAddr {
			tx.Delete(key)
			tx.Audit("node.replace", "node/"+other.ID, map[string]string{"replaced_by": n.ID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tx.Put(keyNode(n.ID), n); err != nil {
		return nil, err
	}
	detail := map[string]any{
		"raft_addr": n.RaftAddr, "http_addr": n.HTTPAddr, "version": n.Version, "logic_version": n.LogicVersion,
	}
	if n.KeyFP != "" { // absent before TLS: old entries replay to the same audit
		detail["key_fp"] = n.KeyFP
	}
	tx.Audit("node.register", "node/"+n.ID, detail)
	return n, nil
}

func applyNodeRemove(tx *Tx, raw json.RawMessage) (any, error) {
	var in nodeRemove
	if err := DecodeStrict(raw, &in); err != nil {
		return nil, &CommandError{Code: CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	tx.Delete(keyNode(in.ID))
	tx.Audit("node.remove", "node/"+in.ID, nil)
	return nil, nil
}

func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (s *Store) selfNode() Node {
	var fp string
	if s.identity != nil && !s.identity.External() {
		// The trust's own certificates may change key on renewal: those
		// are trusted by their CA and the node id they name alone.
		fp = s.identity.KeyFingerprint()
	}
	return Node{
		KeyFP:        fp,
		ID:           s.cfg.NodeID,
		RaftAddr:     s.cfg.RaftAdvertise,
		HTTPAddr:     s.cfg.HTTPAdvertise,
		Version:      s.cfg.Version,
		LogicVersion: LogicVersion,
	}
}

// SystemActor is the actor of commands the cluster proposes itself.
var SystemActor = Actor{ID: "system", Name: "frontdoor", Role: "system"}

func (s *Store) ProposeSystem(ctx context.Context, kind Kind, payload any) (*Result, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	res, err := s.Propose(ctx, Proposal{Kind: kind, Actor: SystemActor, Payload: b})
	if err != nil {
		return nil, fmt.Errorf("propose %s: %w", kind, err)
	}
	if res.Err != nil {
		return res, fmt.Errorf("propose %s: %w", kind, res.Err)
	}
	return res, nil
}

// CheckJoinToken reports whether token is the cluster's join token, against
// the replicated hash in local state (ErrBadJoinToken when it is not, or when
// the cluster has no token yet). Membership changes other than a join (a
// removal) use it to authorise the caller.
func (s *Store) CheckJoinToken(ctx context.Context, token string) error {
	var want string
	if err := s.Read(ctx, ConsistencyStale, func(v *View) error {
		var err error
		want, err = v.joinTokenHash()
		return err
	}); err != nil {
		return fmt.Errorf("check join token: %w", err)
	}
	got := HashToken(token)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrBadJoinToken
	}
	return nil
}

// Join adds a node as a non-voter (leader only; ErrNotLeader otherwise). The
// token is checked against the replicated hash (ErrBadJoinToken). In a
// cluster with a CA the request must carry a certificate request for the
// node's key naming its ID and addresses; an ID registered with another key
// is refused (ErrNodeKey), so a token holder cannot take over a member's
// ID or addresses. The answer carries the node's new certificate. The same
// id refreshes its registry entry; a new id at a raft address the cluster
// already knows replaces the old server, unless that server still answers
// there (a rebuilt node's predecessor is gone; a live member's address is
// not for taking).
func (s *Store) Join(ctx context.Context, r JoinRequest) (JoinAnswer, error) {
	rn, err := s.leaderRaft()
	if err != nil {
		return JoinAnswer{}, err
	}
	if r.ID == "" || r.RaftAddr == "" {
		return JoinAnswer{}, fmt.Errorf("join: id and raft_addr are required")
	}
	if err := s.CheckJoinToken(ctx, r.Token); err != nil {
		return JoinAnswer{}, fmt.Errorf("join: %w", err)
	}
	issue, keyFP, err := s.checkJoinCSR(ctx, r)
	if err != nil {
		return JoinAnswer{}, fmt.Errorf("join: %w", err)
	}
	cf := rn.GetConfiguration()
	if err := cf.Error(); err != nil {
		return JoinAnswer{}, fmt.Errorf("join: configuration: %w", mapRaftError(err))
	}
	lv := r.LogicVersion
	if lv == 0 {
		lv = LogicVersion
	}
	member := false
	for _, srv := range cf.Configuration().Servers {
		switch {
		case srv.ID == raft.ServerID(r.ID) && srv.Address == raft.ServerAddress(r.RaftAddr):
			member = true
		case srv.ID == raft.ServerID(r.ID) || srv.Address == raft.ServerAddress(r.RaftAddr):
			// Same id at a new address (its key was checked above), or a
			// new id at a known address: a node rebuilt with an empty data
			// dir. The old entry goes, unless the member registered there
			// still answers as itself: then this is a token holder taking
			// over a live member's address.
			if srv.ID != raft.ServerID(r.ID) && s.answersAs(string(srv.Address), string(srv.ID)) {
				return JoinAnswer{}, fmt.Errorf("join: %w: %s is the address of member %s, which is up; remove it first (DELETE /v1/cluster/nodes/%s) if it is being rebuilt",
					ErrNodeKey, srv.Address, srv.ID, srv.ID)
			}
			if err := rn.RemoveServer(srv.ID, 0, s.tuning.ApplyTimeout).Error(); err != nil {
				return JoinAnswer{}, fmt.Errorf("join: remove old server %s: %w", srv.ID, mapRaftError(err))
			}
			if srv.ID != raft.ServerID(r.ID) {
				if _, err := s.ProposeSystem(ctx, KindNodeRemove, nodeRemove{ID: string(srv.ID)}); err != nil {
					return JoinAnswer{}, fmt.Errorf("join: %w", err)
				}
			}
		}
	}
	// Registered before it is added, so members accept the node's
	// certificate when the leader starts replicating to it.
	_, err = s.ProposeSystem(ctx, KindNodeRegister, Node{
		ID: r.ID, RaftAddr: r.RaftAddr, HTTPAddr: r.HTTPAddr, Version: r.Version, LogicVersion: lv, KeyFP: keyFP,
	})
	if err != nil {
		return JoinAnswer{}, fmt.Errorf("join: %w", err)
	}
	if !member {
		if err := rn.AddNonvoter(raft.ServerID(r.ID), raft.ServerAddress(r.RaftAddr), 0, s.tuning.ApplyTimeout).Error(); err != nil {
			return JoinAnswer{}, fmt.Errorf("join: add non-voter %s: %w", r.ID, mapRaftError(err))
		}
	}
	var ans JoinAnswer
	if issue != nil {
		if ans, err = issue(); err != nil {
			return JoinAnswer{}, fmt.Errorf("join: %w", err)
		}
	}
	s.log.Info("node joined", "id", r.ID, "raft_addr", r.RaftAddr, "http_addr", r.HTTPAddr, "already_member", member)
	return ans, nil
}

// answersAs reports whether the member id answers at raft address addr:
// a mutual-TLS handshake with the node there, whose certificate names id
// (peerMux.dial checks it is the member registered at addr). False
// without a TCP transport.
func (s *Store) answersAs(addr, id string) bool {
	if s.mux == nil {
		return false
	}
	c, err := s.mux.dial(addr, channelHTTP, 2*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	pc, ok := c.(*PeerConn)
	return ok && pc.Peer.ID == id
}

// Promote makes a non-voter a voter (leader only). The caller decides when
// the node has caught up (e.g. its applied index is near the leader's).
func (s *Store) Promote(ctx context.Context, id string) error {
	rn, err := s.leaderRaft()
	if err != nil {
		return err
	}
	cf := rn.GetConfiguration()
	if err := cf.Error(); err != nil {
		return fmt.Errorf("promote: configuration: %w", mapRaftError(err))
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID != raft.ServerID(id) {
			continue
		}
		if srv.Suffrage == raft.Voter {
			return nil
		}
		if err := rn.AddVoter(srv.ID, srv.Address, 0, timeoutFrom(ctx, s.tuning.ApplyTimeout)).Error(); err != nil {
			return fmt.Errorf("promote %s: %w", id, mapRaftError(err))
		}
		s.log.Info("node promoted to voter", "id", id)
		return nil
	}
	return fmt.Errorf("promote %s: %w", id, ErrNotFound)
}

// RemoveNode removes a node from the raft configuration and the registry
// (leader only).
func (s *Store) RemoveNode(ctx context.Context, id string) error {
	rn, err := s.leaderRaft()
	if err != nil {
		return err
	}
	if err := rn.RemoveServer(raft.ServerID(id), 0, timeoutFrom(ctx, s.tuning.ApplyTimeout)).Error(); err != nil {
		return fmt.Errorf("remove %s: %w", id, mapRaftError(err))
	}
	if _, err := s.ProposeSystem(ctx, KindNodeRemove, nodeRemove{ID: id}); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

func timeoutFrom(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 && d < def {
			return d
		}
	}
	return def
}
