// Package loadtest is the load generator and correctness checker used by
// frontdoor loadtest.
//
// It talks HTTP only: it drives an existing cluster (--target) or one it
// spawns from the same binary (--spawn), runs a workload closed loop at a
// fixed concurrency or open loop at a fixed rate, records every
// acknowledged write client-side, and at the end reads each one back from
// every node. Chaos (kill -9 and restart of spawned nodes) and the bare
// raft+Badger baseline (package loadtest/baseline, the only part that links
// raft and Badger) are optional.
//
// The pieces are small and pluggable: a Workload makes the requests, a
// Session gives it retries with a stable Idempotency-Key and records
// latencies, the Ledger holds what was acknowledged, and each Check reads
// the cluster at the end and says how many things it found wrong, or that
// it could not check.
package loadtest
