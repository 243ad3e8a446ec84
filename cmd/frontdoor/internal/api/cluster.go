package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// clusterRoutes are the route table's rows of cluster membership: open figures, node-to-node writes under the join token (routes.go).
func clusterRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/cluster", Access: accessOpen, Summary: "Cluster members, leader, indexes and clocks (no patient data)", Handler: (*server).clusterStatus},
		{Method: "GET", Path: "/v1/cluster/self", Access: accessOpen, Summary: "This node's own figures (asked by its peers)", Handler: (*server).clusterSelf},
		{Method: "POST", Path: "/v1/cluster/join", Access: accessJoinToken, Summary: "Join a node (join token in the body)", Handler: (*server).clusterJoin},
		{Method: "POST", Path: "/v1/cluster/nodes/:id/promote", Access: accessJoinToken, Summary: "Promote a caught-up node to voter (join token in the body)", Handler: (*server).clusterPromote},
		{Method: "DELETE", Path: "/v1/cluster/nodes/:id", Access: accessJoinToken, Summary: "Remove a node (join token as Bearer)", Handler: (*server).clusterRemove},
	}
}

// NodeFigures is one member's figures in GET /v1/cluster, and this node's
// own in GET /v1/cluster/self.
type NodeFigures struct {
	ID           string    `json:"id"`
	RaftAddr     string    `json:"raft_addr"`
	HTTPAddr     string    `json:"http_addr"`
	Suffrage     string    `json:"suffrage"`
	State        string    `json:"state"`
	Version      string    `json:"version"`
	LogicVersion int       `json:"logic_version"`
	Leader       bool      `json:"leader"`
	Clock        time.Time `json:"clock,omitzero"`
	// ClockOffsetMS is the member's clock minus the answering node's,
	// corrected by half the round trip; absent when unmeasured.
	ClockOffsetMS *float64 `json:"clock_offset_ms,omitempty"`
	ClockInLine   *bool    `json:"clock_in_line,omitempty"`
	Term          uint64   `json:"term"`
	LastIndex     uint64   `json:"last_index"`
	CommitIndex   uint64   `json:"commit_index"`
	AppliedIndex  uint64   `json:"applied_index"`
	Reachable     bool     `json:"reachable"`
	Error         string   `json:"error,omitempty"`
	Fatal         string   `json:"fatal,omitempty"`
	// Checkpoints are the member's last state hash checkpoints: members
	// compare them to find one whose state differs (divergence.go).
	Checkpoints []cluster.Checkpoint `json:"checkpoints,omitempty"`
}

// ClusterView is the GET /v1/cluster body.
type ClusterView struct {
	NodeID string        `json:"node_id"` // the node that answered
	Leader string        `json:"leader,omitempty"`
	Nodes  []NodeFigures `json:"nodes"`
}

// self is this node's own figures.
func (s *server) self() NodeFigures {
	st := s.store.Status()
	f := NodeFigures{
		ID: st.NodeID, State: st.State, Version: st.Version, LogicVersion: st.LogicVersion,
		Clock: st.Clock, Term: st.Term, LastIndex: st.LastIndex, CommitIndex: st.CommitIndex,
		AppliedIndex: st.AppliedIndex, Reachable: true, Fatal: st.Fatal, Checkpoints: st.Checkpoints,
	}
	if st.Clock.IsZero() {
		f.Clock = time.Now()
	}
	for _, n := range st.Nodes {
		if n.ID == st.NodeID {
			f.RaftAddr, f.HTTPAddr, f.Suffrage = n.RaftAddr, n.HTTPAddr, n.Suffrage
		}
	}
	f.Leader = st.Leader != nil && st.Leader.ID == st.NodeID
	return f
}

func (s *server) clusterSelf(c *fiber.Ctx) error {
	return c.JSON(s.self())
}

// clusterStatus is every member's figures: the membership from this
// node's view, each member's indexes and clock from its /v1/cluster/self as
// the background refresh last fetched them (peerWatch): an open route must
// not fan out to every peer on each call.
func (s *server) clusterStatus(c *fiber.Ctx) error {
	st := s.store.Status()
	view := ClusterView{NodeID: st.NodeID, Nodes: make([]NodeFigures, len(st.Nodes))}
	if st.Leader != nil {
		view.Leader = st.Leader.ID
	}
	var want []string
	for _, n := range st.Nodes {
		if n.ID != st.NodeID && n.HTTPAddr != "" {
			want = append(want, n.ID)
		}
	}
	cached := s.peerWatch.fresh(c.UserContext(), want)
	for i, n := range st.Nodes {
		base := NodeFigures{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, Suffrage: n.Suffrage,
			State: n.State, Version: n.Version, LogicVersion: n.LogicVersion, Leader: n.Leader}
		if n.ID == st.NodeID {
			f := s.self()
			f.Suffrage, f.Leader = n.Suffrage, n.Leader
			zero, in := 0.0, true
			f.ClockOffsetMS, f.ClockInLine = &zero, &in
			view.Nodes[i] = f
			continue
		}
		view.Nodes[i] = base
		switch f, ok := cached[n.ID]; {
		case n.HTTPAddr == "":
			view.Nodes[i].Error = "no HTTP address registered"
		case !ok:
			view.Nodes[i].Error = "not measured yet"
		default:
			// The member's own state (follower, candidate) as it
			// reported it; this node's raft knows only who leads.
			f.Suffrage, f.Leader = base.Suffrage, base.Leader
			switch {
			case base.State != "":
				f.State = base.State
			case f.State == "leader":
				f.State = "" // a stale claim: this node's raft knows who leads
			}
			view.Nodes[i] = f
		}
	}
	markClocksInLine(view.Nodes) // in line with the members' median, not with this node
	sort.SliceStable(view.Nodes, func(a, b int) bool { return view.Nodes[a].ID < view.Nodes[b].ID })
	return c.JSON(view)
}

// peerWatch keeps the other members' figures (their /v1/cluster/self),
// fetched by run every interval; GET /v1/cluster and the divergence check
// read them.
type peerWatch struct {
	s *server

	refreshing sync.Mutex // one refresh at a time; callers of fresh wait for it
	mu         sync.Mutex
	figs       map[string]NodeFigures
	at         time.Time
}

func (w *peerWatch) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		w.refresh(cctx)
		cancel()
		cctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		w.checkLeaderClock(cctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refresh asks every other member for its figures (short timeout; an
// unreachable member is reported with the error).
func (w *peerWatch) refresh(ctx context.Context) {
	w.refreshing.Lock()
	defer w.refreshing.Unlock()
	st := w.s.store.Status()
	figs := map[string]NodeFigures{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range st.Nodes {
		if n.ID == st.NodeID || n.HTTPAddr == "" {
			continue
		}
		base := NodeFigures{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, Suffrage: n.Suffrage,
			State: n.State, Version: n.Version, LogicVersion: n.LogicVersion, Leader: n.Leader}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := w.s.peerFigures(ctx, base)
			mu.Lock()
			figs[n.ID] = f
			mu.Unlock()
		}()
	}
	wg.Wait()
	w.mu.Lock()
	w.figs, w.at = figs, time.Now()
	w.mu.Unlock()
}

// peerFiguresMaxAge: GET /v1/cluster refreshes figures older than this
// itself (at most one refresh at a time, whatever the request rate).
const peerFiguresMaxAge = 3 * time.Second

// fresh is figures, refreshed first when they are older than
// peerFiguresMaxAge or lack a member in want (a node just started, a
// member just joined).
func (w *peerWatch) fresh(ctx context.Context, want []string) map[string]NodeFigures {
	stale := func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		if time.Since(w.at) > peerFiguresMaxAge {
			return true
		}
		for _, id := range want {
			if _, ok := w.figs[id]; !ok {
				return true
			}
		}
		return false
	}
	if stale() {
		w.refreshing.Lock()
		still := stale()
		w.refreshing.Unlock()
		if still {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			w.refresh(cctx)
			cancel()
		}
	}
	return w.figures()
}

// figures are the last fetched figures by member id.
func (w *peerWatch) figures() map[string]NodeFigures {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.figs
}

// peerFigures asks a member for its own figures; membership fields (from
// the raft configuration, as this node sees it) are kept from base.
func (s *server) peerFigures(ctx context.Context, base NodeFigures) NodeFigures {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+base.HTTPAddr+"/v1/cluster/self", nil)
	if err != nil {
		base.Error = err.Error()
		return base
	}
	t0 := time.Now()
	resp, err := s.peers.Do(req)
	if err != nil {
		base.Error = err.Error()
		return base
	}
	defer resp.Body.Close()
	var f NodeFigures
	err = json.NewDecoder(resp.Body).Decode(&f)
	t1 := time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		base.Error = "bad /v1/cluster/self answer: " + resp.Status
		return base
	}
	mid := t0.Add(t1.Sub(t0) / 2)
	off := f.Clock.Sub(mid)
	ms := float64(off) / float64(time.Millisecond)
	in := cluster.ClockInLine(f.Clock, mid)
	f.ClockOffsetMS, f.ClockInLine = &ms, &in
	f.Suffrage, f.Leader, f.Reachable = base.Suffrage, base.Leader, true
	if f.RaftAddr == "" {
		f.RaftAddr = base.RaftAddr
	}
	if f.HTTPAddr == "" {
		f.HTTPAddr = base.HTTPAddr
	}
	return f
}

// JoinAnswer is the answer to POST /v1/cluster/join and .../promote: the
// node's state and, in a cluster with a CA, its new certificate and the
// CA's (PEM).
type JoinAnswer struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Suffrage string `json:"suffrage"`
	cluster.JoinAnswer
}

// joinBody is the body of POST /v1/cluster/join and .../promote.
type joinBody = cluster.JoinRequest

// clusterJoin adds a node as a non-voter (leader only; a follower forwards).
// The join token in the body must match the cluster's.
func (s *server) clusterJoin(c *fiber.Ctx) error {
	var req joinBody
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.ID == "" {
		fields["id"] = "required"
	}
	if req.RaftAddr == "" {
		fields["raft_addr"] = "required"
	}
	if req.HTTPAddr == "" {
		fields["http_addr"] = "required"
	}
	if req.Token == "" {
		// Refused as a token failure, not as a validation one: no token, no join.
		return problemFor(cluster.ErrBadJoinToken)
	}
	if len(fields) > 0 {
		return invalid("join request incomplete", fields)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	ans, err := s.store.Join(ctx, req)
	if errors.Is(err, cluster.ErrNotLeader) {
		return s.forward(c, true)
	}
	if err != nil {
		return err
	}
	return c.JSON(JoinAnswer{ID: req.ID, Status: "joined", Suffrage: "nonvoter", JoinAnswer: ans})
}

// clusterPromote makes a caught-up non-voter a voter. The body is the
// node's join request again: the token is checked (by Join, which for a
// known id only refreshes its metadata) before the promotion.
func (s *server) clusterPromote(c *fiber.Ctx) error {
	var req joinBody
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	if req.ID != id {
		return invalid("id in the body must match the path", map[string]string{"id": "must be " + id})
	}
	if req.Token == "" {
		return problemFor(cluster.ErrBadJoinToken)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	ans, err := s.store.Join(ctx, req)
	if err == nil {
		err = s.store.Promote(ctx, id)
	}
	if errors.Is(err, cluster.ErrNotLeader) {
		return s.forward(c, true)
	}
	if err != nil {
		return err
	}
	return c.JSON(JoinAnswer{ID: id, Status: "promoted", Suffrage: "voter", JoinAnswer: ans})
}

// tokenChecker is implemented by stores that can check a join token
// without a join (needed to protect DELETE).
type tokenChecker interface {
	CheckJoinToken(ctx context.Context, token string) error
}

// clusterRemove removes a member (leader only; a follower forwards). It
// needs the join token as "Authorization: Bearer <token>".
func (s *server) clusterRemove(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || token == "" {
		return problemFor(cluster.ErrBadJoinToken)
	}
	tc, ok := s.store.(tokenChecker)
	if !ok {
		return &Problem{Type: problemUnavailable, Title: "Not supported", Status: http.StatusNotImplemented,
			Detail: "this build cannot check join tokens for removal"}
	}
	if !s.store.IsLeader() {
		return s.forward(c, false)
	}
	if err := tc.CheckJoinToken(c.UserContext(), token); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	err := s.store.RemoveNode(ctx, id)
	if errors.Is(err, cluster.ErrNotLeader) {
		return s.forward(c, false)
	}
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
