package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Propose stamps p with this leader's clock, fresh IDs and the cluster's
// logic version, sends it to raft (grouped with concurrent proposals into one
// entry) and returns the command's Result once applied here.
//
// Errors: ErrNotLeader (forward to the leader), ErrNoLeader (not
// accepted, retry later), ErrOutcomeUnknown (may still commit: retry with the
// same idempotency key), ErrUnsupportedKind, ErrFatal, ErrNotOpen.
func (s *Store) Propose(ctx context.Context, p Proposal) (*Result, error) {
	if _, err := s.leaderRaft(); err != nil {
		return nil, err
	}
	if why := s.DiskLow(); why != "" {
		return nil, fmt.Errorf("propose %s: %w (%s)", p.Kind, ErrDiskFull, why)
	}
	h, ok := s.cmds[p.Kind]
	if !ok {
		return nil, fmt.Errorf("propose %s: %w", p.Kind, ErrUnsupportedKind)
	}
	lv := s.clusterLogicVersion()
	if !proposable(h.Since, lv) {
		return nil, fmt.Errorf("propose %s (since logic version %d, cluster at %d): %w", p.Kind, h.Since, lv, ErrUnsupportedKind)
	}
	now := time.Now().UTC()
	if s.cfg.Clock != nil {
		now = s.cfg.Clock().UTC()
	}
	res, checked, err := s.precheck(ctx, h, p, lv, now)
	if err != nil || res != nil {
		return res, err
	}
	env := Envelope{
		Kind:         p.Kind,
		LogicVersion: lv,
		Time:         now,
		Actor:        p.Actor,
		Idempotency:  p.Idempotency,
		Payload:      p.Payload,
	}
	if h.IDs > 0 {
		env.IDs = make([]string, h.IDs)
		for i := range env.IDs {
			env.IDs[i] = s.ids.next(now)
		}
	}
	b, err := json.Marshal(&env)
	if err != nil {
		return nil, fmt.Errorf("propose %s: encode: %w", p.Kind, err)
	}
	req := &proposeReq{env: b, done: make(chan proposeResp, 1)}
	s.checked.put(b, checked)
	defer s.checked.forget(b) // applied: already taken; otherwise never will be
	if err := s.batcher.submit(ctx, req); err != nil {
		return nil, err
	}
	select {
	case resp := <-req.done:
		if resp.err == nil {
			if err := s.withValue(ctx, resp.res); err != nil {
				return nil, fmt.Errorf("propose %s: %w", p.Kind, err)
			}
		}
		return resp.res, resp.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqCancelled) {
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, ctx.Err())
	}
}

// withValue gives a Result that names its resource but was applied here
// without its bytes (the checked table had dropped the proposal, being
// full) the resource as it is now.
func (s *Store) withValue(ctx context.Context, res *Result) error {
	if res == nil || res.Ref == nil || res.Value != nil || res.Err != nil {
		return nil
	}
	return s.Read(ctx, ConsistencyStale, func(v *View) error { return s.cmds.reread(v, res) })
}

// precheck runs, on the leader's state before proposing, first the
// idempotency lookup (a retry gets its first Result, or the mismatch error,
// whatever the state is now) and then the command's Check (a refusal is
// returned as the Result's Err and nothing is proposed). A nil Result means
// propose, with what the Check computed for Apply (Tx.Checked). Apply
// repeats both, so a command that passes here can still be refused, or
// replayed, by what commits before it.
func (s *Store) precheck(ctx context.Context, c Command, p Proposal, lv int, now time.Time) (*Result, any, error) {
	if p.Idempotency == nil && c.Check == nil {
		return nil, nil, nil
	}
	var res *Result
	var checked any
	err := s.Read(ctx, ConsistencyStale, func(v *View) error {
		if p.Idempotency != nil {
			var rec idemRecord
			found, err := v.Get(keyIdem(p.Idempotency.Key), &rec)
			if err != nil {
				return err
			}
			if found && !(lv >= idemExpirySince && idemExpired(&rec, now)) {
				res = idemAnswer(&rec, p.Idempotency, 0)
				return s.cmds.reread(v, res)
			}
		}
		if c.Check == nil {
			return nil
		}
		var err error
		checked, err = c.Check(v, p.Actor, now, p.Payload)
		var ce *CommandError
		if errors.As(err, &ce) {
			res = &Result{Err: ce}
			return nil
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("check %s: %w", p.Kind, err)
	}
	if res != nil {
		checked = nil
	}
	return res, checked, nil
}

// leaderRaft returns raft if this node is an open, healthy leader.
func (s *Store) leaderRaft() (*raft.Raft, error) {
	r := s.raftNode()
	if r == nil {
		return nil, ErrNotOpen
	}
	if fe := s.fsmPtr.Load().fatal(); fe != nil {
		return nil, fmt.Errorf("%w: %v", ErrFatal, fe)
	}
	if r.State() != raft.Leader {
		if addr, _ := r.LeaderWithID(); addr != "" {
			return nil, ErrNotLeader
		}
		return nil, ErrNoLeader
	}
	return r, nil
}

// clusterLogicVersion is the highest logic version every registered node
// understands (capped by this binary's), cached briefly.
func (s *Store) clusterLogicVersion() int {
	s.lvMu.Lock()
	defer s.lvMu.Unlock()
	c := s.lv
	if c.at.IsZero() || time.Since(c.at) > 200*time.Millisecond {
		var nodes []Node
		_ = s.Read(context.Background(), ConsistencyStale, func(v *View) error {
			var err error
			nodes, err = v.Nodes()
			return err
		})
		lv := commonLogicVersion(nodes, LogicVersion)
		c = lvEntry{lv: lv, at: time.Now()}
		s.lv = c
	}
	return c.lv
}

type lvEntry struct {
	lv int
	at time.Time
}

func resolveTCP(addr string) (net.Addr, error) {
	return net.ResolveTCPAddr("tcp", addr)
}

// commonLogicVersion is the highest logic version every registered node
// understands, capped by own (this binary's). A leader proposes under it, so
// during a rolling upgrade new behaviour starts only once every node runs a
// binary that has it.
func commonLogicVersion(nodes []Node, own int) int {
	lv := own
	for _, n := range nodes {
		if n.LogicVersion > 0 && n.LogicVersion < lv {
			lv = n.LogicVersion
		}
	}
	return lv
}

// proposable reports whether a kind introduced at since may be proposed when
// the cluster's common logic version is lv.
func proposable(since, lv int) bool { return since <= lv }
