package loadtest

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// AckedWrite is one write the cluster acknowledged (2xx), as the client
// recorded it at the time: where to read it back and what it must contain.
type AckedWrite struct {
	Op      string    `json:"op"`              // the workload operation, e.g. "create"
	Key     string    `json:"idempotency_key"` // the key it was sent (and retried) with
	Path    string    `json:"path"`            // where to read it back, e.g. /v1/attendances/01J…
	Ref     string    `json:"ref,omitempty"`   // what other checks match it by (a dispatch's id)
	Node    int       `json:"node"`            // the node that answered
	AckedAt time.Time `json:"acked_at"`
	// Expect is a JSON object that the record read back must contain:
	// every member present with an equal value (see jsonContains). Kept
	// encoded: a long run holds tens of thousands of these.
	Expect json.RawMessage `json:"expect"`
}

// NewExpect encodes what a record must contain for AckedWrite.Expect.
func NewExpect(v map[string]any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("expectation: %w", err)
	}
	return b, nil
}

// Ledger is every acknowledged write of a run. Safe for concurrent use.
type Ledger struct {
	mu     sync.Mutex
	writes []AckedWrite
}

// Add records an acknowledged write.
func (l *Ledger) Add(w AckedWrite) {
	l.mu.Lock()
	l.writes = append(l.writes, w)
	l.mu.Unlock()
}

// Writes is a copy of the acknowledged writes so far.
func (l *Ledger) Writes() []AckedWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]AckedWrite(nil), l.writes...)
}

// Len is the number of acknowledged writes.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.writes)
}
