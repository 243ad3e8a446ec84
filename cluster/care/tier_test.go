package care

import (
	"testing"

	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

func TestTiersAgree(t *testing.T) {
	pairs := []struct {
		triage  triage.Tier
		routing routing.Tier
	}{
		{triage.SelfCare, routing.TierSelfCare},
		{triage.Pharmacy, routing.TierPharmacy},
		{triage.GP, routing.TierGP},
		{triage.RapidResponse, routing.TierRapidResponse},
		{triage.ED, routing.TierED},
	}
	// triage ranks from 1, routing from 0: the same order.
	for i, p := range pairs {
		if routingTier(p.triage) != p.routing || triageTier(p.routing) != p.triage || p.triage.Rank() != i+1 || p.routing.Rank() != i {
			t.Errorf("%s and %s disagree (ranks %d, %d)", p.triage, p.routing, p.triage.Rank(), p.routing.Rank())
		}
	}
	if len(routing.Tiers) != len(pairs) {
		t.Errorf("routing has %d tiers, triage %d", len(routing.Tiers), len(pairs))
	}
	if triage.Tier("nowhere").Valid() || routing.Tier("nowhere").Rank() >= 0 {
		t.Error("an unknown tier is valid")
	}
}
