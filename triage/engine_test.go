package triage

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("glob %s: %v (%d files)", dir, err, len(names))
	}
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(n)] = b
	}
	return files
}

func testSet(t testing.TB) *Set {
	t.Helper()
	set, err := NewSet(readDir(t, "testdata/engine"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func adult(age int, sex string) Patient { return Patient{AgeYears: &age, Sex: sex} }

func mustAnswer(t *testing.T, set *Set, s Session, rs ...Reply) (Session, Step) {
	t.Helper()
	s, st, err := Answer(set, s, rs...)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func r(q, v string) Reply { return Reply{Question: q, Value: v} }

func TestStartAskScreenThenTree(t *testing.T) {
	set := testSet(t)
	s, st, err := Start(set, "mini", adult(40, "male"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Done || len(st.Questions) != 1 || st.Questions[0].ID != "screen.danger" {
		t.Fatalf("first step = %+v, want the screen question screen.danger", st)
	}
	if s.Version != 3 || s.Hash == "" || s.ScreenHash == "" {
		t.Errorf("session does not pin versions: %+v", s)
	}
	s, st = mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"))
	if st.Done || st.Questions[0].ID != "pain" || st.Questions[0].Type != Number {
		t.Fatalf("after screen: %+v, want question pain", st)
	}
	if got := st.Questions[0].Allowed; len(got) != 2 || !strings.Contains(got[0], "0 to 10") {
		t.Errorf("allowed = %v", got)
	}
	s, st = mustAnswer(t, set, s, r("pain", "3"))
	if st.Questions[0].ID != "where" || len(st.Questions[0].Choices) != 3 {
		t.Fatalf("want choice question where, got %+v", st)
	}
	_, st = mustAnswer(t, set, s, r("where", "throat"))
	o := st.Outcome
	if !st.Done || o.Outcome != "pharmacy" || o.Tier != Pharmacy || o.Dx != "Dx28" || o.DecidedBy != "tree" {
		t.Fatalf("outcome %+v", o)
	}
	if len(o.CareNeeds) != 1 || o.CareNeeds[0] != "pharmacy_first:sore_throat" {
		t.Errorf("care needs %v", o.CareNeeds)
	}
	var nodes []string
	for _, p := range o.Path {
		nodes = append(nodes, p.Protocol+"/"+p.Node+"="+p.Answer+">"+p.Next)
	}
	want := []string{"screen/danger=no>worried", "screen/worried=no>continue", "screen/continue=>mini",
		"mini/route=>pain", "mini/pain=3>where", "mini/where=throat>pharmacy"}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf("path\n got %v\nwant %v", nodes, want)
	}
	if len(o.Checks) != 6 {
		t.Errorf("want the 6 global checks reported (NEWS2, NG143, sepsis, repeat contact, worry, NG133), got %+v", o.Checks)
	}
}

func TestAnswerManyAtOnceAndOutOfOrder(t *testing.T) {
	set := testSet(t)
	s, _, err := Start(set, "mini", Patient{AgeYears: ip(30), Sex: "male", Channel: ChannelNHS111})
	if err != nil {
		t.Fatal(err)
	}
	// Everything an NHS 111 system knows, in any order, in one call.
	_, st := mustAnswer(t, set, s, r("where", "chest"), r("pain", "5"), r("screen.worried", "no"), r("screen.danger", "no"))
	if !st.Done || st.Outcome.Outcome != "ed_now" || st.Outcome.Action != "ambulance" || st.Outcome.Dx != "Dx012" {
		t.Fatalf("outcome %+v", st.Outcome)
	}
}

func TestAnswerErrorsLeaveSessionUnchanged(t *testing.T) {
	set := testSet(t)
	s, _, err := Start(set, "mini", adult(40, "male"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ = mustAnswer(t, set, s, r("screen.danger", "no"))
	before, _ := json.Marshal(s)
	tests := []struct {
		name    string
		reply   Reply
		allowed string
	}{
		{"yes_no given a number", r("screen.worried", "7"), "yes, no, not_sure"},
		{"number not a number", r("pain", "lots"), "a number from 0 to 10 0-10, not_sure"},
		{"number out of range", r("pain", "11"), "a number from 0 to 10 0-10, not_sure"},
		{"negative number", r("pain", "-1"), "a number from 0 to 10 0-10, not_sure"},
		{"choice not offered", r("where", "leg"), "throat, chest, none, not_sure"},
		{"unknown question", r("nope", "yes"), ""},
		{"screen question without prefix", r("danger", "yes"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A valid answer alongside the bad one must not be applied either.
			got, _, err := Answer(set, s, r("screen.worried", "yes"), tt.reply)
			var ae *AnswerError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *AnswerError", err)
			}
			if ae.Question != tt.reply.Question || strings.Join(ae.Allowed, ", ") != tt.allowed {
				t.Errorf("error %+v: allowed %q, want %q", ae, strings.Join(ae.Allowed, ", "), tt.allowed)
			}
			if tt.allowed != "" && !strings.Contains(err.Error(), "allowed: "+tt.allowed) {
				t.Errorf("message %q does not name the allowed values", err.Error())
			}
			after, _ := json.Marshal(got)
			if string(after) != string(before) {
				t.Errorf("session changed:\n%s\n%s", before, after)
			}
			again, _ := json.Marshal(s)
			if string(again) != string(before) {
				t.Errorf("input session mutated")
			}
		})
	}
}

func TestSessionJSONRoundTripAndDeterminism(t *testing.T) {
	set := testSet(t)
	p := adult(72, "female")
	p.Observations = Observations{RespiratoryRate: ip(22), Pulse: ip(95), TemperatureC: fp(38.4)}
	p.Flags = []string{FlagUsualResidence}
	s, _, err := Start(set, "mini", p)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Session
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip differs:\n%+v\n%+v", s, back)
	}
	// Continue from the decoded copy and the original: identical results.
	s1, st1 := mustAnswer(t, set, s, r("pain", "2"), r("where", "none"))
	s2, st2 := mustAnswer(t, set, back, r("pain", "2"), r("where", "none"))
	j1, _ := json.Marshal([]any{s1, st1})
	j2, _ := json.Marshal([]any{s2, st2})
	if string(j1) != string(j2) {
		t.Fatalf("not deterministic:\n%s\n%s", j1, j2)
	}
	// NEWS2 2+1+1 = 4 (incomplete) lifts self care to a clinician.
	if st1.Outcome.Tier != GP || st1.Outcome.DecidedBy != CheckNEWS2 || st1.Outcome.TreeOutcome != "self_care" {
		t.Errorf("outcome %+v", st1.Outcome)
	}
	var s3 Session
	if err := json.Unmarshal(j1[1 : len(j1)-1][:len(mustJSON(t, s1))], &s3); err != nil || !reflect.DeepEqual(s3, s1) {
		t.Errorf("finished session does not round-trip: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScreenEndsSessionAndChannel(t *testing.T) {
	set := testSet(t)
	for _, tc := range []struct {
		channel, action, dx string
	}{{ChannelWalkIn, "clinician_now", "Dx011"}, {ChannelNHS111, "ambulance", "Dx011"}} {
		p := adult(50, "male")
		p.Channel = tc.channel
		s, _, _ := Start(set, "mini", p)
		_, st := mustAnswer(t, set, s, r("screen.danger", "not_sure"))
		o := st.Outcome
		if o.Outcome != "ed_danger" || o.DecidedBy != "screen" || o.Action != tc.action || o.Dx != tc.dx {
			t.Errorf("%s: %+v", tc.channel, o)
		}
	}
	// nhs111 immediate outcome from a check gets an ambulance Dx01x code.
	p := adult(50, "male")
	p.Channel = ChannelNHS111
	p.Observations = Observations{Consciousness: cp(Unresponsive), Pulse: ip(140)}
	_, st, err := Start(set, "mini", p)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Outcome.Tier != ED || st.Outcome.Timeframe != Immediate || st.Outcome.Action != "ambulance" {
		t.Fatalf("immediate check did not end the session at once: %+v", st)
	}
	if info, ok := DxOutcome(st.Outcome.Dx); !ok || info.Timeframe != Immediate {
		t.Errorf("dx %s is not an ambulance code", st.Outcome.Dx)
	}
}

func TestSwitchFloorAndPregnancy(t *testing.T) {
	set := testSet(t)
	// Woman 12-55 of unknown pregnancy is asked; "yes" sets the flag and the floor.
	s, _, _ := Start(set, "mini", adult(30, "female"))
	s, st := mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"))
	if st.Questions[0].ID != "ask_pregnant" {
		t.Fatalf("want ask_pregnant, got %+v", st.Questions)
	}
	_, st = mustAnswer(t, set, s, r("ask_pregnant", "yes"), r("pain", "1"), r("where", "none"))
	if o := st.Outcome; o.Outcome != "gp_2h" || o.DecidedBy != "floor" || o.TreeOutcome != "self_care" {
		t.Errorf("floor not applied: %+v", o)
	}
	// Pregnant known up front: no question, straight to the floor; NEWS2 not applied.
	p := adult(30, "female")
	p.Pregnant = Yes
	p.Observations = Observations{Pulse: ip(115)}
	s, _, _ = Start(set, "mini", p)
	_, st = mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"), r("pain", "1"), r("where", "throat"))
	if o := st.Outcome; o.Outcome != "gp_2h" || o.DecidedBy != "floor" || o.NEWS2 != nil {
		t.Errorf("pregnant: %+v", o)
	}
	// Man: no pregnancy question.
	s, _, _ = Start(set, "mini", adult(30, "male"))
	_, st = mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"))
	if st.Questions[0].ID != "pain" {
		t.Errorf("man asked %s", st.Questions[0].ID)
	}
	// Unknown age takes the default entry.
	s, _, _ = Start(set, "mini", Patient{})
	_, st = mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"))
	if st.Questions[0].ID != "pain" {
		t.Errorf("unknown age asked %s", st.Questions[0].ID)
	}
}

func TestObserveOnlyRaises(t *testing.T) {
	set := testSet(t)
	s, _, _ := Start(set, "mini", adult(40, "male"))
	s, st := mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"), r("pain", "2"), r("where", "none"))
	if st.Outcome.Tier != SelfCare {
		t.Fatalf("baseline %+v", st.Outcome)
	}
	s, st, err := Observe(set, s, Observations{RespiratoryRate: ip(26), Pulse: ip(120)})
	if err != nil {
		t.Fatal(err)
	}
	// RR 26 scores 3 -> ed 1h; sepsis RR>=25 -> ed 1h.
	if st.Outcome.Tier != ED || st.Outcome.Timeframe != Within1h {
		t.Fatalf("after abnormal obs: %+v", st.Outcome)
	}
	high := st.Outcome.Intensity()
	s, st, err = Observe(set, s, Observations{RespiratoryRate: ip(14), Pulse: ip(70)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome.Intensity() != high || !s.Done || s.Outcome.Tier != ED {
		t.Errorf("normal obs lowered the outcome: %+v", st.Outcome)
	}
	if _, _, err := Answer(set, s, r("pain", "9")); !errors.Is(err, ErrSessionDone) {
		t.Errorf("answer after outcome: %v", err)
	}
}

func TestGlobalChecks(t *testing.T) {
	set := testSet(t)
	days := func(d int) Patient { return Patient{AgeDays: &d} }
	tests := []struct {
		name      string
		p         Patient
		replies   []Reply
		tier      Tier
		tf        Timeframe
		decidedBy string
	}{
		{"news2 >= 7 ed immediate", Patient{AgeYears: ip(60), Observations: Observations{RespiratoryRate: ip(26), SpO2: ip(91), Pulse: ip(120)}}, nil, ED, Immediate, CheckNEWS2},
		{"news2 5 ed 1h", Patient{AgeYears: ip(60), Observations: Observations{RespiratoryRate: ip(22), SystolicBP: ip(95), Pulse: ip(95)}}, nil, ED, Within1h, CheckNEWS2},
		{"news2 single 3 ed 1h", Patient{AgeYears: ip(60), Observations: Observations{TemperatureC: fp(35.0)}}, nil, ED, Within1h, CheckNEWS2},
		{"news2 1 at least gp", Patient{AgeYears: ip(60), Observations: Observations{TemperatureC: fp(38.5)}}, nil, GP, Within6h, CheckNEWS2},
		{"news2 0 leaves self care", Patient{AgeYears: ip(60), Observations: Observations{TemperatureC: fp(37.0), Pulse: ip(70)}}, nil, SelfCare, NoTime, "tree"},
		{"news2 not for 15-year-old", Patient{AgeYears: ip(15), Observations: Observations{TemperatureC: fp(38.5)}}, nil, SelfCare, NoTime, "tree"},
		{"ng143 amber from observation (parent-reported fever)", Patient{AgeYears: ip(2), Flags: []string{FlagFever}, Observations: Observations{Pulse: ip(145)}}, []Reply{r("child_q", "no")}, GP, Within2h, CheckNG143},
		{"ng143 amber answer ties with the tree, tree decides", Patient{AgeYears: ip(2), Flags: []string{FlagFever}}, []Reply{r("child_q", "yes")}, GP, Within2h, "tree"},
		{"ng143 red infant under 3 months 38C", Patient{AgeDays: ip(40), Observations: Observations{TemperatureC: fp(38.2)}}, []Reply{r("child_q", "no")}, ED, Within1h, CheckNG143},
		{"ng143 red unresponsive immediate", Patient{AgeYears: ip(3), Flags: []string{FlagFever}, Observations: Observations{Consciousness: cp(Pain)}}, nil, ED, Immediate, CheckNG143},
		{"ng143 not without fever", days(400), []Reply{r("child_q", "no")}, SelfCare, NoTime, "tree"},
		{"sepsis child 6y HR 125", Patient{AgeYears: ip(6), Observations: Observations{Pulse: ip(125)}}, nil, ED, Within1h, CheckSepsis},
		{"sepsis adult SBP 88 + RR 26 immediate", Patient{AgeYears: ip(30), Pregnant: Yes, Observations: Observations{SystolicBP: ip(88), RespiratoryRate: ip(26)}}, nil, ED, Immediate, CheckSepsis},
		{"repeat contact floors self care at gp", Patient{AgeYears: ip(40), PreviousContacts96h: 2}, nil, GP, Within2h, CheckRepeatContact},
		{"one earlier contact does not", Patient{AgeYears: ip(40), PreviousContacts96h: 1}, nil, SelfCare, NoTime, "tree"},
		{"carer very worried", Patient{AgeYears: ip(40)}, []Reply{r("screen.worried", "yes")}, GP, Within2h, CheckCarerWorry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st, err := Start(set, "mini", tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Done {
				base := []Reply{r("screen.danger", "no"), r("screen.worried", "no"), r("pain", "1"), r("where", "none"), r("ask_pregnant", "no")}
				s, st = mustAnswer(t, set, s, append(base, tt.replies...)...)
			}
			o := st.Outcome
			if o == nil || o.Tier != tt.tier || o.Timeframe != tt.tf || o.DecidedBy != tt.decidedBy {
				t.Fatalf("got %s/%s by %s, want %s/%s by %s (checks %+v)", o.Tier, o.Timeframe, o.DecidedBy, tt.tier, tt.tf, tt.decidedBy, o.Checks)
			}
			if o.DecidedBy != "tree" && (o.SafetyNet == "" || o.Advice == "" || o.Title == "") {
				t.Errorf("check outcome lacks text: %+v", o)
			}
		})
	}
}

func TestNEWS2IncompleteNeverLowers(t *testing.T) {
	set := testSet(t)
	// Only the pulse measured (scores 3): incomplete, still raises to ed 1h.
	s, _, _ := Start(set, "mini", Patient{AgeYears: ip(50), Observations: Observations{Pulse: ip(135)}})
	_, st := mustAnswer(t, set, s, r("screen.danger", "no"), r("screen.worried", "no"), r("pain", "8"))
	o := st.Outcome
	if o.NEWS2 == nil || o.NEWS2.Complete || o.Tier != ED {
		t.Fatalf("%+v", o)
	}
	if !strings.Contains(o.Checks[0].Reason, "incomplete") {
		t.Errorf("reason does not say incomplete: %q", o.Checks[0].Reason)
	}
}

func TestStartErrors(t *testing.T) {
	set := testSet(t)
	if _, _, err := Start(set, "nope", Patient{}); !errors.Is(err, ErrUnknownProtocol) {
		t.Errorf("unknown: %v", err)
	}
	if _, _, err := Start(set, "screen", Patient{}); !errors.Is(err, ErrUnknownProtocol) {
		t.Errorf("screen is not startable: %v", err)
	}
	if _, _, err := Start(set, "mini", Patient{Sex: "x"}); !errors.Is(err, ErrBadPatient) {
		t.Errorf("bad sex: %v", err)
	}
	for _, o := range []Observations{{Pulse: ip(-1)}, {SpO2: ip(101)}, {RespiratoryRate: ip(500)}, {TemperatureC: fp(3.7)}, {Consciousness: cp("sleepy")}} {
		if _, _, err := Start(set, "mini", Patient{Observations: o}); !errors.Is(err, ErrBadPatient) {
			t.Errorf("implausible observation %+v: %v", o, err)
		}
	}
	s, _, _ := Start(set, "mini", Patient{})
	if got, _, err := Observe(set, s, Observations{SystolicBP: ip(900)}); !errors.Is(err, ErrBadPatient) || !reflect.DeepEqual(got, s) {
		t.Errorf("Observe accepted an implausible value or changed the session: %v", err)
	}
	if _, _, err := Start(set, "mini", Patient{AgeYears: ip(121)}); !errors.Is(err, ErrNotApplicable) {
		t.Errorf("age outside applies_to: %v", err)
	}
}

func TestPinnedVersion(t *testing.T) {
	set := testSet(t)
	s, _, _ := Start(set, "mini", adult(40, "male"))
	files := readDir(t, "testdata/engine")
	files["mini.yaml"] = []byte(strings.Replace(string(files["mini.yaml"]), "version: 3", "version: 4", 1))
	set2, err := NewSet(files)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Answer(set2, s, r("screen.danger", "no")); !errors.Is(err, ErrPinnedVersion) {
		t.Errorf("answer on a new protocol version: %v", err)
	}
}

func TestDxOutcome(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
		tier Tier
		tf   Timeframe
	}{
		{"Dx010", true, ED, Immediate}, {"Dx011", true, ED, Immediate}, {"Dx012", true, ED, Immediate},
		{"Dx016", true, ED, Immediate}, {"Dx0162", true, ED, Immediate}, {"Dx017", false, "", ""},
		{"Dx02", true, ED, Within1h}, {"Dx03", true, ED, Within4h},
		{"Dx05", true, GP, Within2h}, {"Dx06", true, GP, Within6h}, {"Dx07", true, GP, Within12h}, {"Dx08", true, GP, Within24h},
		{"Dx11", true, GP, Within1h}, {"Dx12", true, GP, Within2h}, {"Dx13", true, GP, Within6h}, {"Dx14", true, GP, Within12h}, {"Dx15", true, GP, Within24h},
		{"Dx28", true, Pharmacy, Within12h}, {"Dx25", true, SelfCare, NoTime}, {"Dx9001", true, RapidResponse, Within2h},
		{"Dx99", false, "", ""}, {"Dx04", false, "", ""}, {"DX02", false, "", ""}, {"Dx2", false, "", ""}, {"Dx123456", false, "", ""}, {"", false, "", ""},
	}
	for _, tt := range tests {
		info, ok := DxOutcome(tt.code)
		if ok != tt.ok || info.Tier != tt.tier || info.Timeframe != tt.tf {
			t.Errorf("DxOutcome(%q) = %+v, %v; want %s/%s, %v", tt.code, info, ok, tt.tier, tt.tf, tt.ok)
		}
	}
}

func TestTierRankAndIntensity(t *testing.T) {
	order := []Tier{SelfCare, Pharmacy, GP, RapidResponse, ED}
	for i := 1; i < len(order); i++ {
		if order[i].Rank() <= order[i-1].Rank() {
			t.Errorf("%s should rank above %s", order[i], order[i-1])
		}
	}
	if Tier("x").Rank() != 0 {
		t.Error("unknown tier ranks 0")
	}
	if Intensity(ED, Within4h) <= Intensity(RapidResponse, Within2h) || Intensity(ED, Immediate) <= Intensity(ED, Within1h) ||
		Intensity(GP, Within2h) <= Intensity(GP, Within24h) {
		t.Error("intensity order wrong")
	}
}
