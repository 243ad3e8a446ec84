// Package cluster is frontdoor's replicated state machine: one Store owns a
// hashicorp/raft node (raft-boltdb log and stable store, file snapshots, TCP
// transport) and a Badger-backed FSM.
//
// The FSM is the only place where state changes. An HTTP handler builds a
// Proposal; the leader's Store stamps it with the leader's clock, fresh
// sortable IDs and the cluster's logic version, groups concurrent proposals
// into one raft entry, and waits for FSM.ApplyBatch to return each command's
// Result. Apply is deterministic (no wall clock, randomness, map order or I/O
// other than Badger) and idempotent by raft index: the applied index is written
// in the same Badger transaction as the effects.
//
// # Adding a command kind
//
// One file per command family (see attendance.go, membership.go):
//
//   - a Kind constant and a payload type with snake_case JSON;
//   - a handler func(tx *Tx, payload json.RawMessage) (any, error) that
//     decodes strictly, validates, reads and writes through tx (Get/Put/
//     Delete/Scan), takes IDs with tx.NewID, reads time with tx.Now and
//     records tx.Audit; a business failure returns a *CommandError and
//     nothing it wrote is kept; any other error stops the node; a handler
//     whose result is a resource it stored (an attendance) returns a
//     *Resource and its Command declares Reread, so that idempotency
//     records name the resource instead of holding it (resource.go);
//   - registerHandler(kind, handlerSpec{Since: <logic version>, IDs: n}, fn)
//     in init. Since is the LogicVersion that introduced the kind; a leader
//     proposes it only once every registered node runs at least that version.
//     Changing what an existing handler decides means bumping LogicVersion and
//     branching on tx.LogicVersion().
//
// Records live under their own key prefix with secondary index keys (see
// keys.go); View gets a read method per query.
//
// # Guarantees
//
//   - Propose returns a Result only after the entry is committed and applied
//     on this node. ErrNotLeader and ErrNoLeader mean nothing was accepted;
//     ErrOutcomeUnknown means it may still commit (retry with the same
//     Idempotency key).
//   - An entry this binary cannot apply (unknown kind, newer logic version,
//     undecodable) stops the FSM: applied index frozen, snapshots refused,
//     Config.OnFatal called; the binary must exit.
//   - Restart resumes from Badger when it is at least as new as the newest
//     snapshot (NoSnapshotRestoreOnStart); otherwise raft restores the
//     snapshot into a fresh Badger directory that is swapped in.
package cluster
