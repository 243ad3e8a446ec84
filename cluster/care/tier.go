package care

import (
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The levels of care are named twice: triage.Tier, what a protocol
// decides, and routing.Tier, what a service offers, because triage and
// routing import nothing of each other. These two functions are the one
// place a value crosses; TestTiersAgree holds the two lists equal.

func routingTier(t triage.Tier) routing.Tier { return routing.Tier(t) }

func triageTier(t routing.Tier) triage.Tier { return triage.Tier(t) }
