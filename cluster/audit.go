package cluster

import (
	"encoding/json"
	"time"
)

// AuditEvent is one step in the audit trail: who did what to which entity,
// when (FSM clock) and at which raft index.
type AuditEvent struct {
	Index   uint64          `json:"index"`
	Time    time.Time       `json:"time"`
	Actor   Actor           `json:"actor"`
	Action  string          `json:"action"`
	Entity  string          `json:"entity"` // e.g. attendance/<id>, node/<id>
	Kind    Kind            `json:"kind"`
	Details json.RawMessage `json:"details,omitempty"`
}
