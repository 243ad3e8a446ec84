package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNeedsKey stops a run whose requests are refused for want of an API key.
var ErrNeedsKey = errors.New("the cluster refuses our requests: give an API key with --key (or check its role)")

// ackObserver hears of every acknowledged write (chaos uses it to time
// failovers): when its successful attempt started and when it was answered.
type ackObserver interface {
	ack(attemptStart, answered time.Time)
}

// Session is one worker's handle on the cluster: workloads call Write and
// Read, and the session retries, measures and records.
type Session struct {
	client    *Client
	stats     *Stats
	ledger    *Ledger
	obs       ackObserver
	synth     *synth
	opTimeout time.Duration
	runID     string
	worker    int
	fatal     func(error)

	due time.Time // open loop: when the iteration should have started
}

// Key is a fresh Idempotency-Key for the nth logical write of this worker.
func (s *Session) Key(n uint64, op string) string {
	return fmt.Sprintf("lt-%s-w%d-%d-%s", s.runID, s.worker, n, op)
}

// start is the time an operation's latency counts from: the open loop's
// due time for the first operation of an iteration (so a saturated cluster
// shows its queueing, not hides it), else now.
func (s *Session) start() time.Time {
	now := time.Now()
	if !s.due.IsZero() {
		d := s.due
		s.due = time.Time{}
		if d.Before(now) {
			return d
		}
	}
	return now
}

// Retry backoff: a real client's, never longer than the server's
// Retry-After. The cap is short so that the failover times measured from
// the client side are not mostly backoff.
const (
	backoffMin = 25 * time.Millisecond
	backoffMax = 200 * time.Millisecond
)

// Write sends a request that changes state, retrying 503s and transport
// failures with the same Idempotency-Key on the next node (as a reception
// desk's client would) until it is acknowledged, definitely refused, or the
// operation timeout passes. It returns the acknowledged response, or an
// error saying why the operation failed.
func (s *Session) Write(ctx context.Context, op, method, path string, body []byte, key string) (*Response, error) {
	return s.do(ctx, op, Request{Method: method, Path: path, Body: body, IdempotencyKey: key, Node: -1}, true, false)
}

// Refusal is a definite 4xx answer to a TryWrite: the cluster understood
// the request and said no (a protocol that does not apply to the patient,
// say). The workload decides what a person at the desk would do next.
type Refusal struct {
	Resp *Response
	Kind string
}

func (r *Refusal) Error() string { return "refused: " + r.Kind + " " + trim(r.Resp.Body, 300) }

// TryWrite is Write for a request the workload expects may be refused: a
// refusal is returned as a *Refusal and counted under errors as
// "refused (expected)", not as a failed operation.
func (s *Session) TryWrite(ctx context.Context, op, method, path string, body []byte, key string) (*Response, error) {
	return s.do(ctx, op, Request{Method: method, Path: path, Body: body, IdempotencyKey: key, Node: -1}, true, true)
}

// WriteWith is Write with further headers (a BaRS message's).
func (s *Session) WriteWith(ctx context.Context, op, method, path string, body []byte, key string, header map[string]string, mayRefuse bool) (*Response, error) {
	return s.do(ctx, op, Request{Method: method, Path: path, Body: body, IdempotencyKey: key, Header: header, Node: -1}, true, mayRefuse)
}

// ReadWith is Read with further headers.
func (s *Session) ReadWith(ctx context.Context, op, path string, header map[string]string) (*Response, error) {
	return s.do(ctx, op, Request{Method: http.MethodGet, Path: path, Header: header, Node: -1}, false, false)
}

// Read sends a GET with the same retry rules (reads are always safe to retry).
func (s *Session) Read(ctx context.Context, op, path string) (*Response, error) {
	return s.do(ctx, op, Request{Method: http.MethodGet, Path: path, Node: -1}, false, false)
}

func (s *Session) do(ctx context.Context, op string, req Request, write, mayRefuse bool) (*Response, error) {
	start := s.start()
	ctx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	backoff := backoffMin
	lastKind := ""
	for attempt := 0; ; attempt++ {
		attemptStart := time.Now()
		resp, err := s.client.Do(ctx, req)
		outcome, kind := Classify(resp, err)
		switch outcome {
		case OutcomeOK:
			now := time.Now()
			s.stats.success(op, now.Sub(start))
			if write && s.obs != nil {
				s.obs.ack(attemptStart, now)
			}
			return resp, nil
		case OutcomeFatal:
			s.stats.failure(op, kind, trim(resp.Body, 300))
			err := fmt.Errorf("%s: %s: %w", op, kind, ErrNeedsKey)
			if s.fatal != nil {
				s.fatal(err)
			}
			return nil, err
		case OutcomeFailed:
			if mayRefuse && resp.Status < 500 {
				s.stats.attemptFailed(op, "refused (expected): "+kind)
				return nil, &Refusal{Resp: resp, Kind: kind}
			}
			s.stats.failure(op, kind, req.Method+" "+req.Path+": "+trim(resp.Body, 300))
			return nil, fmt.Errorf("%s: refused: %s %s", op, kind, trim(resp.Body, 300))
		}
		if ctx.Err() != nil {
			// Our own deadline or the run's end cut the attempt short:
			// not the cluster's fault, but the outcome is unknown.
			if kind == "timeout" || kind == "canceled" {
				kind = "gave up: " + kind
			}
			s.stats.failure(op, kind, "")
			return nil, fmt.Errorf("%s: no acknowledgement within %v (last: %s)", op, s.opTimeout, kind)
		}
		s.stats.attemptFailed(op, kind)
		lastKind = kind
		// Next attempt on the next node, after a backoff no longer than
		// the server's Retry-After.
		req.Node = -1
		wait := backoff
		if resp != nil && resp.RetryAfter > 0 && resp.RetryAfter < wait {
			wait = resp.RetryAfter
		}
		backoff = min(2*backoff, backoffMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.stats.failure(op, "gave up: "+lastKind, "")
			return nil, fmt.Errorf("%s: no acknowledgement within %v (last: %s)", op, s.opTimeout, lastKind)
		case <-t.C:
		}
	}
}
