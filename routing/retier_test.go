package routing

import (
	"slices"
	"testing"
)

func TestRetierCareNeeds(t *testing.T) {
	for _, tc := range []struct {
		needs []string
		to    Tier
		want  []string
	}{
		{[]string{"emergency"}, TierGP, []string{"gp_assessment"}},
		{[]string{"emergency", "paediatrics"}, TierGP, []string{"gp_assessment", "paediatrics"}},
		{[]string{"gp_assessment"}, TierED, []string{"emergency"}},
		{[]string{"eye"}, TierED, []string{"emergency", "eye"}},
		{[]string{"ucr:falls"}, TierED, []string{"emergency"}},
		{[]string{"ucr:falls"}, TierRapidResponse, []string{"ucr:falls"}},
		{[]string{"pharmacy_first:uti"}, TierGP, []string{"gp_assessment", "pharmacy_first:uti"}},
		{[]string{"pharmacy_first:uti"}, TierED, []string{"emergency"}},
		{[]string{"self_care"}, TierPharmacy, []string{"minor_illness"}},
		{nil, TierGP, []string{"gp_assessment"}},
	} {
		if got := RetierCareNeeds(tc.needs, tc.to); !slices.Equal(got, tc.want) {
			t.Errorf("RetierCareNeeds(%v, %s) = %v, want %v", tc.needs, tc.to, got, tc.want)
		}
	}
}
