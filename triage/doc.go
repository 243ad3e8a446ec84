// Package triage holds frontdoor's pure clinical scoring rules: NEWS2 for adults
// and the NICE NG143 traffic light for febrile children under 5. Everything here is
// deterministic (no I/O, no clock, no randomness) so that the replicated state
// machine can call it inside raft Apply and recompute the same result on every node.
package triage
