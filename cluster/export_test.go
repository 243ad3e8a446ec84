package cluster

// Test-only windows into the FSM for the external cluster_test package.

// ApplyCount is the number of commands the FSM applied since Open.
func (s *Store) ApplyCount() uint64 { return s.fsmPtr.Load().applyCount.Load() }

// RestoreCount is the number of snapshots restored since Open.
func (s *Store) RestoreCount() uint64 { return s.fsmPtr.Load().restores.Load() }
