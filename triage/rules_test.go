package triage

import "testing"

// TestRulesZeroReplaysAsBefore: a session started under rules 0 keeps the
// old behaviour ("not sure" to the worry question sets the flag), so an
// old log entry replayed by a new binary decides as it did; rules 1 does
// not treat "not sure" as "very worried".
func TestRulesZeroReplaysAsBefore(t *testing.T) {
	set := testSet(t)
	for _, tc := range []struct {
		rules int
		tier  Tier
	}{{0, GP}, {CurrentRules, Pharmacy}} {
		s, _, err := StartRules(set, "mini", adult(40, "male"), tc.rules)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rules != tc.rules {
			t.Fatalf("session rules %d, want %d", s.Rules, tc.rules)
		}
		_, st := mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "not_sure"), r("pain", "3"), r("where", "throat"))
		if !st.Done || st.Outcome.Tier != tc.tier {
			t.Errorf("rules %d: %+v, want tier %s", tc.rules, st.Outcome, tc.tier)
		}
	}
	if _, _, err := StartRules(set, "mini", adult(40, "male"), CurrentRules+1); err == nil {
		t.Error("a rules version from the future was accepted")
	}
}

// TestMaternityCheck: NICE NG133 boundaries as frontdoor maps them.
func TestMaternityCheck(t *testing.T) {
	ip := func(v int) *int { return &v }
	for _, tc := range []struct {
		name      string
		p         Patient
		features  []Feature
		raises    bool
		tier      Tier
		timeframe Timeframe
	}{
		{"not pregnant", Patient{Pregnant: "no", Observations: Observations{SystolicBP: ip(170)}}, nil, false, "", ""},
		{"33 weeks systolic 160", Patient{Pregnant: Yes, GestationWeeks: ip(33), Observations: Observations{SystolicBP: ip(160)}}, nil, true, ED, Immediate},
		{"33 weeks systolic 159", Patient{Pregnant: Yes, GestationWeeks: ip(33), Observations: Observations{SystolicBP: ip(159)}}, nil, true, ED, Within4h},
		{"33 weeks 139/89", Patient{Pregnant: Yes, GestationWeeks: ip(33), Observations: Observations{SystolicBP: ip(139), DiastolicBP: ip(89)}}, nil, false, "", ""},
		{"33 weeks diastolic 110", Patient{Pregnant: Yes, GestationWeeks: ip(33), Observations: Observations{DiastolicBP: ip(110)}}, nil, true, ED, Immediate},
		{"33 weeks 145/92 and headache", Patient{Pregnant: Yes, GestationWeeks: ip(33), Observations: Observations{SystolicBP: ip(145), DiastolicBP: ip(92)}},
			[]Feature{{Name: "headache", Colour: Amber}}, true, ED, Immediate},
		{"33 weeks headache, no blood pressure", Patient{Pregnant: Yes, GestationWeeks: ip(33)}, []Feature{{Name: "headache", Colour: Amber}}, true, ED, Within1h},
		{"12 weeks headache", Patient{Pregnant: Yes, GestationWeeks: ip(12)}, []Feature{{Name: "headache", Colour: Amber}}, false, "", ""},
		{"12 weeks systolic 165", Patient{Pregnant: Yes, GestationWeeks: ip(12), Observations: Observations{SystolicBP: ip(165)}}, nil, true, ED, Within1h},
		{"reduced movements", Patient{Pregnant: Yes, GestationWeeks: ip(30)}, []Feature{{Name: "moving less", Colour: Red}}, true, ED, Within1h},
		{"2 weeks after birth, 160", Patient{Pregnant: "no", PostnatalWeeks: ip(2), Observations: Observations{SystolicBP: ip(160)}}, nil, true, ED, Immediate},
		{"8 weeks after birth, 160", Patient{Pregnant: "no", PostnatalWeeks: ip(8), Observations: Observations{SystolicBP: ip(160)}}, nil, false, "", ""},
	} {
		s := Session{Patient: tc.p, Rules: 1}
		w := walker{s: &s, a: tc.p.age(), pregnant: tc.p.Pregnant, rules: 1, ng133: tc.features}
		c := maternityCheck(&w)
		if c.Raises != tc.raises || c.Tier != tc.tier || c.Timeframe != tc.timeframe {
			t.Errorf("%s: %+v, want raises %v %s %s", tc.name, c, tc.raises, tc.tier, tc.timeframe)
		}
		if c.Raises && (len(c.CareNeeds) != 1 || c.CareNeeds[0] != "maternity") {
			t.Errorf("%s: care needs %v, want maternity", tc.name, c.CareNeeds)
		}
	}
}
