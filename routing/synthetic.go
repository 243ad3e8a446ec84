package routing

import (
	"fmt"
	"math/rand/v2"
)

// SyntheticDirectory generates a deterministic directory of n services
// (plus one always-open ED) for benchmarks and property tests: the same
// seed always gives the same directory. It is validated before return.
func SyntheticDirectory(seed uint64, n int) (*Directory, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := &Directory{Name: fmt.Sprintf("synthetic-%d-%d", seed, n), CentrePostcode: "SY1 1AA", Postcodes: map[string]LatLon{}}
	const districts = 20
	for di := 1; di <= districts; di++ {
		for s := 0; s < 5; s++ {
			pc := fmt.Sprintf("SY%d %dAA", di, s+1)
			d.Postcodes[pc] = LatLon{52.4 + r.Float64()*0.3, -2.3 + r.Float64()*0.4}
		}
	}
	d.Postcodes["SY1 1AA"] = LatLon{52.55, -2.1}
	days := []string{"mon-fri", "mon-sat", "daily", "sat,sun", "tue-thu", "sun"}
	clocks := []string{"00:00", "07:00", "08:00", "08:30", "09:00", "12:00", "13:00", "14:00", "17:30", "18:00", "18:30", "20:00", "22:00", "23:00", "02:00", "24:00"}
	tiers := []Tier{TierSelfCare, TierPharmacy, TierPharmacy, TierGP, TierGP, TierRapidResponse, TierED}
	for i := 0; i < n; i++ {
		t := tiers[r.IntN(len(tiers))]
		s := Service{
			ID:       fmt.Sprintf("syn-%05d", i),
			Name:     fmt.Sprintf("Synthetic service %d", i),
			Tier:     t,
			Postcode: fmt.Sprintf("SY%d %dAA", 1+r.IntN(districts), 1+r.IntN(5)),
		}
		if r.IntN(20) == 0 {
			s.AlwaysOpen = true
		} else {
			for k := 0; k < 1+r.IntN(3); k++ {
				s.Sessions = append(s.Sessions, Session{Days: days[r.IntN(len(days))], Start: clocks[r.IntN(len(clocks)-1)], End: clocks[1+r.IntN(len(clocks)-1)], Slots: r.IntN(6)})
			}
			if r.IntN(2) == 0 {
				s.BankHoliday = []Session{{Start: "10:00", End: "16:00", Slots: 1 + r.IntN(4)}}
			}
			if r.IntN(10) == 0 {
				s.Exceptions = []DateException{{Date: fmt.Sprintf("2026-%02d-%02d", 1+r.IntN(12), 1+r.IntN(28))}}
			}
		}
		switch r.IntN(3) {
		case 0:
			s.Capacity = Capacity{Kind: CapacitySlots}
		case 1:
			s.Capacity = Capacity{Kind: CapacityPlaces, Places: 1 + r.IntN(5)}
		}
		if s.AlwaysOpen && s.Capacity.Kind == CapacitySlots {
			s.Capacity = Capacity{}
		}
		switch r.IntN(8) {
		case 0:
			s.RAG = RAG{Status: StatusRed}
		case 1:
			s.RAG = RAG{Status: StatusRed, SetAt: "2026-03-01T09:00:00Z", ResetAfterMinutes: 60 * (1 + r.IntN(48))}
		case 2:
			s.RAG = RAG{Status: StatusAmber}
		}
		if r.IntN(4) == 0 {
			s.Eligibility.Age = AgeRange{MinYears: r.IntN(20), MaxYears: []int{0, 17, 64, 90}[r.IntN(4)]}
			if s.Eligibility.Age.MaxYears != 0 && s.Eligibility.Age.MaxYears < s.Eligibility.Age.MinYears {
				s.Eligibility.Age.MaxYears = 0
			}
		}
		if r.IntN(10) == 0 {
			s.Eligibility.Sex = []string{"female", "male"}[r.IntN(2)]
		}
		if t == TierRapidResponse {
			s.Eligibility.RequiresUsualResidence = true
			s.Eligibility.Catchment = []string{fmt.Sprintf("SY%d", 1+r.IntN(districts)), fmt.Sprintf("SY%d %d", 1+r.IntN(districts), 1+r.IntN(5))}
		}
		for _, need := range CareNeedCodes() {
			if r.IntN(3) == 0 {
				p := Provision{Need: need}
				if r.IntN(4) == 0 {
					p.Age = AgeRange{MinYears: r.IntN(18)}
				}
				s.Provides = append(s.Provides, p)
			}
		}
		d.Services = append(d.Services, s)
	}
	d.Services = append(d.Services, Service{ID: "syn-ed", Name: "Synthetic ED", Tier: TierED, Postcode: "SY1 1AA", AlwaysOpen: true})
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("synthetic directory: %w", err)
	}
	return d, nil
}
