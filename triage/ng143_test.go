package triage

import "testing"

func TestNG143Boundaries(t *testing.T) {
	const (
		d2m  = 60   // 2 months
		d4m  = 120  // 4 months
		d9m  = 270  // 9 months
		d18m = 540  // 18 months
		d3y  = 1100 // 3 years
	)
	tests := []struct {
		name   string
		age    int
		known  bool
		fever  bool
		obs    Observations
		colour TrafficLight
	}{
		// Temperature >= 38 under 3 months: red; either side of 38 and of 3 months.
		{"2m 37.9", d2m, true, false, Observations{TemperatureC: fp(37.9)}, Green},
		{"2m 38.0", d2m, true, false, Observations{TemperatureC: fp(38.0)}, Red},
		{"90d 38.0", days3Months - 1, true, false, Observations{TemperatureC: fp(38.0)}, Red},
		{"91d 38.0", days3Months, true, false, Observations{TemperatureC: fp(38.0)}, Green},
		// 3-6 months with >= 39: amber.
		{"4m 38.9", d4m, true, false, Observations{TemperatureC: fp(38.9)}, Green},
		{"4m 39.0", d4m, true, false, Observations{TemperatureC: fp(39.0)}, Amber},
		{"182d 39.0", days6Months - 1, true, false, Observations{TemperatureC: fp(39.0)}, Amber},
		{"183d 39.0", days6Months, true, false, Observations{TemperatureC: fp(39.0)}, Green},
		// Respiratory rate.
		{"9m rr60", d9m, true, true, Observations{RespiratoryRate: ip(60)}, Amber},
		{"9m rr61", d9m, true, true, Observations{RespiratoryRate: ip(61)}, Red},
		{"9m rr50", d9m, true, true, Observations{RespiratoryRate: ip(50)}, Green},
		{"9m rr51", d9m, true, true, Observations{RespiratoryRate: ip(51)}, Amber},
		{"18m rr40", d18m, true, true, Observations{RespiratoryRate: ip(40)}, Green},
		{"18m rr41", d18m, true, true, Observations{RespiratoryRate: ip(41)}, Amber},
		// SpO2 <= 95 in air.
		{"spo2 96", d3y, true, true, Observations{SpO2: ip(96)}, Green},
		{"spo2 95", d3y, true, true, Observations{SpO2: ip(95)}, Amber},
		// Heart rate by age.
		{"9m hr160", d9m, true, true, Observations{Pulse: ip(160)}, Green},
		{"9m hr161", d9m, true, true, Observations{Pulse: ip(161)}, Amber},
		{"18m hr150", d18m, true, true, Observations{Pulse: ip(150)}, Green},
		{"18m hr151", d18m, true, true, Observations{Pulse: ip(151)}, Amber},
		{"3y hr140", d3y, true, true, Observations{Pulse: ip(140)}, Green},
		{"3y hr141", d3y, true, true, Observations{Pulse: ip(141)}, Amber},
		// Scope: under 5 with fever (measured or reported).
		{"5y rr61", days5Years, true, true, Observations{RespiratoryRate: ip(61)}, Green},
		{"just under 5y rr61", days5Years - 1, true, true, Observations{RespiratoryRate: ip(61)}, Red},
		{"no fever rr61", d3y, true, false, Observations{RespiratoryRate: ip(61)}, Green},
		{"parent-reported fever rr61", d3y, true, true, Observations{RespiratoryRate: ip(61)}, Red},
		// Estimated DOB / unknown age never drives the infant temperature rule, and
		// uses the most cautious heart rate threshold.
		{"unknown age 38.5", 0, false, false, Observations{TemperatureC: fp(38.5)}, Green},
		{"unknown age hr141", 0, false, true, Observations{Pulse: ip(141)}, Amber},
	}
	for _, tt := range tests {
		r := NG143(NG143Input{AgeDays: tt.age, AgeKnown: tt.known, Fever: tt.fever, Obs: tt.obs})
		if r.Colour != tt.colour {
			t.Errorf("%s: colour %s (features %+v), want %s", tt.name, r.Colour, r.Features, tt.colour)
		}
	}
}

func TestNG143SymptomFeaturesRaise(t *testing.T) {
	r := NG143(NG143Input{AgeDays: 400, AgeKnown: true, Fever: true,
		SymptomFeatures: []Feature{{Name: "pallor reported by parent", Colour: Amber}, {Name: "non-blanching rash", Colour: Red}}})
	if r.Colour != Red || len(r.Features) != 2 {
		t.Fatalf("got %s with %d features, want red with 2", r.Colour, len(r.Features))
	}
}
