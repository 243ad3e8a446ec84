package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// MaxClockSkew is how far a node's wall clock may be from the leader's before
// it is reported and not ready.
const MaxClockSkew = time.Second

// LeaderInfo locates the current leader.
type LeaderInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// NodeStatus is one member as this node sees it: raft configuration merged
// with the replicated node registry.
type NodeStatus struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raft_addr"`
	HTTPAddr     string `json:"http_addr"`
	Suffrage     string `json:"suffrage"` // voter | nonvoter | none (registered, not in the raft configuration)
	State        string `json:"state"`    // leader | follower | candidate | shutdown for this node; leader or "" for others
	Version      string `json:"version"`
	LogicVersion int    `json:"logic_version"`
	Leader       bool   `json:"leader"`
}

// Status is this node's view of the cluster.
type Status struct {
	NodeID       string       `json:"node_id"`
	State        string       `json:"state"`
	Leader       *LeaderInfo  `json:"leader,omitempty"`
	Nodes        []NodeStatus `json:"nodes"`
	Clock        time.Time    `json:"clock"` // this node's wall clock when Status was taken
	Term         uint64       `json:"term"`
	LastIndex    uint64       `json:"last_index"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"` // the FSM's own applied index
	FSMClock     time.Time    `json:"fsm_clock"`     // the FSM's monotonic clock (last applied command time)
	Version      string       `json:"version"`
	LogicVersion int          `json:"logic_version"`
	Fatal        string       `json:"fatal,omitempty"` // why the FSM stopped, if it did
	// DiskLow says why the node takes no writes for want of disk space.
	DiskLow string `json:"disk_low,omitempty"`
	// Checkpoints are the last state hash checkpoints (statehash.go).
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
}

// ClockInLine reports whether a node's clock is within MaxClockSkew of the
// leader's, both read at (about) the same moment.
func ClockInLine(node, leader time.Time) bool {
	d := node.Sub(leader)
	if d < 0 {
		d = -d
	}
	return d <= MaxClockSkew
}

// JoinRequest asks the leader to add a node.
type JoinRequest struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raft_addr"`
	HTTPAddr     string `json:"http_addr"`
	Version      string `json:"version"`
	LogicVersion int    `json:"logic_version"` // 0 -> assumed LogicVersion of the leader's binary
	Token        string `json:"token"`
	// CSR is a PEM certificate request for the node's key naming its ID
	// and addresses (trust.NewCSR); required by a cluster with a CA.
	CSR string `json:"csr,omitempty"`
}

// JoinAnswer is what a join gives the node: its certificate and the
// cluster's CA (PEM), empty in a cluster without a CA.
type JoinAnswer struct {
	Certificate string `json:"certificate,omitempty"`
	CA          string `json:"ca,omitempty"`
}

// BootstrapInfo is what Bootstrap produced.
type BootstrapInfo struct {
	JoinTokenPath string // the 0600 file holding the join token
	Token         string
}

// Leader returns the current leader as this node knows it, with its HTTP
// address from the replicated node registry.
func (s *Store) Leader() (LeaderInfo, bool) {
	r := s.raftNode()
	if r == nil {
		return LeaderInfo{}, false
	}
	addr, id := r.LeaderWithID()
	if id == "" {
		return LeaderInfo{}, false
	}
	li := LeaderInfo{ID: string(id), RaftAddr: string(addr)}
	// The HTTP address, from the registry, is kept until a commit or a
	// restore changes the registry: a follower asks for it on every
	// request it forwards. The generation is read before the registry, and
	// moves only once a change is visible, so a kept address is never
	// older than its generation.
	f := s.fsmPtr.Load()
	var gen uint64
	if f != nil {
		gen = f.nodesGen.Load()
		if c := s.leaderHTTP.Load(); c != nil && c.fsm == f && c.gen == gen && c.id == li.ID {
			li.HTTPAddr = c.addr
			return li, true
		}
	}
	err := s.Read(context.Background(), ConsistencyStale, func(v *View) error {
		var n Node
		if err := v.get(keyNode(string(id)), &n); err == nil {
			li.HTTPAddr = n.HTTPAddr
		}
		return nil
	})
	if f != nil && err == nil && li.HTTPAddr != "" {
		s.leaderHTTP.Store(&leaderHTTP{fsm: f, gen: gen, id: li.ID, addr: li.HTTPAddr})
	}
	return li, true
}

// leaderHTTP is a leader's HTTP address as the registry held it at a
// generation of one FSM (Store.Leader).
type leaderHTTP struct {
	fsm  *fsm
	gen  uint64
	id   string
	addr string
}

// Status reports this node's view of the cluster: raft configuration merged
// with the node registry, indexes, and this node's wall clock.
func (s *Store) Status() Status {
	st := Status{
		NodeID:       s.cfg.NodeID,
		Clock:        s.Now(),
		Version:      s.cfg.Version,
		LogicVersion: LogicVersion,
		AppliedIndex: s.AppliedIndex(),
		State:        "shutdown",
	}
	if s.fsmPtr.Load() != nil {
		st.FSMClock = s.fsmPtr.Load().clock()
		if fe := s.fsmPtr.Load().fatal(); fe != nil {
			st.Fatal = fe.Error()
		}
		st.Checkpoints = s.fsmPtr.Load().hashes.checkpoints()
	}
	if q := s.Quarantined(); q != "" {
		st.Fatal = "quarantined: " + q
	}
	st.DiskLow = s.DiskLow()
	r := s.raftNode()
	if r == nil {
		return st
	}
	st.State = strings.ToLower(r.State().String())
	st.CommitIndex = r.CommitIndex()
	st.LastIndex = r.LastIndex()
	st.Term, _ = strconv.ParseUint(r.Stats()["term"], 10, 64)
	if li, ok := s.Leader(); ok {
		st.Leader = &li
	}
	registry := map[string]Node{}
	_ = s.Read(context.Background(), ConsistencyStale, func(v *View) error {
		nodes, err := v.Nodes()
		for _, n := range nodes {
			registry[n.ID] = n
		}
		return err
	})
	seen := map[string]bool{}
	if cf := r.GetConfiguration(); cf.Error() == nil {
		for _, srv := range cf.Configuration().Servers {
			id := string(srv.ID)
			seen[id] = true
			n := registry[id]
			ns := NodeStatus{
				ID: id, RaftAddr: string(srv.Address), HTTPAddr: n.HTTPAddr,
				Suffrage: strings.ToLower(srv.Suffrage.String()), Version: n.Version, LogicVersion: n.LogicVersion,
			}
			if st.Leader != nil && st.Leader.ID == id {
				ns.Leader = true
				ns.State = "leader"
			}
			if id == s.cfg.NodeID {
				ns.State = st.State
			}
			st.Nodes = append(st.Nodes, ns)
		}
	}
	for id, n := range registry {
		if !seen[id] {
			st.Nodes = append(st.Nodes, NodeStatus{ID: id, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr,
				Suffrage: "none", Version: n.Version, LogicVersion: n.LogicVersion})
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	return st
}

// StateHash is a sha256 over every key and value of the FSM state (including
// the applied index), with the applied index it reflects. Replicas that
// applied the same log have equal hashes; tests and diagnostics use it.
func (s *Store) StateHash() (string, uint64, error) {
	if s.fsmPtr.Load() == nil {
		return "", 0, ErrNotOpen
	}
	return s.fsmPtr.Load().stateHash()
}

func (f *fsm) stateHash() (string, uint64, error) {
	h, err := f.acquire()
	if err != nil {
		return "", 0, err
	}
	defer h.release()
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	applied, _, err := readMeta(txn)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.New()
	it := txn.NewIterator(badger.DefaultIteratorOptions)
	defer it.Close()
	var lb [8]byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		binary.BigEndian.PutUint64(lb[:], uint64(len(k)))
		sum.Write(lb[:])
		sum.Write(k)
		if err := item.Value(func(v []byte) error {
			binary.BigEndian.PutUint64(lb[:], uint64(len(v)))
			sum.Write(lb[:])
			sum.Write(v)
			return nil
		}); err != nil {
			return "", 0, err
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), applied, nil
}
