package care

import (
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
