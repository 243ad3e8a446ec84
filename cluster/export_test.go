package cluster

import (
	"context"

	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
)

// Test-only windows into the FSM for the external cluster_test package.

// ApplyCount is the number of commands the FSM applied since Open.
func (s *Store) ApplyCount() uint64 { return s.fsmPtr.Load().applyCount.Load() }

// RestoreCount is the number of snapshots restored since Open.
func (s *Store) RestoreCount() uint64 { return s.fsmPtr.Load().restores.Load() }

// CheckPeer is the peer check the raft port runs on a verified certificate.
func (s *Store) CheckPeer(p trust.Peer, addr string) error { return s.checkPeer(p, addr) }

// ClusterCA is the cluster CA in local state: its PEM certificate and
// sealed key.
func (s *Store) ClusterCA(ctx context.Context) (string, []byte, error) {
	ca, err := s.readCA(ctx)
	if err != nil || ca == nil {
		return "", nil, err
	}
	return ca.Cert, ca.SealedKey, nil
}
