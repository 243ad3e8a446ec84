package routing

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// careNeedCase is one case of testdata/care_needs_cases.json.
type careNeedCase struct {
	Name    string    `json:"name"`
	At      time.Time `json:"at"`
	Need    Need      `json:"need"`
	Patient struct {
		AgeYears           int    `json:"age_years"`
		Sex                string `json:"sex"`
		Postcode           string `json:"postcode"`
		RegisteredPractice string `json:"registered_practice"`
		Pregnant           bool   `json:"pregnant"`
	} `json:"patient"`
	Load []struct {
		ServiceID    string    `json:"service_id"`
		SessionStart time.Time `json:"session_start"`
		Count        int       `json:"count"`
	} `json:"load"`
	Want struct {
		Service        string            `json:"service"`
		Fallback       bool              `json:"fallback"`
		Gap            bool              `json:"gap"`
		GapReason      string            `json:"gap_reason"`
		FallbackReason string            `json:"fallback_reason"`
		SeeFrom        *time.Time        `json:"see_from"`
		Reasons        map[string]string `json:"reasons"`
		Codes          map[string]string `json:"codes"`
	} `json:"want"`
}

// TestCareNeedsDecideTheService runs the fixture's cases over the demo
// directory: an eye outcome reaches the eye service when it is open and
// suitable and the ED with the gap explained when it is not; maternity
// needs reach the maternity assessment unit; a patient of an open practice
// with capacity goes there, and to the centre's GP service when it is
// closed or full; each rejection names the care need that was missing.
func TestCareNeedsDecideTheService(t *testing.T) {
	b, err := os.ReadFile("testdata/care_needs_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Cases []careNeedCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	if len(fixture.Cases) < 15 {
		t.Fatalf("%d cases", len(fixture.Cases))
	}
	d := demo(t)
	for _, tc := range fixture.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			p := PatientAged(tc.Patient.AgeYears, tc.Patient.Sex, tc.Patient.Postcode)
			p.RegisteredPractice, p.Pregnant = tc.Patient.RegisteredPractice, tc.Patient.Pregnant
			load := &Load{}
			for _, l := range tc.Load {
				for i := 0; i < l.Count; i++ {
					load.Add(Allocation{ServiceID: l.ServiceID, Kind: CapacitySlots, SessionStart: l.SessionStart})
				}
			}
			dec, err := Route(tc.Need, p, tc.At, d, load)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			w := tc.Want
			if dec.ServiceID != w.Service || dec.Fallback != w.Fallback || (dec.Gap != nil) != w.Gap {
				t.Fatalf("chose %s (fallback %v, gap %v), want %s (fallback %v, gap %v); rejections:\n%s",
					dec.ServiceID, dec.Fallback, dec.Gap != nil, w.Service, w.Fallback, w.Gap, rejectionLines(dec))
			}
			checkEveryServiceAccounted(t, d, tc.Need, dec)
			if w.SeeFrom != nil && !dec.SeeFrom.Equal(*w.SeeFrom) {
				t.Errorf("seen from %v, want %v", dec.SeeFrom, *w.SeeFrom)
			}
			if dec.Gap != nil {
				if dec.Gap.Tier != tc.Need.MinTier || dec.Gap.Reason == "" {
					t.Errorf("gap %+v: want the outcome's own tier %s, with a reason", dec.Gap, tc.Need.MinTier)
				}
				if w.GapReason != "" && !strings.Contains(dec.Gap.Reason, w.GapReason) {
					t.Errorf("gap reason %q, want it to contain %q", dec.Gap.Reason, w.GapReason)
				}
			}
			if dec.Fallback != (dec.FallbackReason != "") {
				t.Errorf("fallback %v with reason %q", dec.Fallback, dec.FallbackReason)
			}
			if w.FallbackReason != "" && dec.FallbackReason != w.FallbackReason {
				t.Errorf("fallback reason %q, want %q", dec.FallbackReason, w.FallbackReason)
			}
			for id, want := range w.Reasons {
				if r, ok := rejectionOf(dec, id); !ok || !strings.Contains(r.Reason, want) {
					t.Errorf("%s: rejection %+v (found %v), want reason containing %q", id, r, ok, want)
				}
			}
			for id, want := range w.Codes {
				if r, ok := rejectionOf(dec, id); !ok || r.Code != want {
					t.Errorf("%s: rejection %+v (found %v), want code %s", id, r, ok, want)
				}
			}
			// A service that lacks a care need says which one, in words.
			for _, r := range dec.Rejections.All() {
				if r.Code != RejectNotProvided {
					continue
				}
				named := false
				for _, n := range tc.Need.CareNeeds {
					named = named || strings.Contains(r.Reason, CareNeedWords(n))
				}
				if !named {
					t.Errorf("%s: %q names none of the outcome's care needs %v in words", r.ServiceID, r.Reason, tc.Need.CareNeeds)
				}
			}
		})
	}
}

func rejectionLines(dec Decision) string {
	var b strings.Builder
	for _, r := range dec.Rejections.All() {
		b.WriteString("  " + r.ServiceID + " [" + r.Code + "] " + r.Reason + "\n")
	}
	return b.String()
}

// specialists are the demo directory's dedicated services that a generic
// outcome must never reach.
var specialists = map[string]bool{"dental-urgent": true, "eye-cues": true, "mh-crisis": true, "miu-castlegate": true}

// TestGenericGPOutcomeNeverReachesASpecialist is a property over times of
// day and week (a bank holiday and the clock changes included), ages from
// newborn to 95, both sexes and unknown, pregnancy, postcodes, registered
// practices, timeframes and random load: a GP-tier outcome without a
// specialist need is never sent to the dental, eye, mental health or minor
// injuries service, and none of them is ever counted as suitable for it
// (an outcome naming a need finds them rejected as not providing it, in
// words; one naming none, as dedicated or not seeing the patient). A pregnant woman's outcome is never sent to minor injuries.
func TestGenericGPOutcomeNeverReachesASpecialist(t *testing.T) {
	d := demo(t)
	needs := [][]string{
		{"gp_assessment"}, {"gp_assessment", "paediatrics"}, {"minor_illness"}, {"self_care"},
		{"catheter_care"}, {"gp_assessment", "catheter_care"}, {"repeat_medicine"}, {"emergency_contraception"},
		{"pharmacy_first:uti"}, {"pharmacy_first:sore_throat"}, nil,
	}
	windows := []int{0, 60, 120, 240, 360, 720, 1440}
	ages := []int{0, 28, 200, 400, 3 * 365, 6 * 365, 15 * 365, 17 * 365, 25 * 365, 40 * 365, 70 * 365, 95 * 365}
	sexes := []string{"", "female", "male"}
	postcodes := []string{"", "DY1 1AA", "DY1 1AC", "DY2 8AA", "DY3 1AA", "DY4 1AA", "DY5 1AA", "DY6 1AA", "B1 1AA"}
	practices := []string{"", "X99001", "X99004", "X99007"}
	starts := []time.Time{
		time.Date(2026, 11, 23, 0, 0, 0, 0, London), // Monday
		time.Date(2026, 12, 24, 0, 0, 0, 0, London), // Christmas Eve and Christmas Day
		time.Date(2027, 3, 27, 0, 0, 0, 0, London),  // a weekend with the clocks going forward, then Easter Monday
	}
	r := rand.New(rand.NewPCG(14, 3))
	checked := 0
	for _, start := range starts {
		for h := 0; h < 7*24; h += 1 {
			now := start.Add(time.Duration(h)*time.Hour + time.Duration(r.IntN(60))*time.Minute)
			for k := 0; k < 6; k++ {
				cn := needs[r.IntN(len(needs))]
				need := Need{MinTier: TierGP, CareNeeds: cn, WithinMinutes: windows[r.IntN(len(windows))]}
				need.Immediate = need.WithinMinutes == 0
				p := Patient{AgeKnown: r.IntN(8) != 0, AgeDays: ages[r.IntN(len(ages))] + r.IntN(30), Sex: sexes[r.IntN(len(sexes))],
					Postcode: postcodes[r.IntN(len(postcodes))], RegisteredPractice: practices[r.IntN(len(practices))]}
				if p.Sex == "female" && r.IntN(3) == 0 {
					p.Pregnant = true
				}
				load := &Load{}
				for _, s := range d.Services {
					if s.Tier == TierGP && r.IntN(4) == 0 {
						// book out this hour's sessions of a random GP service
						for q := 0; q < 40; q++ {
							load.Add(Allocation{ServiceID: s.ID, Kind: CapacitySlots, SessionStart: now.Truncate(time.Hour).Add(-time.Duration(q) * 30 * time.Minute)})
						}
					}
				}
				dec, err := Route(need, p, now, d, load)
				if err != nil {
					t.Fatal(err)
				}
				checked++
				if specialists[dec.ServiceID] {
					t.Fatalf("%v %+v %+v: sent to the dedicated %s", now, need, p, dec.ServiceID)
				}
				if p.Pregnant && dec.ServiceID == "miu-castlegate" {
					t.Fatalf("%v: a pregnant woman's %v outcome sent to minor injuries", now, cn)
				}
				for _, rj := range dec.Rejections.All() {
					if !specialists[rj.ServiceID] {
						continue
					}
					if rj.Code == RejectNotChosen {
						t.Fatalf("%v %v: %s counted as suitable (%s)", now, cn, rj.ServiceID, rj.Reason)
					}
					if len(cn) > 0 && rj.Code != RejectNotProvided && rj.Code != RejectStatusRed {
						t.Fatalf("%v %v: %s rejected as %s (%s); want: does not provide the care", now, cn, rj.ServiceID, rj.Code, rj.Reason)
					}
					if rj.Code == RejectNotProvided && !strings.Contains(rj.Reason, CareNeedWords(cn[0])) {
						t.Errorf("%s: %q does not name the missing %s", rj.ServiceID, rj.Reason, cn[0])
					}
				}
			}
		}
	}
	if checked < 3000 {
		t.Errorf("only %d routes checked", checked)
	}
}

// TestRouteRulesChangeTheWordsNotTheChoice: under rules 0 (logic versions
// before 4) a missing need is named by its code and there is no gap or
// fallback reason; under rules 1 the same choice is explained in words.
func TestRouteRulesChangeTheWordsNotTheChoice(t *testing.T) {
	d := demo(t)
	r := rand.New(rand.NewPCG(1, 4))
	codes := CareNeedCodes()
	for i := 0; i < 400; i++ {
		now := time.Date(2026, 11, 23, 0, 0, 0, 0, London).Add(time.Duration(r.IntN(7*24*60)) * time.Minute)
		need := Need{MinTier: Tiers[r.IntN(len(Tiers))], WithinMinutes: []int{60, 240, 1440}[r.IntN(3)]}
		for k := r.IntN(3); k > 0; k-- {
			need.CareNeeds = append(need.CareNeeds, codes[r.IntN(len(codes))])
		}
		p := PatientAged(r.IntN(90), []string{"female", "male"}[r.IntN(2)], []string{"DY1 1AC", "DY5 1AA"}[r.IntN(2)])
		p.AtUsualResidence = r.IntN(2) == 0
		old, err0 := RouteRules(need, p, now, d, nil, RulesCodes)
		words, err1 := RouteRules(need, p, now, d, nil, RulesWords)
		if err0 != nil || err1 != nil {
			t.Fatal(err0, err1)
		}
		if old.ServiceID != words.ServiceID || old.Allocation != words.Allocation || old.Fallback != words.Fallback ||
			old.Rejections.Len() != words.Rejections.Len() || (old.Gap == nil) != (words.Gap == nil) {
			t.Fatalf("%v %+v: rules 0 chose %s, rules 1 %s", now, need, old.ServiceID, words.ServiceID)
		}
		if old.FallbackReason != "" || (old.Gap != nil && old.Gap.Reason != "") {
			t.Fatalf("rules 0 gave a reason: %q %+v", old.FallbackReason, old.Gap)
		}
		for j, rj := range old.Rejections.All() {
			wj := words.Rejections.At(j)
			if rj.ServiceID != wj.ServiceID || rj.Code != wj.Code {
				t.Fatalf("rejection %d differs: %+v %+v", j, rj, wj)
			}
			if rj.Code == RejectNotProvided && (!strings.HasPrefix(rj.Reason, "does not provide ") || strings.Contains(rj.Reason, "(")) {
				t.Errorf("rules 0 reason %q", rj.Reason)
			}
		}
	}
	eye := Need{MinTier: TierGP, WithinMinutes: 120, CareNeeds: []string{"eye"}}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, London)
	p := PatientAged(40, "male", "DY1 1AC")
	old, _ := RouteRules(eye, p, now, d, nil, RulesCodes)
	words, _ := RouteRules(eye, p, now, d, nil, RulesWords)
	ro, _ := rejectionOf(old, "gp-ucc-stream")
	rw, _ := rejectionOf(words, "gp-ucc-stream")
	if ro.Reason != "does not provide eye" || rw.Reason != "does not provide an urgent eye examination (eye)" {
		t.Errorf("rules 0 %q, rules 1 %q", ro.Reason, rw.Reason)
	}
}

// TestCareNeedVocabulary: every code has a meaning, none repeats, the
// four generic needs belong to their tiers, and words read as the
// rejection reasons use them.
func TestCareNeedVocabulary(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range CareNeeds() {
		if c.Code == "" || c.Meaning == "" || seen[c.Code] {
			t.Errorf("bad entry %+v", c)
		}
		seen[c.Code] = true
		if !KnownCareNeed(c.Code) || CareNeedMeaning(c.Code) != c.Meaning {
			t.Errorf("%s: lookups disagree", c.Code)
		}
	}
	if len(seen) != 31 {
		t.Errorf("%d care needs, want 31 (9 urgent community response groups, 7 Pharmacy First pathways, 15 others)", len(seen))
	}
	for tier, want := range map[Tier]string{TierSelfCare: "self_care", TierPharmacy: "minor_illness", TierGP: "gp_assessment", TierRapidResponse: "", TierED: "emergency", "bogus": ""} {
		if got := GenericCareNeed(tier); got != want {
			t.Errorf("GenericCareNeed(%s) = %q, want %q", tier, got, want)
		}
	}
	if KnownCareNeed("gp_asessment") || CareNeedWords("gp_asessment") != "gp_asessment" {
		t.Error("an unknown code is known")
	}
	if got := CareNeedWords("gp_assessment"); got != "a GP assessment (gp_assessment)" {
		t.Errorf("words %q", got)
	}
}

// TestDemoDirectoryMeetsGenericNeeds: in the demo directory every service
// that is not dedicated meets the generic need of its tier, the ED meets
// every generic need and every specialist one (not the urgent community
// response groups), the specialist services are dedicated
// (care_needs_only), the maternity assessment unit provides maternity only,
// and every care need is met by some service.
func TestDemoDirectoryMeetsGenericNeeds(t *testing.T) {
	d := demo(t)
	provides := func(s *Service, n string) bool {
		for _, p := range s.Provides {
			if p.Need == n {
				return true
			}
		}
		return false
	}
	met := map[string]bool{}
	for i := range d.Services {
		s := &d.Services[i]
		for _, p := range s.Provides {
			met[p.Need] = true
		}
		if specialists[s.ID] && !s.Eligibility.CareNeedsOnly {
			t.Errorf("%s is a specialist service but not care_needs_only", s.ID)
		}
		if s.Eligibility.CareNeedsOnly {
			continue
		}
		if g := GenericCareNeed(s.Tier); g != "" && !provides(s, g) {
			t.Errorf("%s (%s) does not provide its tier's generic need %s", s.ID, s.Tier, g)
		}
		if s.Tier == TierGP {
			for _, n := range []string{"paediatrics", "minor_illness", "self_care", "repeat_medicine", "emergency_contraception", "catheter_care", "wound_care"} {
				if !provides(s, n) {
					t.Errorf("GP service %s does not provide %s", s.ID, n)
				}
			}
		}
		if s.Tier == TierPharmacy {
			for _, n := range []string{"self_care", "repeat_medicine", "emergency_contraception"} {
				if !provides(s, n) {
					t.Errorf("pharmacy %s does not provide %s", s.ID, n)
				}
			}
		}
		if s.Tier == TierED {
			for _, c := range CareNeeds() {
				want := !strings.HasPrefix(c.Code, "ucr:") && !strings.HasPrefix(c.Code, "pharmacy_first:") && c.Code != "repeat_medicine"
				if provides(s, c.Code) != want {
					t.Errorf("ED %s provides %s: %v, want %v", s.ID, c.Code, !want, want)
				}
			}
		}
	}
	for _, c := range CareNeeds() {
		if !met[c.Code] {
			t.Errorf("no service provides %s", c.Code)
		}
	}
	for _, s := range d.Services {
		if s.ID == "mau-castlegate" && (len(s.Provides) != 1 || s.Provides[0].Need != "maternity" || !s.Eligibility.CareNeedsOnly) {
			t.Errorf("maternity assessment unit provides %+v", s.Provides)
		}
	}
}
