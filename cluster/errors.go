package cluster

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors returned by Store methods; test with errors.Is.
var (
	// ErrNotLeader: this node is not the leader. Nothing was accepted; the
	// caller forwards the request to Leader().HTTPAddr.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: no leader is known or it has no quorum. Nothing was
	// accepted; safe to retry later (HTTP 503 with Retry-After).
	ErrNoLeader = errors.New("no leader")
	// ErrOutcomeUnknown: the entry was handed to raft but leadership was lost
	// before its outcome was known; it may still commit. Retry with the same
	// idempotency key.
	ErrOutcomeUnknown = errors.New("outcome unknown: leadership lost after the command was sent")
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadJoinToken: a join request carried a token whose hash does not
	// match the replicated one.
	ErrBadJoinToken = errors.New("bad join token")
	// ErrNodeKey: a join names a registered node but not with its key, or
	// its certificate request is missing or does not name what it asks for.
	ErrNodeKey = errors.New("node key refused")
	// ErrNotOpen: the Store is not open (before Open or after Close).
	ErrNotOpen = errors.New("store not open")
	// ErrUnsupportedKind: the command kind is unknown to this binary, or not
	// yet understood by every voter (rolling upgrade): nothing was proposed.
	ErrUnsupportedKind = errors.New("command kind not supported by every voter")
	// ErrFatal: the FSM met an entry it cannot apply and stopped; the node
	// must exit. Returned by Propose and Read once that has happened.
	ErrFatal = errors.New("state machine stopped")
)

// Codes carried by CommandError.Code.
const (
	CodeInvalid             = "invalid"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeIdempotencyMismatch = "idempotency_mismatch"
)

// CommandError is a business failure decided inside Apply: the command changed
// nothing and every node returns the same error.
type CommandError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"` // field path -> reason
}

// Error implements error: "code: message (field: reason, ...)".
func (e *CommandError) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %s", k, e.Fields[k])
		}
		b.WriteString(")")
	}
	return b.String()
}

// Invalid builds a CodeInvalid CommandError from field errors.
func Invalid(fields map[string]string) *CommandError {
	return &CommandError{Code: CodeInvalid, Message: "the command is not valid", Fields: fields}
}

// fatalError marks an entry this binary cannot apply; the FSM stops on it.
type fatalError struct {
	index uint64
	err   error
}

func (e *fatalError) Error() string {
	return fmt.Sprintf("entry %d: %v", e.index, e.err)
}

func (e *fatalError) Unwrap() error { return e.err }
