package cluster

import (
	"fmt"
)

// Consistency is the read consistency level of Store.Read.
type Consistency string

// Read consistency levels.
const (
	// ConsistencyStale reads the local FSM state on any node, however far behind.
	ConsistencyStale Consistency = "stale"
	// ConsistencyLeader reads on the node that believes it is the leader.
	ConsistencyLeader Consistency = "leader"
	// ConsistencyLinearizable reads on the leader after a barrier shared by
	// concurrent readers: it sees every write acknowledged before it began.
	ConsistencyLinearizable Consistency = "linearizable"
)

// ParseConsistency parses a ?consistency= value: "" -> ConsistencyLeader.
func ParseConsistency(s string) (Consistency, error) {
	switch Consistency(s) {
	case "":
		return ConsistencyLeader, nil
	case ConsistencyStale, ConsistencyLeader, ConsistencyLinearizable:
		return Consistency(s), nil
	}
	return "", fmt.Errorf("consistency %q: want stale, leader or linearizable", s)
}
