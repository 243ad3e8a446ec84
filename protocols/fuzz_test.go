package protocols

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// FuzzSessions drives sessions of random protocols with random patients,
// answers and observations. Invariants: no panic; every session reaches an
// outcome; the outcome is never below what the global checks demand (checked
// against NEWS2 recomputed here and the repeat-contact rule); invalid answers
// leave the session unchanged; later observations never lower the outcome;
// sessions round-trip through JSON.
func FuzzSessions(f *testing.F) {
	for _, seed := range []uint64{0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765} {
		f.Add(seed, uint8(seed%7), uint8(seed%3))
	}
	// Lint failures are TestLintEmbedded's to report; fuzz what passes lint.
	set := cleanSubset(f, Files())
	f.Fuzz(func(t *testing.T, seed uint64, invalidEvery, obsMode uint8) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		pr := set.Presentations[rng.IntN(len(set.Presentations))]
		p := randomPatient(rng, pr, obsMode)
		s, step, err := triage.Start(set, pr.ID, p)
		if err != nil {
			if errors.Is(err, triage.ErrNotApplicable) {
				return
			}
			t.Fatalf("start %s %+v: %v", pr.ID, p, err)
		}
		for i := 0; !step.Done; i++ {
			if i > 200 || len(step.Questions) == 0 {
				t.Fatalf("%s: no outcome after %d steps", pr.ID, i)
			}
			q := step.Questions[0]
			if invalidEvery > 0 && i%int(invalidEvery) == 0 {
				bad := triage.Reply{Question: q.ID, Value: "definitely-not-valid"}
				got, _, err := triage.Answer(set, s, bad)
				var ae *triage.AnswerError
				if !errors.As(err, &ae) || !reflect.DeepEqual(got, s) {
					t.Fatalf("invalid answer: err %v, session changed %v", err, !reflect.DeepEqual(got, s))
				}
			}
			s, step, err = triage.Answer(set, s, triage.Reply{Question: q.ID, Value: randomAnswer(rng, q)})
			if err != nil {
				t.Fatalf("%s: answer %s: %v", pr.ID, q.ID, err)
			}
		}
		res := step.Outcome
		checkFloor(t, s, res)
		b, _ := json.Marshal(s)
		var back triage.Session
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("session does not round-trip: %v", err)
		}
		// Random later observations never lower the outcome.
		s2, st2, err := triage.Observe(set, s, randomObs(rng, 1))
		if err != nil {
			t.Fatalf("observe: %v", err)
		}
		if st2.Outcome == nil || st2.Outcome.Intensity() < res.Intensity() {
			t.Fatalf("observe lowered %s/%s to %+v", res.Tier, res.Timeframe, st2.Outcome)
		}
		checkFloor(t, s2, st2.Outcome)
	})
}

// checkFloor recomputes what the global checks demand, independently of the
// engine's own check list where it can, and requires the outcome to meet it.
func checkFloor(t *testing.T, s triage.Session, res *triage.Result) {
	t.Helper()
	if res == nil || !res.Tier.Valid() || res.Dx == "" || res.SafetyNet == "" {
		t.Fatalf("incomplete outcome %+v", res)
	}
	for _, c := range res.Checks {
		if c.Raises && triage.Intensity(c.Tier, c.Timeframe) > res.Intensity() {
			t.Fatalf("check %s demands %s/%s, outcome %s/%s", c.Check, c.Tier, c.Timeframe, res.Tier, res.Timeframe)
		}
	}
	p := s.Patient
	if p.PreviousContacts96h >= 2 && res.Tier.Rank() < triage.GP.Rank() {
		t.Fatalf("repeat contact sent to %s", res.Tier)
	}
	o := p.Observations
	hasFlag := func(f string) bool {
		for _, x := range p.Flags {
			if x == f {
				return true
			}
		}
		return false
	}
	if hasFlag("carer_very_worried") && res.Tier.Rank() < triage.GP.Rank() {
		t.Fatalf("carer very worried sent to %s", res.Tier)
	}
	if p.AgeYears != nil && *p.AgeYears >= 12 {
		// NG51 high-risk observations for 12+ demand ED, whatever the tree says.
		if (o.RespiratoryRate != nil && *o.RespiratoryRate >= 25) || (o.SpO2 != nil && !o.SpO2Scale2 && *o.SpO2 < 92) ||
			(o.Pulse != nil && *o.Pulse > 130) || (o.SystolicBP != nil && *o.SystolicBP <= 90) ||
			(o.Consciousness != nil && *o.Consciousness != triage.Alert) {
			if res.Tier != triage.ED {
				t.Fatalf("sepsis high-risk observations %+v sent to %s", o, res.Tier)
			}
		}
	}
	if p.AgeDays != nil && *p.AgeDays < 91 && o.TemperatureC != nil && *o.TemperatureC >= 38 && res.Tier != triage.ED {
		t.Fatalf("infant of %d days with %.1fC sent to %s", *p.AgeDays, *o.TemperatureC, res.Tier)
	}
	if res.NEWS2 != nil {
		n := triage.NEWS2(p.Observations)
		want := 0
		switch {
		case n.Score >= 7:
			want = triage.Intensity(triage.ED, triage.Immediate)
		case n.Score >= 5 || n.AnyThree:
			want = triage.Intensity(triage.ED, triage.Within1h)
		case n.Score >= 1:
			want = triage.Intensity(triage.GP, triage.Within6h)
		}
		if res.Intensity() < want {
			t.Fatalf("NEWS2 %d demands %d, outcome %s/%s", n.Score, want, res.Tier, res.Timeframe)
		}
	} else if p.Pregnant != triage.Yes && (p.AgeYears == nil || *p.AgeYears >= 16) && p.AgeDays == nil {
		// NEWS2 may be skipped only when pregnancy was learnt from an answer.
		pregnantByAnswer := false
		for _, a := range s.Answers {
			if a.Value == triage.Yes {
				pregnantByAnswer = true // conservative: some yes answer may have set pregnancy
			}
		}
		if !pregnantByAnswer {
			t.Fatalf("NEWS2 not applied to an adult: %+v", p)
		}
	}
	if res.Tier == triage.ED && res.Timeframe == triage.Immediate {
		want := "clinician_now"
		if p.Channel == "nhs111" {
			want = "ambulance"
			if info, ok := triage.DxOutcome(res.Dx); !ok || info.Timeframe != triage.Immediate {
				t.Fatalf("NHS 111 immediate outcome with non-ambulance Dx %s", res.Dx)
			}
		}
		if res.Action != want {
			t.Fatalf("immediate outcome action %q, want %q", res.Action, want)
		}
	}
}

func randomPatient(rng *rand.Rand, pr *triage.Protocol, obsMode uint8) triage.Patient {
	var p triage.Patient
	lo, hi := 0, 120
	if pr.AppliesTo.MinAgeYears != nil && pr.AppliesTo.MaxAgeYears != nil {
		lo, hi = *pr.AppliesTo.MinAgeYears, *pr.AppliesTo.MaxAgeYears
	}
	switch rng.IntN(4) {
	case 0: // unknown age
	case 1:
		if lo < 2 {
			d := rng.IntN(730)
			p.AgeDays = &d
			break
		}
		fallthrough
	default:
		y := lo + rng.IntN(max(1, hi-lo))
		p.AgeYears = &y
	}
	p.Sex = []string{"", "female", "male", "unknown"}[rng.IntN(4)]
	p.Pregnant = []string{"", "yes", "no", "unknown"}[rng.IntN(4)]
	p.Channel = []string{"", "walk_in", "nhs111"}[rng.IntN(3)]
	p.PreviousContacts96h = rng.IntN(4)
	for _, fl := range []string{"usual_residence", "immunosuppressed", "anticoagulated", "carer_very_worried", "fever"} {
		if rng.IntN(5) == 0 {
			p.Flags = append(p.Flags, fl)
		}
	}
	p.Observations = randomObs(rng, obsMode)
	return p
}

func randomObs(rng *rand.Rand, mode uint8) triage.Observations {
	var o triage.Observations
	if mode == 0 {
		return o
	}
	pick := func() bool { return mode == 2 || rng.IntN(2) == 0 }
	ip := func(lo, hi int) *int { v := lo + rng.IntN(hi-lo+1); return &v }
	if pick() {
		o.RespiratoryRate = ip(4, 70)
	}
	if pick() {
		o.SpO2 = ip(70, 100)
		o.SpO2Scale2 = rng.IntN(6) == 0
	}
	if pick() {
		b := rng.IntN(5) == 0
		o.OnOxygen = &b
	}
	if pick() {
		o.SystolicBP = ip(60, 240)
	}
	if pick() {
		o.Pulse = ip(30, 200)
	}
	if pick() {
		c := []triage.Consciousness{triage.Alert, triage.Alert, triage.Alert, triage.Confusion, triage.Voice, triage.Pain, triage.Unresponsive}[rng.IntN(7)]
		o.Consciousness = &c
	}
	if pick() {
		t := 34 + float64(rng.IntN(70))/10
		o.TemperatureC = &t
	}
	return o
}

func randomAnswer(rng *rand.Rand, q triage.Question) string {
	switch q.Type {
	case triage.YesNo:
		return []string{"yes", "no", "not_sure"}[rng.IntN(3)]
	case triage.Choice:
		if rng.IntN(len(q.Choices)+1) == 0 {
			return "not_sure"
		}
		return q.Choices[rng.IntN(len(q.Choices))].Value
	case triage.Number:
		if rng.IntN(6) == 0 || q.Min == nil || q.Max == nil {
			return "not_sure"
		}
		lo, hi := *q.Min, *q.Max
		v := lo + rng.Float64()*(hi-lo)
		if rng.IntN(2) == 0 {
			v = float64(int(v))
		}
		return jsonNum(v)
	}
	return "not_sure"
}

func jsonNum(v float64) string { b, _ := json.Marshal(v); return string(b) }
