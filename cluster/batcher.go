package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Group commit: concurrent proposals are packed into one raft entry (each
// command keeps its own Result). While fewer than maxInFlight entries are
// waiting for raft, a proposal goes out at once (no added latency at low
// load); while they are all in flight, new proposals queue and leave together
// as the next entry. That is the only linger.
const (
	maxBatchCommands = 256
	maxBatchBytes    = 1 << 20
	maxInFlight      = 2
)

const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

type proposeReq struct {
	env   []byte
	state atomic.Int32
	done  chan proposeResp // buffered 1
}

type proposeResp struct {
	res *Result
	err error
}

type batcher struct {
	raft    *raft.Raft
	timeout time.Duration
	metrics *metrics
	in      chan *proposeReq
	sem     chan struct{}
	stop    chan struct{}
	down    chan struct{} // closed once raft has shut down
	wg      sync.WaitGroup
}

func newBatcher(r *raft.Raft, timeout time.Duration, m *metrics) *batcher {
	b := &batcher{
		raft:    r,
		timeout: timeout,
		metrics: m,
		in:      make(chan *proposeReq, 4*maxBatchCommands),
		sem:     make(chan struct{}, maxInFlight),
		stop:    make(chan struct{}),
		down:    make(chan struct{}),
	}
	b.wg.Add(1)
	go b.run()
	return b
}

// raftStopped tells in-flight applies that raft has shut down. raft v1.7.3
// never answers an Apply future whose entry was committed but still queued
// for the FSM when it shut down, so without this they would wait forever.
func (b *batcher) raftStopped() { close(b.down) }

func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
	// Fail whatever is still queued: it never reached raft.
	for {
		select {
		case r := <-b.in:
			if r.state.CompareAndSwap(reqQueued, reqTaken) {
				r.done <- proposeResp{err: ErrNotLeader}
			}
		default:
			return
		}
	}
}

// submit queues a request; the caller waits on r.done.
func (b *batcher) submit(ctx context.Context, r *proposeReq) error {
	select {
	case b.in <- r:
		return nil
	case <-b.stop:
		return ErrNotOpen
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrNoLeader, ctx.Err())
	}
}

func (b *batcher) run() {
	defer b.wg.Done()
	for {
		var first *proposeReq
		select {
		case first = <-b.in:
		case <-b.stop:
			return
		}
		batch, size := b.take(nil, 0, first)
		batch, size = b.drain(batch, size)
		// Wait for an in-flight slot; proposals arriving meanwhile join.
		select {
		case b.sem <- struct{}{}:
		case <-b.stop:
			for _, r := range batch {
				r.done <- proposeResp{err: ErrNotLeader}
			}
			return
		}
		batch, _ = b.drain(batch, size)
		if len(batch) == 0 {
			<-b.sem
			continue
		}
		b.wg.Add(1)
		go b.apply(batch)
	}
}

// take claims r for the batch unless its caller gave up while it queued.
func (b *batcher) take(batch []*proposeReq, size int, r *proposeReq) ([]*proposeReq, int) {
	if r.state.CompareAndSwap(reqQueued, reqTaken) {
		batch = append(batch, r)
		size += len(r.env)
	}
	return batch, size
}

func (b *batcher) drain(batch []*proposeReq, size int) ([]*proposeReq, int) {
	for len(batch) < maxBatchCommands && size < maxBatchBytes {
		select {
		case r := <-b.in:
			batch, size = b.take(batch, size, r)
		default:
			return batch, size
		}
	}
	return batch, size
}

func (b *batcher) apply(batch []*proposeReq) {
	defer b.wg.Done()
	envs := make([][]byte, len(batch))
	for i, r := range batch {
		envs[i] = r.env
	}
	if b.metrics != nil {
		b.metrics.proposalBatch.Observe(float64(len(batch)))
	}
	f := b.raft.Apply(encodeEntry(envs), b.timeout)
	errCh := make(chan error, 1)
	go func() { errCh <- f.Error() }()
	var err error
	select {
	case err = <-errCh:
	case <-b.down:
		select {
		case err = <-errCh:
		default:
			err = raft.ErrRaftShutdown // -> ErrOutcomeUnknown
		}
	}
	<-b.sem
	if err != nil {
		err = mapRaftError(err)
		for _, r := range batch {
			r.done <- proposeResp{err: err}
		}
		return
	}
	switch resp := f.Response().(type) {
	case []*Result:
		if len(resp) != len(batch) {
			err := fmt.Errorf("apply returned %d results for %d commands", len(resp), len(batch))
			for _, r := range batch {
				r.done <- proposeResp{err: err}
			}
			return
		}
		for i, r := range batch {
			r.done <- proposeResp{res: resp[i]}
		}
	case *fatalResult:
		for _, r := range batch {
			r.done <- proposeResp{err: fmt.Errorf("%w: %v", ErrFatal, resp.err)}
		}
	default:
		for _, r := range batch {
			r.done <- proposeResp{err: fmt.Errorf("%w: unexpected apply response %T", ErrOutcomeUnknown, resp)}
		}
	}
}

// mapRaftError sorts raft's errors into "not accepted" and "outcome unknown".
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	default: // ErrLeadershipLost, ErrRaftShutdown, ErrAbortedByRestore...
		return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
	}
}
