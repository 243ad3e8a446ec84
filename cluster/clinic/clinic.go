// Package clinic assembles the clinic's replicated state: every domain
// package's command kinds, in one list for cluster.Config.Commands. A new
// domain package adds its Commands here; a new kind is declared in its own
// package and appears in testdata/kinds.txt (TestKindsAreCompleteAndStable).
package clinic

import (
	"encoding/json"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
)

// Commands are every domain command kind (the engine adds its own
// membership commands), each holding its payload to the input limits
// first (withInputLimits).
func Commands() []cluster.Command {
	var out []cluster.Command
	for _, part := range [][]cluster.Command{access.Commands(), directory.Commands(), protocolset.Commands(), care.Commands()} {
		for _, c := range part {
			out = append(out, withInputLimits(c))
		}
	}
	return out
}

// InputLimitsSince is the logic version from which every command's
// payload is held to the input limits in Apply.
const InputLimitsSince = 8

// withInputLimits makes c's Apply refuse (CodeInvalid, nothing written) a
// payload that breaks the input limits (inputlimit.Check, dates of birth
// against the command's time), from logic version InputLimitsSince; older
// entries replay as they were applied.
func withInputLimits(c cluster.Command) cluster.Command {
	apply := c.Apply
	c.Apply = func(tx *cluster.Tx, raw json.RawMessage) (any, error) {
		if tx.LogicVersion() >= InputLimitsSince {
			if f := inputlimit.Check(raw, tx.Now()); f != nil {
				return nil, cluster.Invalid(f)
			}
		}
		return apply(tx, raw)
	}
	return c
}
