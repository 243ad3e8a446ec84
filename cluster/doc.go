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
// Adding a command kind means one file: a payload type, a handler
// func(*Tx, payload) (any, error) and a registerHandler call in init.
package cluster
