package care

import (
	"strings"
	"testing"
	"time"
)

// TestOutboxWorkerForgetsPassedRetries: the worker keeps a refused
// proposal's retry time only until it passes.
func TestOutboxWorkerForgetsPassedRetries(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	w := &outboxWorker{retryAt: map[string]time.Time{
		"passed": now.Add(-time.Second), "due now": now, "later": now.Add(5 * time.Second)}}
	w.forgetPassedRetries(now)
	if len(w.retryAt) != 1 || w.retryAt["later"].IsZero() {
		t.Fatalf("retry times kept: %v", w.retryAt)
	}
}

// TestOutboxWorkerSendsAWebhookOnce: a scan whose view was read before a
// delivery's outcome was applied still lists the entry as pending; the
// worker must not send it again (it did: a mix load run logged "webhook
// ... is already delivered" when the second delivery was recorded). The
// claim is held until a view includes the record, and no more than
// MaxInFlight deliveries run at once.
func TestOutboxWorkerSendsAWebhookOnce(t *testing.T) {
	w := &outboxWorker{cfg: DispatchConfig{MaxInFlight: 2}, inflight: map[string]uint64{}}
	a, b, c := &OutboxEntry{ID: "A"}, &OutboxEntry{ID: "B"}, &OutboxEntry{ID: "C"}
	claim := func(step string, seen uint64, pending []*OutboxEntry, want string) {
		t.Helper()
		var got []string
		for _, e := range w.claim(seen, pending) {
			got = append(got, e.ID)
		}
		if strings.Join(got, ",") != want {
			t.Fatalf("%s: claimed %v, want %q (claims %v)", step, got, want, w.inflight)
		}
	}
	claim("two at most at once", 10, []*OutboxEntry{a, b, c}, "A,B")
	claim("in flight: not again", 11, []*OutboxEntry{a, b, c}, "")
	w.inflight["A"] = 15 // A's delivery recorded at index 15
	claim("a view at 12 still lists A: not again; C fits", 12, []*OutboxEntry{a, b, c}, "C")
	claim("a view at 14: A still held", 14, []*OutboxEntry{a}, "")
	claim("a view at 15 includes A's record: forgotten", 15, nil, "")
	if _, held := w.inflight["A"]; held {
		t.Fatalf("A still claimed after a view included its record: %v", w.inflight)
	}
	delete(w.inflight, "B") // B's outcome could not be recorded: forgotten at once
	claim("A pending again after its record (a retry) goes, beside C", 16, []*OutboxEntry{a, b}, "A")
	claim("B would make three", 16, []*OutboxEntry{b}, "")
}
