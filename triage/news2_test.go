package triage

import "testing"

func ip(v int) *int                     { return &v }
func fp(v float64) *float64             { return &v }
func bp(v bool) *bool                   { return &v }
func cp(c Consciousness) *Consciousness { return &c }

// fullNormal is a complete set of observations scoring 0 on every parameter.
func fullNormal() Observations {
	return Observations{
		RespiratoryRate: ip(16), SpO2: ip(97), OnOxygen: bp(false), SystolicBP: ip(120),
		Pulse: ip(70), Consciousness: cp(Alert), TemperatureC: fp(37.0),
	}
}

func paramScore(t *testing.T, r NEWS2Result, name string) int {
	t.Helper()
	for _, p := range r.Parameters {
		if p.Name == name {
			return p.Score
		}
	}
	t.Fatalf("parameter %s missing from %+v", name, r.Parameters)
	return -1
}

func TestNEWS2Boundaries(t *testing.T) {
	type tc struct {
		name  string
		param string
		mod   func(*Observations)
		want  int
	}
	var cases []tc
	intCases := func(param string, set func(*Observations, int), pairs [][2]int) {
		for _, p := range pairs {
			v, want := p[0], p[1]
			cases = append(cases, tc{name: param, param: param, mod: func(o *Observations) { set(o, v) }, want: want})
		}
	}
	intCases("respiratory_rate", func(o *Observations, v int) { o.RespiratoryRate = ip(v) },
		[][2]int{{8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}})
	intCases("spo2", func(o *Observations, v int) { o.SpO2 = ip(v) },
		[][2]int{{91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}})
	intCases("systolic_bp", func(o *Observations, v int) { o.SystolicBP = ip(v) },
		[][2]int{{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}})
	intCases("pulse", func(o *Observations, v int) { o.Pulse = ip(v) },
		[][2]int{{40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1}, {110, 1}, {111, 2}, {130, 2}, {131, 3}})
	// SpO2 scale 2 on air and on oxygen (on_oxygen itself adds 2 in its own parameter).
	for _, p := range [][3]int{{83, 0, 3}, {84, 0, 2}, {85, 0, 2}, {86, 0, 1}, {87, 0, 1}, {88, 0, 0}, {92, 0, 0},
		{93, 0, 0}, {99, 0, 0}, {92, 1, 0}, {93, 1, 1}, {94, 1, 1}, {95, 1, 2}, {96, 1, 2}, {97, 1, 3}} {
		v, o2, want := p[0], p[1] == 1, p[2]
		cases = append(cases, tc{name: "spo2_scale2", param: "spo2", mod: func(o *Observations) {
			o.SpO2, o.SpO2Scale2, o.OnOxygen = ip(v), true, bp(o2)
		}, want: want})
	}
	for _, p := range []struct {
		v    float64
		want int
	}{{35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0}, {38.0, 0}, {38.1, 1}, {39.0, 1}, {39.1, 2}} {
		v, want := p.v, p.want
		cases = append(cases, tc{name: "temperature", param: "temperature", mod: func(o *Observations) { o.TemperatureC = fp(v) }, want: want})
	}
	for _, p := range []struct {
		c    Consciousness
		want int
	}{{Alert, 0}, {Confusion, 3}, {Voice, 3}, {Pain, 3}, {Unresponsive, 3}} {
		c, want := p.c, p.want
		cases = append(cases, tc{name: "consciousness", param: "consciousness", mod: func(o *Observations) { o.Consciousness = cp(c) }, want: want})
	}
	cases = append(cases,
		tc{name: "air", param: "air_or_oxygen", mod: func(o *Observations) { o.OnOxygen = bp(false) }, want: 0},
		tc{name: "oxygen", param: "air_or_oxygen", mod: func(o *Observations) { o.OnOxygen = bp(true) }, want: 2},
	)
	for _, c := range cases {
		o := fullNormal()
		c.mod(&o)
		r := NEWS2(o)
		if got := paramScore(t, r, c.param); got != c.want {
			t.Errorf("%s: obs %+v: %s scored %d, want %d", c.name, o, c.param, got, c.want)
		}
		if !r.Complete {
			t.Errorf("%s: complete observations reported incomplete", c.name)
		}
	}
}

func TestNEWS2ResponseBoundaries(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Observations)
		want NEWS2Response
	}{
		{"0", func(o *Observations) {}, NEWS2None},
		{"1", func(o *Observations) { o.Pulse = ip(95) }, NEWS2Clinician},
		{"4", func(o *Observations) { o.Pulse = ip(115); o.SystolicBP = ip(95) }, NEWS2Clinician},
		{"5", func(o *Observations) { o.Pulse = ip(115); o.SystolicBP = ip(95); o.TemperatureC = fp(38.5) }, NEWS2Urgent},
		{"6", func(o *Observations) { o.Pulse = ip(115); o.SystolicBP = ip(95); o.RespiratoryRate = ip(22) }, NEWS2Urgent},
		{"single 3", func(o *Observations) { o.Consciousness = cp(Confusion) }, NEWS2Urgent},
		{"7", func(o *Observations) {
			o.Pulse = ip(115)
			o.SystolicBP = ip(95)
			o.RespiratoryRate = ip(22)
			o.TemperatureC = fp(38.5)
		}, NEWS2EDImmediate},
	}
	for _, tt := range tests {
		o := fullNormal()
		tt.mod(&o)
		r := NEWS2(o)
		if r.Response != tt.want {
			t.Errorf("%s: score %d any3=%v response %s, want %s", tt.name, r.Score, r.AnyThree, r.Response, tt.want)
		}
	}
}

func TestNEWS2MissingParameterNeverScoresZero(t *testing.T) {
	r := NEWS2(Observations{Pulse: ip(135)})
	if r.Complete {
		t.Fatal("score with six missing parameters reported complete")
	}
	if r.Score != 3 || r.Response != NEWS2Urgent {
		t.Fatalf("got score %d response %s, want 3 and %s", r.Score, r.Response, NEWS2Urgent)
	}
	measured := 0
	for _, p := range r.Parameters {
		if p.Measured {
			measured++
		}
	}
	if measured != 1 {
		t.Fatalf("measured parameters %d, want 1", measured)
	}
}

// TestNEWS2ScoreMatchesNEWS2 keeps the engine's allocation-free score equal to NEWS2's.
func TestNEWS2ScoreMatchesNEWS2(t *testing.T) {
	for rr := 5; rr <= 40; rr += 3 {
		for _, sp := range []int{80, 85, 90, 93, 95, 97} {
			for _, o2 := range []bool{false, true} {
				for _, sc2 := range []bool{false, true} {
					o := fullNormal()
					o.RespiratoryRate, o.SpO2, o.OnOxygen, o.SpO2Scale2 = ip(rr), ip(sp), bp(o2), sc2
					o.Pulse, o.TemperatureC, o.SystolicBP = ip(30+rr*4), fp(34.5+float64(rr)/8), ip(70+rr*5)
					if rr%2 == 0 {
						o.Consciousness = cp(Voice)
					}
					if got, want := news2Score(&o), NEWS2(o).Score; got != want {
						t.Fatalf("news2Score(%+v) = %d, NEWS2 = %d", o, got, want)
					}
				}
			}
		}
	}
	if news2Score(&Observations{}) != 0 {
		t.Error("empty observations")
	}
}
