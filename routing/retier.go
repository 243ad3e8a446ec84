package routing

import "strings"

// RetierCareNeeds is what an outcome's care needs become when a clinician
// moves it to tier to: the generic need of its old tier is replaced by
// to's ("emergency" becomes "gp_assessment"), needs that only one kind of
// service meets are dropped where that kind is not at to (an urgent
// community response group outside the rapid response tier, a Pharmacy
// First pathway above GP), and the specialist needs stay ("paediatrics",
// "eye"). An ED outcome moved to a GP is then suitable for a GP service.
func RetierCareNeeds(needs []string, to Tier) []string {
	out := []string{}
	for _, n := range needs {
		i, known := careNeedIndex[n]
		switch {
		case known && careNeeds[i].Generic != "":
			continue
		case strings.HasPrefix(n, "ucr:") && to != TierRapidResponse:
			continue
		case strings.HasPrefix(n, "pharmacy_first:") && to != TierPharmacy && to != TierGP:
			continue
		}
		out = append(out, n)
	}
	if g := GenericCareNeed(to); g != "" {
		out = append([]string{g}, out...)
	}
	return out
}
