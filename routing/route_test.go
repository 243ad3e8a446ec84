package routing

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func demo(t testing.TB) *Directory {
	t.Helper()
	d, err := DemoDirectory()
	if err != nil {
		t.Fatalf("DemoDirectory: %v", err)
	}
	return d
}

func rejectionOf(d Decision, id string) (Rejection, bool) {
	for _, r := range d.Rejections.All() {
		if r.ServiceID == id {
			return r, true
		}
	}
	return Rejection{}, false
}

// TestRouteAcrossTheWeek routes the same patient and outcome (a woman of
// 30 near the centre with a sore throat, pharmacy within 1 hour) at
// different times, checking the chosen service and why others were not.
func TestRouteAcrossTheWeek(t *testing.T) {
	d := demo(t)
	need := Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{"pharmacy_first:sore_throat"}}
	patient := PatientAged(30, "female", "DY1 1AC")
	utc := func(y int, m time.Month, day, h, min int) time.Time {
		return time.Date(y, m, day, h, min, 0, 0, time.UTC)
	}
	tests := []struct {
		name     string
		now      time.Time
		want     string
		fallback bool
		gap      bool
		reasons  map[string]string // service id -> expected reason
	}{
		{"tuesday 14:00", time.Date(2026, 11, 24, 14, 0, 0, 0, London), "ph-high-street", false, false, map[string]string{
			"ph-kingsbury":  "status red",
			"ph-market":     "suitable, but further away",
			"ph-late-night": "suitable, but further away",
			"ph-superstore": "suitable, but further away",
		}},
		{"tuesday 23:30", time.Date(2026, 11, 24, 23, 30, 0, 0, London), "ph-superstore", false, false, map[string]string{
			"ph-high-street": "closed until Wed 09:00",
			"ph-late-night":  "closed until Wed 07:00",
			"ph-market":      "closed until Wed 08:30",
			"ph-kingsbury":   "status red",
		}},
		// amber status still routes; the health centre is nearest open
		{"sunday 10:00", time.Date(2026, 11, 29, 10, 0, 0, 0, London), "ph-health-centre", false, false, map[string]string{
			"ph-high-street": "closed until Mon 09:00",
			"ph-superstore":  "suitable, but further away",
			"ph-late-night":  "suitable, but further away",
		}},
		{"easter monday 10:00", time.Date(2027, 3, 29, 10, 0, 0, 0, London), "ph-superstore", false, false, map[string]string{
			"ph-high-street": "closed until Tue 09:00",
			"ph-market":      "closed until Tue 08:30",
			"ph-late-night":  "suitable, but further away",
		}},
		{"christmas day 10:00", time.Date(2026, 12, 25, 10, 0, 0, 0, London), "ph-late-night", false, false, map[string]string{
			// exception closes it on Christmas Day; Boxing Day falls on a
			// Saturday (the bank holiday is Monday 28th), so normal hours
			"ph-superstore":  "closed until Sat 07:00",
			"ph-high-street": "closed until Sat 09:00",
		}},
		// 29 March 2026: clocks go forward at 01:00 UTC. The superstore's
		// Saturday session runs to 02:00 local, which is 01:00 UTC.
		{"spring forward, before close", utc(2026, 3, 29, 0, 15), "ph-superstore", false, false, nil},
		{"spring forward, closing", utc(2026, 3, 29, 0, 45), "ed-castlegate", true, true, map[string]string{
			"ph-superstore": "closes at 02:00, within 30 minutes",
			"ph-late-night": "closed until 10:00",
		}},
		// 25 October 2026: 01:30 local happens twice (00:30 and 01:30 UTC);
		// the session ends at 02:00 GMT = 02:00 UTC.
		{"fall back, first 01:20", utc(2026, 10, 25, 0, 20), "ph-superstore", false, false, nil},
		{"fall back, second 01:20", utc(2026, 10, 25, 1, 20), "ph-superstore", false, false, nil},
		{"fall back, second 01:45", utc(2026, 10, 25, 1, 45), "ed-castlegate", true, true, map[string]string{
			"ph-superstore": "closes at 02:00, within 30 minutes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := Route(need, patient, tt.now, d, nil)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if dec.ServiceID != tt.want || dec.Fallback != tt.fallback || (dec.Gap != nil) != tt.gap {
				t.Fatalf("chose %s (fallback %v, gap %v), want %s (fallback %v, gap %v); rejections %+v",
					dec.ServiceID, dec.Fallback, dec.Gap != nil, tt.want, tt.fallback, tt.gap, dec.Rejections)
			}
			for id, want := range tt.reasons {
				r, ok := rejectionOf(dec, id)
				if !ok || r.Reason != want {
					t.Errorf("%s: rejection %+v (found %v), want reason %q", id, r, ok, want)
				}
			}
			checkEveryServiceAccounted(t, d, need, dec)
		})
	}
}

// checkEveryServiceAccounted: every service in the tiers walked is either
// chosen or has exactly one rejection.
func checkEveryServiceAccounted(t *testing.T, d *Directory, need Need, dec Decision) {
	t.Helper()
	count := map[string]int{}
	for _, r := range dec.Rejections.All() {
		count[r.ServiceID]++
		if r.Code == "" || r.Reason == "" {
			t.Errorf("rejection without code or reason: %+v", r)
		}
	}
	last := dec.Tier.Rank()
	if dec.Fallback {
		last = TierED.Rank()
	}
	for _, s := range d.Services {
		r := s.Tier.Rank()
		if r < need.MinTier.Rank() || r > last {
			if count[s.ID] != 0 {
				t.Errorf("%s (tier %s) outside walked tiers but rejected", s.ID, s.Tier)
			}
			continue
		}
		want := 1
		if s.ID == dec.ServiceID && !dec.Fallback {
			want = 0 // a fallback ED keeps the reason it did not qualify
		}
		if count[s.ID] != want {
			t.Errorf("%s: %d rejections, want %d", s.ID, count[s.ID], want)
		}
	}
}

func TestRouteUCR(t *testing.T) {
	d := demo(t)
	tuesday := time.Date(2026, 11, 24, 10, 0, 0, 0, London)
	falls := Need{MinTier: TierRapidResponse, WithinMinutes: 120, CareNeeds: []string{"ucr:falls"}, Dx: "Dx0121"}
	atHome := func(years int, pc string) Patient {
		p := PatientAged(years, "female", pc)
		p.AtUsualResidence = true
		return p
	}
	tests := []struct {
		name     string
		need     Need
		p        Patient
		want     string
		code     string // expected rejection code of ucr-north
		fallback bool
	}{
		{"84-year-old fell at home in catchment", falls, atHome(84, "DY1 1AC"), "ucr-north", "", false},
		{"16-year-old refused", falls, atHome(16, "DY1 1AC"), "ed-castlegate", RejectAge, true},
		{"outside every catchment", falls, atHome(84, "B1 1AA"), "ed-castlegate", RejectOutsideCatchment, true},
		{"not at usual residence", falls, PatientAged(84, "female", "DY1 1AC"), "ed-castlegate", RejectNotAtResidence, true},
		{"need not provided", Need{MinTier: TierRapidResponse, WithinMinutes: 120, CareNeeds: []string{"ucr:falls", "xray"}}, atHome(84, "DY1 1AC"), "ed-castlegate", RejectNotProvided, true},
		{"south team covers DY5", falls, atHome(84, "DY5 1AB"), "ucr-south", RejectOutsideCatchment, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := Route(tt.need, tt.p, tuesday, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if dec.ServiceID != tt.want || dec.Fallback != tt.fallback {
				t.Fatalf("chose %s fallback %v, want %s fallback %v: %+v", dec.ServiceID, dec.Fallback, tt.want, tt.fallback, dec.Rejections)
			}
			if r, ok := rejectionOf(dec, "ucr-north"); tt.code != "" && (!ok || r.Code != tt.code) {
				t.Errorf("ucr-north rejection %+v, want code %s", r, tt.code)
			}
			if dec.ServiceID == "ucr-north" {
				if dec.AcceptBy == nil || !dec.AcceptBy.Equal(tuesday.Add(15*time.Minute)) {
					t.Errorf("accept by %v, want 15 minutes after now", dec.AcceptBy)
				}
				if dec.Allocation.Kind != CapacityPlaces {
					t.Errorf("allocation %+v, want places", dec.Allocation)
				}
			}
		})
	}
}

func TestRouteCapacityAndLoad(t *testing.T) {
	d := demo(t)
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, London)
	need := Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{"pharmacy_first:sore_throat"}}
	p := PatientAged(30, "female", "DY1 1AC")
	var load Load
	first, err := Route(need, p, now, d, &load)
	if err != nil || first.ServiceID != "ph-high-street" {
		t.Fatalf("first: %s %v", first.ServiceID, err)
	}
	for i := 0; i < 8; i++ { // the session has 8 slots
		load.Add(first.Allocation)
	}
	dec, err := Route(need, p, now, d, &load)
	if err != nil {
		t.Fatal(err)
	}
	if dec.ServiceID == "ph-high-street" {
		t.Fatal("a full session was chosen")
	}
	r, _ := rejectionOf(dec, "ph-high-street")
	if r.Code != RejectFull || !strings.Contains(r.Reason, "full: 0 of 8 slots") {
		t.Errorf("high street rejection %+v", r)
	}
	b, err := json.Marshal(dec)
	if err != nil || !strings.Contains(string(b), `"service_id"`) || !strings.Contains(string(b), `"session_start"`) {
		t.Errorf("decision JSON %s %v", b, err)
	}
	lb, _ := json.Marshal(load)
	var back Load
	if err := json.Unmarshal(lb, &back); err != nil || back.Sessions["ph-high-street"][first.Allocation.SessionStart.Unix()] != 8 {
		t.Errorf("load JSON round trip: %s %v %+v", lb, err, back)
	}
}

func TestRouteOwnPracticeFirstAndNeverBelowMinimum(t *testing.T) {
	d := demo(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, London)
	p := PatientAged(40, "male", "DY1 1AC")
	p.RegisteredPractice = "X99006" // Wordham: far away, but their own
	need := Need{MinTier: TierGP, WithinMinutes: 240, CareNeeds: []string{"minor_illness"}}
	dec, err := Route(need, p, now, d, nil)
	if err != nil || dec.ServiceID != "gp-x99006" {
		t.Fatalf("chose %s %v, want own practice gp-x99006", dec.ServiceID, err)
	}
	if r, _ := rejectionOf(dec, "gp-ucc-stream"); r.Code != RejectNotChosen || !strings.Contains(r.Reason, "own practice") {
		t.Errorf("ucc stream rejection %+v", r)
	}
	if r, _ := rejectionOf(dec, "gp-x99001"); r.Code != RejectNotRegistered {
		t.Errorf("other practice rejection %+v", r)
	}
	for _, r := range dec.Rejections.All() {
		if r.Tier.Rank() < TierGP.Rank() {
			t.Errorf("service below the minimum tier considered: %+v", r)
		}
	}
}

func TestRouteRAGReset(t *testing.T) {
	d := demo(t)
	for i := range d.Services {
		if d.Services[i].ID == "ph-high-street" {
			d.Services[i].RAG = RAG{Status: StatusRed, SetAt: "2026-11-24T12:00:00Z", ResetAfterMinutes: 60}
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	need := Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{"pharmacy_first:sore_throat"}}
	p := PatientAged(30, "female", "DY1 1AC")
	before, _ := Route(need, p, time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC), d, nil)
	after, _ := Route(need, p, time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC), d, nil)
	if r, _ := rejectionOf(before, "ph-high-street"); r.Code != RejectStatusRed {
		t.Errorf("before reset: %+v", r)
	}
	if after.ServiceID != "ph-high-street" {
		t.Errorf("after reset chose %s", after.ServiceID)
	}
}

func TestRouteDeterministic(t *testing.T) {
	d := demo(t)
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, London)
	need := Need{MinTier: TierPharmacy, WithinMinutes: 120, CareNeeds: []string{"minor_illness"}}
	p := Patient{} // age, sex and postcode unknown: distances from the centre
	a, err := Route(need, p, now, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	for i := 0; i < 20; i++ {
		d2 := demo(t)
		b, _ := Route(need, p, now, d2, nil)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("run %d differs:\n%s\n%s", i, ja, jb)
		}
	}
}

// TestRouteNotChosenReasons checks why each suitable service lost:
// services on one site tie on distance, so load and then id decide, and
// a patient's own practice beats a nearer one.
func TestRouteNotChosenReasons(t *testing.T) {
	b, err := os.ReadFile("testdata/ranking_directory.json")
	if err != nil {
		t.Fatal(err)
	}
	var d Directory
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode fixture: %v", err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("validate fixture: %v", err)
	}
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, London)
	today := time.Date(2026, 11, 24, 0, 0, 0, 0, London) // the all-day session's start
	booked := func(ids ...string) *Load {
		l := &Load{}
		for _, id := range ids {
			l.Add(Allocation{ServiceID: id, Kind: CapacitySlots, SessionStart: today})
		}
		return l
	}
	pharmacy := Need{MinTier: TierPharmacy, WithinMinutes: 60}
	tests := []struct {
		name    string
		need    Need
		patient Patient
		load    *Load
		want    string
		reasons map[string]string
	}{
		{"equal load: id decides", pharmacy, PatientAged(40, "male", "DY1 1AA"), &Load{}, "ph-a", map[string]string{
			"ph-b":   "suitable, tie broken by id",
			"ph-c":   "suitable, tie broken by id",
			"ph-far": "suitable, but further away",
		}},
		{"busier loses before id", pharmacy, PatientAged(40, "male", "DY1 1AA"), booked("ph-a", "ph-a", "ph-c"), "ph-b", map[string]string{
			"ph-a":   "suitable, but busier",
			"ph-c":   "suitable, but busier",
			"ph-far": "suitable, but further away",
		}},
		{"distance before load", pharmacy, PatientAged(40, "male", "DY1 1AA"), booked("ph-a", "ph-b", "ph-c"), "ph-a", map[string]string{
			"ph-b":   "suitable, tie broken by id",
			"ph-c":   "suitable, tie broken by id",
			"ph-far": "suitable, but further away",
		}},
		{"own practice first", Need{MinTier: TierGP, WithinMinutes: 60},
			Patient{AgeKnown: true, AgeDays: AgeDaysFromYears(40), Postcode: "DY1 1AA", RegisteredPractice: "M10002"},
			&Load{}, "gp-own", map[string]string{
				"gp-near": "suitable, but the patient's own practice comes first",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := Route(tc.need, tc.patient, now, &d, tc.load)
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if dec.ServiceID != tc.want {
				t.Fatalf("chose %s, want %s (rejections %+v)", dec.ServiceID, tc.want, dec.Rejections)
			}
			checkEveryServiceAccounted(t, &d, tc.need, dec)
			for id, want := range tc.reasons {
				r, ok := rejectionOf(dec, id)
				if !ok {
					t.Errorf("%s: no rejection", id)
					continue
				}
				if r.Code != RejectNotChosen || r.Reason != want {
					t.Errorf("%s: %s %q, want not_chosen %q", id, r.Code, r.Reason, want)
				}
				switch {
				case want == "suitable, but further away" && r.DistanceM <= dec.DistanceM,
					(want == "suitable, but busier" || want == "suitable, tie broken by id") && r.DistanceM != dec.DistanceM:
					t.Errorf("%s: distance %d m against the chosen %d m", id, r.DistanceM, dec.DistanceM)
				}
			}
		})
	}
}

// TestRouteDedicatedServices: care needs are honoured at the ED tier (a
// maternity need goes to the maternity assessment unit) and at the rapid
// response tier (a palliative need goes to the hospice line before the
// community teams); a dedicated (care_needs_only) service never takes a
// need that names none of its care, and is never the general fallback.
func TestRouteDedicatedServices(t *testing.T) {
	tuesday := time.Date(2026, 11, 24, 10, 0, 0, 0, London)
	night := time.Date(2026, 11, 25, 3, 0, 0, 0, London)
	ed := func(needs ...string) Need { return Need{MinTier: TierED, Immediate: true, CareNeeds: needs} }
	ucr := func(needs ...string) Need {
		return Need{MinTier: TierRapidResponse, WithinMinutes: 120, CareNeeds: needs}
	}
	woman := PatientAged(31, "female", "DY1 1AA")
	atHome := PatientAged(79, "male", "DY1 1AC")
	atHome.AtUsualResidence = true
	redMAU := func(d *Directory) {
		for i := range d.Services {
			if d.Services[i].ID == "mau-castlegate" {
				d.Services[i].RAG = RAG{Status: StatusRed}
			}
		}
	}
	tests := []struct {
		name     string
		need     Need
		p        Patient
		at       time.Time
		change   func(*Directory)
		want     string
		fallback bool
		rejected map[string]string // service id -> rejection code
	}{
		{"maternity need: the assessment unit", ed("maternity"), woman, tuesday, nil, "mau-castlegate", false,
			map[string]string{"ed-castlegate": RejectNotChosen}},
		{"maternity within 1 hour at night", Need{MinTier: TierED, WithinMinutes: 60, CareNeeds: []string{"maternity"}}, woman, night, nil, "mau-castlegate", false, nil},
		{"chest pain: the emergency department, not the unit", ed(), woman, tuesday, nil, "ed-castlegate", false,
			map[string]string{"mau-castlegate": RejectCareNeedsOnly}},
		{"unit red: the emergency department provides maternity", ed("maternity"), woman, tuesday, redMAU, "ed-castlegate", false,
			map[string]string{"mau-castlegate": RejectStatusRed}},
		{"palliative: the hospice line first", ucr("ucr:palliative"), atHome, tuesday, nil, "hospice-line", false,
			map[string]string{"ucr-north": RejectNotChosen}},
		{"palliative at night: the hospice line", ucr("ucr:palliative"), atHome, night, nil, "hospice-line", false, nil},
		{"a fall: the community team", ucr("ucr:falls"), atHome, tuesday, nil, "ucr-north", false,
			map[string]string{"hospice-line": RejectNotProvided}},
		{"a blocked catheter: the community team", ucr("ucr:catheter"), atHome, tuesday, nil, "ucr-north", false, nil},
		{"no care named: not the hospice line", ucr(), atHome, tuesday, nil, "ucr-north", false,
			map[string]string{"hospice-line": RejectCareNeedsOnly}},
		{"unknown postcode: ED fallback, never the unit", ucr("ucr:falls"), PatientAged(79, "male", ""), tuesday, nil, "ed-castlegate", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := demo(t)
			if tt.change != nil {
				tt.change(d)
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			dec, err := Route(tt.need, tt.p, tt.at, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if dec.ServiceID != tt.want || dec.Fallback != tt.fallback {
				t.Fatalf("chose %s fallback %v, want %s fallback %v: %+v", dec.ServiceID, dec.Fallback, tt.want, tt.fallback, dec.Rejections)
			}
			for id, code := range tt.rejected {
				if r, ok := rejectionOf(dec, id); !ok || r.Code != code {
					t.Errorf("%s rejection %+v, want %s", id, r, code)
				}
			}
		})
	}
}

// TestDemoRapidResponseTeamsProvideEveryGroup: both community teams take
// all nine urgent community response groups.
func TestDemoRapidResponseTeamsProvideEveryGroup(t *testing.T) {
	d := demo(t)
	groups := []string{"ucr:falls", "ucr:frailty", "ucr:reduced_function", "ucr:palliative", "ucr:equipment",
		"ucr:delirium", "ucr:catheter", "ucr:diabetes", "ucr:carer_breakdown"}
	for _, s := range d.Services {
		if s.Tier != TierRapidResponse || s.Eligibility.CareNeedsOnly {
			continue
		}
		have := map[string]bool{}
		for _, p := range s.Provides {
			have[p.Need] = true
		}
		for _, g := range groups {
			if !have[g] {
				t.Errorf("%s does not provide %s", s.ID, g)
			}
		}
	}
}
