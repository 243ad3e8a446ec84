package triage

import "testing"

func TestPatientChecksWithoutASession(t *testing.T) {
	intp := func(v int) *int { return &v }
	fl := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		p         Patient
		wantCheck string // "" = nothing raises
		wantTier  Tier
		wantTf    Timeframe
	}{
		{"adult, normal observations", Patient{AgeYears: intp(40), Observations: Observations{RespiratoryRate: intp(16), SpO2: intp(98), SystolicBP: intp(125), Pulse: intp(72), TemperatureC: fl(36.8)}}, "", "", ""},
		{"adult, NEWS2 7+", Patient{AgeYears: intp(70), Observations: Observations{RespiratoryRate: intp(26), SpO2: intp(90), SystolicBP: intp(95), Pulse: intp(120), TemperatureC: fl(38.6)}}, CheckNEWS2, ED, Immediate},
		{"pregnant: no NEWS2 but sepsis observations still count", Patient{AgeYears: intp(30), Pregnant: Yes, Observations: Observations{Pulse: intp(135)}}, CheckSepsis, ED, Within1h},
		{"toddler with fever reported and a fast heart", Patient{AgeYears: intp(2), Flags: []string{"fever"}, Observations: Observations{Pulse: intp(150)}}, CheckNG143, GP, Within2h},
		{"third contact in 96 hours", Patient{AgeYears: intp(50), PreviousContacts96h: 2}, CheckRepeatContact, GP, Within2h},
		{"carer very worried", Patient{AgeYears: intp(80), Flags: []string{FlagCarerVeryWorried}}, CheckCarerWorry, GP, Within2h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks, _, top := PatientChecks(tt.p)
			if len(checks) != 5 {
				t.Fatalf("%d checks, want all 5", len(checks))
			}
			if tt.wantCheck == "" {
				if top != nil {
					t.Fatalf("top = %+v, want none", top)
				}
				return
			}
			if top == nil || top.Check != tt.wantCheck || top.Tier != tt.wantTier || top.Timeframe != tt.wantTf {
				t.Fatalf("top = %+v, want %s %s %s", top, tt.wantCheck, tt.wantTier, tt.wantTf)
			}
		})
	}
}
