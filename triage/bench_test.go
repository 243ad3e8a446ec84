package triage

import "testing"

func BenchmarkNEWS2(b *testing.B) {
	o := fullNormal()
	o.Pulse = ip(115)
	b.ReportAllocs()
	for b.Loop() {
		if r := NEWS2(o); r.Score != 2 {
			b.Fatalf("score %d", r.Score)
		}
	}
}

func BenchmarkNG143(b *testing.B) {
	in := NG143Input{AgeDays: 400, AgeKnown: true, Fever: true, Obs: Observations{RespiratoryRate: ip(45), Pulse: ip(155)}}
	b.ReportAllocs()
	for b.Loop() {
		if r := NG143(in); r.Colour != Amber {
			b.Fatalf("colour %s", r.Colour)
		}
	}
}
