package protocols

import (
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

func intp(v int) *int           { return &v }
func floatp(v float64) *float64 { return &v }

// answerAll answers every pending question with the answer the map gives
// (by id without the "screen." prefix for screen questions), else def, one
// step at a time, and returns the steps' question ids and the outcome.
func answerAll(t *testing.T, set *triage.Set, s triage.Session, st triage.Step, given map[string]string, def string) (triage.Session, [][]string, *triage.Result) {
	t.Helper()
	var steps [][]string
	for i := 0; !st.Done; i++ {
		if i > 200 {
			t.Fatal("no outcome after 200 steps")
		}
		var ids []string
		var rs []triage.Reply
		for _, q := range st.Questions {
			ids = append(ids, q.ID)
			v, ok := given[strings.TrimPrefix(q.ID, triage.ScreenPrefix)]
			if !ok {
				v = def
				if q.Type != triage.YesNo && def == triage.No {
					v = triage.NotSure
				}
			}
			rs = append(rs, triage.Reply{Question: q.ID, Value: v})
		}
		steps = append(steps, ids)
		var err error
		if s, st, err = triage.Answer(set, s, rs...); err != nil {
			t.Fatalf("answer %v: %v", rs, err)
		}
	}
	return s, steps, st.Outcome
}

// TestUncertaintyIsResolvedNotEscalated: the acceptance cases of the triage
// issue, played as the API does (all of a form's questions in one request),
// with exact tier, timeframe and Dx.
func TestUncertaintyIsResolvedNotEscalated(t *testing.T) {
	set := loadCleanSet(t)
	adult := triage.Patient{AgeYears: intp(34), Sex: "female", Pregnant: "no"}
	for _, tc := range []struct {
		name      string
		protocol  string
		patient   triage.Patient
		channel   string
		given     map[string]string
		def       string
		tier      triage.Tier
		timeframe triage.Timeframe
		dx        string
		stream    string
		thenTier  triage.Tier
		finding   string
	}{
		{name: "walk-in, normal desk, one not sure: clinician now, the protocol continues",
			protocol: "cough-cold-sore-throat", patient: adult, channel: triage.ChannelWalkIn,
			given: map[string]string{"desk_swelling": "not_sure"}, def: triage.No,
			tier: triage.GP, timeframe: triage.Immediate, dx: "Dx9002", stream: triage.StreamClinicianNow, thenTier: triage.SelfCare,
			finding: "allergic reaction could not be ruled out"},
		{name: "NHS 111 caller, one not sure after the follow-up: a call-back within the hour",
			protocol: "cough-cold-sore-throat", patient: adult, channel: triage.ChannelNHS111,
			given: map[string]string{"caller_for_someone": "no", "self_fast": "not_sure"}, def: triage.No,
			tier: triage.GP, timeframe: triage.Within1h, dx: "Dx11", stream: triage.StreamClinicianCallback, thenTier: triage.SelfCare,
			finding: "stroke not ruled out"},
		{name: "walk-in not responding, breathing not sure: treated as not breathing",
			protocol: "cough-cold-sore-throat", patient: adult, channel: triage.ChannelWalkIn,
			given: map[string]string{"desk_responding": "yes", "desk_unresponsive_breathing": "not_sure"}, def: triage.No,
			tier: triage.ED, timeframe: triage.Immediate, dx: "Dx011"},
		{name: "caller cannot tell if the person responds or breathes: treated as not breathing",
			protocol: "cough-cold-sore-throat", patient: adult, channel: triage.ChannelNHS111,
			given: map[string]string{"caller_for_someone": "yes", "someone_responding": "not_sure", "someone_responding_followup": "not_sure", "someone_not_breathing": "not_sure"}, def: triage.No,
			tier: triage.ED, timeframe: triage.Immediate, dx: "Dx011"},
		{name: "9-week-old (63 days, no date of birth) at 38.0C: NG143 red",
			protocol: "fever-under-5", patient: triage.Patient{AgeDays: intp(63), Sex: "male", Observations: triage.Observations{TemperatureC: floatp(38.0)}},
			channel: triage.ChannelWalkIn, given: map[string]string{"infant_fever": "yes"}, def: triage.No,
			tier: triage.ED, timeframe: triage.Within1h, dx: "Dx02"},
		{name: "33 weeks pregnant, systolic 162, headache: maternity assessment now",
			protocol: "headache", patient: triage.Patient{AgeYears: intp(29), Sex: "female", Pregnant: "yes", GestationWeeks: intp(33),
				Observations: triage.Observations{SystolicBP: intp(162)}},
			channel: triage.ChannelWalkIn, given: map[string]string{"preeclampsia": "yes"}, def: triage.No,
			tier: triage.ED, timeframe: triage.Immediate, dx: "Dx012"},
		{name: "two earlier contacts reported: no self care or pharmacy",
			protocol: "cough-cold-sore-throat", patient: adult, channel: triage.ChannelWalkIn,
			given: map[string]string{"contacts": "2"}, def: triage.No,
			tier: triage.GP, timeframe: triage.Within2h, dx: "Dx05"},
		{name: "complete normal observations settle an unsure breathing sign",
			protocol: "cough-cold-sore-throat", patient: triage.Patient{AgeYears: intp(40), Sex: "male", Observations: triage.Observations{
				RespiratoryRate: intp(16), SpO2: intp(98), OnOxygen: new(bool), SystolicBP: intp(125), Pulse: intp(75),
				Consciousness: consc(triage.Alert), TemperatureC: floatp(37.0)}},
			channel: triage.ChannelWalkIn, given: map[string]string{"desk_breathing": "not_sure"}, def: triage.No,
			tier: triage.SelfCare, timeframe: triage.NoTime, dx: "Dx25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.patient
			p.Channel = tc.channel
			s, st, err := triage.Start(set, tc.protocol, p)
			if err != nil {
				t.Fatal(err)
			}
			_, steps, res := answerAll(t, set, s, st, tc.given, tc.def)
			if res.Tier != tc.tier || res.Timeframe != tc.timeframe || res.Dx != tc.dx {
				t.Fatalf("got %s/%s/%s (%s by %s), want %s/%s/%s; path %s", res.Tier, res.Timeframe, res.Dx, res.Outcome, res.DecidedBy,
					tc.tier, tc.timeframe, tc.dx, pathString(res))
			}
			if tc.stream != "" {
				cf := res.ClinicianFirst
				if cf == nil || cf.Stream != tc.stream || res.Action != tc.stream {
					t.Fatalf("clinician_first = %+v, action %q; want stream %s", cf, res.Action, tc.stream)
				}
				if cf.Then == nil || cf.Then.Tier != tc.thenTier {
					t.Errorf("then = %+v, want the protocol's own %s (it continued)", cf.Then, tc.thenTier)
				}
				if !strings.Contains(strings.Join(cf.Reasons, "; "), tc.finding) || !strings.Contains(res.Title, tc.finding) {
					t.Errorf("reasons %q / title %q do not say %q", cf.Reasons, res.Title, tc.finding)
				}
				if res.TreeProtocol != tc.protocol {
					t.Errorf("the presentation did not run: tree outcome from %q", res.TreeProtocol)
				}
			}
			if tc.channel == triage.ChannelWalkIn && len(steps) > 0 && strings.HasPrefix(steps[0][0], "screen.desk_") && len(steps[0]) < 5 {
				t.Errorf("the desk form came as %d question(s) in the first step, want one form: %v", len(steps[0]), steps[0])
			}
		})
	}
}

func consc(c triage.Consciousness) *triage.Consciousness { return &c }

// TestDeskFormIsOneStep: a walk-in's first step is the whole desk form;
// a 9-week-old is not asked about slurred speech or sentences.
func TestDeskFormIsOneStep(t *testing.T) {
	set := loadCleanSet(t)
	for _, tc := range []struct {
		name    string
		patient triage.Patient
		want    []string
		absent  []string
	}{
		{"adult", triage.Patient{AgeYears: intp(40), Channel: triage.ChannelWalkIn},
			[]string{"desk_responding", "desk_breathing", "desk_talking", "desk_colour", "desk_bleeding", "desk_fast", "desk_fitting", "desk_swelling", "desk_confused"}, nil},
		{"9-week-old", triage.Patient{AgeDays: intp(63), Channel: triage.ChannelWalkIn},
			[]string{"desk_responding", "desk_breathing", "desk_colour", "desk_bleeding", "desk_fitting", "desk_swelling", "desk_confused"},
			[]string{"desk_talking", "desk_fast"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protocol := "cough-cold-sore-throat"
			if tc.name == "9-week-old" {
				protocol = "fever-under-5"
			}
			_, st, err := triage.Start(set, protocol, tc.patient)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, q := range st.Questions {
				if q.Group != "desk" || !q.Observed {
					t.Errorf("%s: group %q observed %v, want the desk form", q.ID, q.Group, q.Observed)
				}
				got[strings.TrimPrefix(q.ID, triage.ScreenPrefix)] = true
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("first step lacks %s: %v", w, got)
				}
			}
			for _, a := range tc.absent {
				if got[a] {
					t.Errorf("first step asks %s of a %s", a, tc.name)
				}
			}
		})
	}
}

// TestObservationsRaiseBeforeTheScreenEnds: NEWS2 acts on observations
// recorded while the screen's questions are still open.
func TestObservationsRaiseBeforeTheScreenEnds(t *testing.T) {
	set := loadCleanSet(t)
	s, st, err := triage.Start(set, "cough-cold-sore-throat", triage.Patient{AgeYears: intp(50), Channel: triage.ChannelWalkIn})
	if err != nil {
		t.Fatal(err)
	}
	if st.Done || st.Interim != nil {
		t.Fatalf("before observations: done %v interim %+v", st.Done, st.Interim)
	}
	_, st, err = triage.Observe(set, s, triage.Observations{RespiratoryRate: intp(23), Pulse: intp(115), TemperatureC: floatp(38.6)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Done || len(st.Questions) == 0 {
		t.Fatalf("observations should not end the screen here: %+v", st)
	}
	if in := st.Interim; in == nil || in.Tier != triage.ED || in.Timeframe != triage.Within1h || in.DecidedBy != triage.CheckNEWS2 {
		t.Fatalf("interim = %+v, want NEWS2 5 (ed 1h) at once", st.Interim)
	}
}

// TestCarerWorryNotSureIsNotVeryWorried and a person alone is asked about
// their own worry.
func TestCarerWorryNotSureIsNotVeryWorried(t *testing.T) {
	set := loadCleanSet(t)
	for _, tc := range []struct {
		flags  []string
		answer string
		tier   triage.Tier
		reason string
	}{
		{nil, "not_sure", triage.SelfCare, ""},
		{nil, "yes", triage.GP, "carer or parent is very worried"},
		{[]string{triage.FlagAlone}, "yes", triage.GP, "they are very worried"},
	} {
		p := triage.Patient{AgeYears: intp(30), Channel: triage.ChannelWalkIn, Flags: tc.flags}
		s, st, err := triage.Start(set, "cough-cold-sore-throat", p)
		if err != nil {
			t.Fatal(err)
		}
		q := "carer_worried"
		if len(tc.flags) > 0 {
			q = "self_worried"
		}
		_, steps, res := answerAll(t, set, s, st, map[string]string{q: tc.answer}, triage.No)
		asked := false
		for _, ids := range steps {
			for _, id := range ids {
				asked = asked || id == triage.ScreenPrefix+q
			}
		}
		if !asked {
			t.Errorf("flags %v: %s was not asked", tc.flags, q)
		}
		if res.Tier != tc.tier {
			t.Errorf("flags %v, %s %s: tier %s (%s), want %s", tc.flags, q, tc.answer, res.Tier, res.Outcome, tc.tier)
		}
		if tc.reason != "" && !strings.Contains(res.Advice, tc.reason) {
			t.Errorf("advice %q does not say %q", res.Advice, tc.reason)
		}
	}
}

// TestEndOfLifeAndDNACPR: a DNACPR changes only the resuscitation advice;
// an advance care plan routes by the plan, not to generic ambulance advice.
func TestEndOfLifeAndDNACPR(t *testing.T) {
	set := loadCleanSet(t)
	old := triage.Patient{AgeYears: intp(82), Sex: "female", Channel: triage.ChannelNHS111}

	dnacpr := old
	dnacpr.Flags = []string{triage.FlagDNACPR}
	for _, p := range []triage.Patient{old, dnacpr} {
		s, st, err := triage.Start(set, "older-person-unwell-fallen", p)
		if err != nil {
			t.Fatal(err)
		}
		_, _, res := answerAll(t, set, s, st, map[string]string{"caller_for_someone": "yes", "someone_responding": "yes", "someone_not_breathing": "yes"}, triage.No)
		if res.Tier != triage.ED || res.Dx != "Dx011" || res.Action != "ambulance" {
			t.Fatalf("flags %v: %s/%s/%s action %s, want the tier unchanged (ed, Dx011, ambulance)", p.Flags, res.Tier, res.Timeframe, res.Dx, res.Action)
		}
		compressions := strings.Contains(res.Advice, "Start chest compressions")
		if len(p.Flags) > 0 && (compressions || !strings.Contains(res.Advice, "DNACPR")) {
			t.Errorf("DNACPR: advice %q still tells them to resuscitate", res.Advice)
		}
		if len(p.Flags) == 0 && !compressions {
			t.Errorf("no DNACPR: advice %q lost the resuscitation instruction", res.Advice)
		}
		if !strings.Contains(res.Advice, "An ambulance has been requested (Dx011)") || !strings.Contains(res.Advice, "do not hang up to redial 999") {
			t.Errorf("NHS 111 ambulance advice %q does not say the Dx goes on electronically", res.Advice)
		}
	}

	plan := old
	plan.Flags = []string{triage.FlagAdvanceCarePlan, triage.FlagDNACPR, triage.FlagUsualResidence}
	s, st, err := triage.Start(set, "older-person-unwell-fallen", plan)
	if err != nil {
		t.Fatal(err)
	}
	_, _, res := answerAll(t, set, s, st, map[string]string{"plan_applies": "yes"}, triage.No)
	if res.Tier != triage.RapidResponse || res.Outcome != "palliative_plan" || len(res.CareNeeds) != 1 || res.CareNeeds[0] != "ucr:palliative" {
		t.Fatalf("advance care plan: %s %s %v, want the plan's palliative route", res.Tier, res.Outcome, res.CareNeeds)
	}
	if strings.Contains(res.Advice, "999 now") || strings.Contains(res.Advice, "do not give food") {
		t.Errorf("advance care plan got generic ambulance advice: %q", res.Advice)
	}
}

// TestDeskObservationIsNotAskedAgain: a sign reception recorded at the desk
// answers the presentation's question about the same sign (same_as).
func TestDeskObservationIsNotAskedAgain(t *testing.T) {
	set := loadCleanSet(t)
	s, st, err := triage.Start(set, "fever-under-5", triage.Patient{AgeYears: intp(2), Channel: triage.ChannelWalkIn})
	if err != nil {
		t.Fatal(err)
	}
	_, steps, res := answerAll(t, set, s, st, map[string]string{}, triage.No)
	for _, ids := range steps {
		for _, id := range ids {
			if id == "colour" || id == "unresponsive" {
				t.Errorf("%s was asked again after the desk form", id)
			}
		}
	}
	from := map[string]string{}
	for _, p := range res.Path {
		if p.From != "" {
			from[p.Node] = p.From
		}
	}
	if from["colour"] != "screen.desk_colour" || from["unresponsive"] != "screen.desk_confused" {
		t.Errorf("path does not say the answers came from the desk: %v", from)
	}
}

// TestSevereHypertensionInPregnancyDoesNotWait: systolic 165 at 30 weeks
// decides maternity assessment now at the start, before more questions.
func TestSevereHypertensionInPregnancyDoesNotWait(t *testing.T) {
	set := loadCleanSet(t)
	p := triage.Patient{AgeYears: intp(31), Sex: "female", Pregnant: "yes", GestationWeeks: intp(30), Channel: triage.ChannelNHS111,
		Observations: triage.Observations{SystolicBP: intp(165)}}
	_, st, err := triage.Start(set, "headache", p)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Outcome.Tier != triage.ED || st.Outcome.Timeframe != triage.Immediate || st.Outcome.DecidedBy != triage.CheckMaternity ||
		len(st.Outcome.CareNeeds) != 1 || st.Outcome.CareNeeds[0] != "maternity" {
		t.Fatalf("step = done %v %+v, want maternity assessment now at once", st.Done, st.Outcome)
	}
}

// TestMeasuredInfantFeverIsNotAskedAgain: a baby under 3 months with 38C
// or more measured is not asked whether they are hot; NG143 decides.
func TestMeasuredInfantFeverIsNotAskedAgain(t *testing.T) {
	set := loadCleanSet(t)
	p := triage.Patient{AgeDays: intp(63), Channel: triage.ChannelWalkIn, Observations: triage.Observations{TemperatureC: floatp(38.0)}}
	s, st, err := triage.Start(set, "fever-under-5", p)
	if err != nil {
		t.Fatal(err)
	}
	_, steps, res := answerAll(t, set, s, st, map[string]string{}, triage.No)
	for _, ids := range steps {
		for _, id := range ids {
			if id == "screen.infant_fever" {
				t.Error("asked whether the baby is hot after 38.0C was measured")
			}
		}
	}
	if res.Tier != triage.ED || res.Timeframe != triage.Within1h || res.Dx != "Dx02" || res.DecidedBy != triage.CheckNG143 {
		t.Errorf("got %s/%s/%s by %s, want NG143 red ed/1h/Dx02", res.Tier, res.Timeframe, res.Dx, res.DecidedBy)
	}
}
