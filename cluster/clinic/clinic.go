// Package clinic assembles the clinic's replicated state: every domain
// package's command kinds, in one list for cluster.Config.Commands. A new
// domain package adds its Commands here; a new kind is declared in its own
// package and appears in testdata/kinds.txt (TestKindsAreCompleteAndStable).
package clinic

import (
	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
)

// Commands are every domain command kind (the engine adds its own
// membership commands).
func Commands() []cluster.Command {
	var out []cluster.Command
	for _, part := range [][]cluster.Command{access.Commands(), directory.Commands(), protocolset.Commands(), care.Commands()} {
		out = append(out, part...)
	}
	return out
}
