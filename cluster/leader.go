package cluster

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// WhileLeader runs task on this node for each term in which it leads:
// started once the term's first command has applied here (so everything
// committed earlier is applied too), cancelled when leadership is lost, ctx
// ends or the store closes; at most one run at a time. Leadership is
// checked every poll. It returns at once; call it after Open. Tasks never
// change state themselves: what they decide is a command, which the FSM
// validates.
func (s *Store) WhileLeader(ctx context.Context, poll time.Duration, task func(ctx context.Context)) error {
	if s.raftNode() == nil {
		return ErrNotOpen
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.superviseLeaderTask(ctx, poll, task)
	}()
	return nil
}

func (s *Store) superviseLeaderTask(ctx context.Context, poll time.Duration, task func(ctx context.Context)) {
	var (
		cancel context.CancelFunc
		done   chan struct{}
		term   uint64
	)
	stop := func() {
		if cancel != nil {
			cancel()
			<-done
			cancel, done = nil, nil
		}
	}
	defer stop()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		r := s.raftNode()
		leading := r != nil && r.State() == raft.Leader
		var cur uint64
		if r != nil {
			cur = r.CurrentTerm()
		}
		switch {
		case leading && (cancel == nil || cur != term):
			stop()
			term = cur
			tctx, c := context.WithCancel(ctx)
			cancel, done = c, make(chan struct{})
			go func(d chan struct{}) {
				defer close(d)
				// Barrier: the term's first command (the leader's own
				// registration, proposed by watchLeadership) has applied,
				// so has every earlier entry. A raft.Barrier would do the
				// same but leaves an entry the FSM never applies, so
				// readiness (applied vs commit index) would lag until the
				// next command.
				if err := s.waitLeaderReady(tctx); err != nil {
					return
				}
				task(tctx)
			}(done)
		case !leading && cancel != nil:
			s.log.Info("leader task stopping: leadership lost")
			stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Logger is the store's logger (its records name the node).
func (s *Store) Logger() *slog.Logger { return s.log }

// Clock is the leader's clock used to stamp proposals (Config.Clock, or
// time.Now); domain workers on the leader use it for their deadlines.
func (s *Store) Clock() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}
