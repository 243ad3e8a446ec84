package triage

// Consciousness is the ACVPU level of alertness.
type Consciousness string

// ACVPU levels.
const (
	Alert        Consciousness = "alert"
	Confusion    Consciousness = "confusion"
	Voice        Consciousness = "voice"
	Pain         Consciousness = "pain"
	Unresponsive Consciousness = "unresponsive"
)

// Observations are the vital signs reception can take. A nil pointer means
// "not measured": it never scores 0.
type Observations struct {
	RespiratoryRate *int  `json:"respiratory_rate,omitempty" yaml:"respiratory_rate"`
	SpO2            *int  `json:"spo2,omitempty" yaml:"spo2"`
	SpO2Scale2      bool  `json:"spo2_scale2,omitempty" yaml:"spo2_scale2"` // prescribed 88-92% target
	OnOxygen        *bool `json:"on_oxygen,omitempty" yaml:"on_oxygen"`
	SystolicBP      *int  `json:"systolic_bp,omitempty" yaml:"systolic_bp"`
	// DiastolicBP is not part of NEWS2; the NG133 maternity check uses it.
	DiastolicBP   *int           `json:"diastolic_bp,omitempty" yaml:"diastolic_bp"`
	Pulse         *int           `json:"pulse,omitempty" yaml:"pulse"`
	Consciousness *Consciousness `json:"consciousness,omitempty" yaml:"consciousness"`
	TemperatureC  *float64       `json:"temperature_c,omitempty" yaml:"temperature_c"`
}

// NEWS2Parameter is the score of one parameter.
type NEWS2Parameter struct {
	Name     string `json:"name"`
	Measured bool   `json:"measured"`
	Score    int    `json:"score"`
}

// NEWS2Response is frontdoor's mapping of a NEWS2 score to care, kept in one place.
type NEWS2Response string

// NEWS2 responses (domain brief): >=7 ed immediate; 5-6 or any single 3 ed within
// 1 hour; 1-4 clinician assessment (at least gp); 0 no floor.
const (
	NEWS2None        NEWS2Response = "none"
	NEWS2Clinician   NEWS2Response = "clinician_assessment"
	NEWS2Urgent      NEWS2Response = "ed_1h"
	NEWS2EDImmediate NEWS2Response = "ed_immediate"
)

// NEWS2Result is the aggregate score with completeness and per-parameter scores.
type NEWS2Result struct {
	Score      int              `json:"score"`
	Complete   bool             `json:"complete"`
	AnyThree   bool             `json:"any_three"`
	Parameters []NEWS2Parameter `json:"parameters"`
	Response   NEWS2Response    `json:"response"`
}

func scoreRespiration(rr int) int {
	switch {
	case rr <= 8:
		return 3
	case rr <= 11:
		return 1
	case rr <= 20:
		return 0
	case rr <= 24:
		return 2
	default:
		return 3
	}
}

func scoreSpO2Scale1(s int) int {
	switch {
	case s <= 91:
		return 3
	case s <= 93:
		return 2
	case s <= 95:
		return 1
	default:
		return 0
	}
}

func scoreSpO2Scale2(s int, onOxygen bool) int {
	switch {
	case s <= 83:
		return 3
	case s <= 85:
		return 2
	case s <= 87:
		return 1
	case s <= 92:
		return 0
	case !onOxygen:
		return 0
	case s <= 94:
		return 1
	case s <= 96:
		return 2
	default:
		return 3
	}
}

func scoreSystolic(bp int) int {
	switch {
	case bp <= 90:
		return 3
	case bp <= 100:
		return 2
	case bp <= 110:
		return 1
	case bp <= 219:
		return 0
	default:
		return 3
	}
}

func scorePulse(p int) int {
	switch {
	case p <= 40:
		return 3
	case p <= 50:
		return 1
	case p <= 90:
		return 0
	case p <= 110:
		return 1
	case p <= 130:
		return 2
	default:
		return 3
	}
}

func scoreTemperature(t float64) int {
	// Compare in tenths of a degree to avoid float edge effects at 35.0/36.0/38.0/39.0.
	d := int(t*10 + 0.5)
	if t < 0 {
		d = int(t*10 - 0.5)
	}
	switch {
	case d <= 350:
		return 3
	case d <= 360:
		return 1
	case d <= 380:
		return 0
	case d <= 390:
		return 1
	default:
		return 2
	}
}

// NEWS2 scores the observations. Missing parameters are reported as not measured,
// make the result incomplete, and add nothing: an incomplete score can raise the
// outcome (through what was measured) but is never used to lower it.
func NEWS2(o Observations) NEWS2Result {
	r := NEWS2Result{Complete: true, Parameters: make([]NEWS2Parameter, 0, 7)}
	add := func(name string, measured bool, score int) {
		if !measured {
			r.Complete = false
			score = 0
		}
		r.Parameters = append(r.Parameters, NEWS2Parameter{Name: name, Measured: measured, Score: score})
		r.Score += score
		if score == 3 {
			r.AnyThree = true
		}
	}
	if o.RespiratoryRate != nil {
		add("respiratory_rate", true, scoreRespiration(*o.RespiratoryRate))
	} else {
		add("respiratory_rate", false, 0)
	}
	onO2 := o.OnOxygen != nil && *o.OnOxygen
	if o.SpO2 != nil {
		if o.SpO2Scale2 {
			add("spo2", true, scoreSpO2Scale2(*o.SpO2, onO2))
		} else {
			add("spo2", true, scoreSpO2Scale1(*o.SpO2))
		}
	} else {
		add("spo2", false, 0)
	}
	if o.OnOxygen != nil {
		s := 0
		if *o.OnOxygen {
			s = 2
		}
		add("air_or_oxygen", true, s)
	} else {
		add("air_or_oxygen", false, 0)
	}
	if o.SystolicBP != nil {
		add("systolic_bp", true, scoreSystolic(*o.SystolicBP))
	} else {
		add("systolic_bp", false, 0)
	}
	if o.Pulse != nil {
		add("pulse", true, scorePulse(*o.Pulse))
	} else {
		add("pulse", false, 0)
	}
	if o.Consciousness != nil {
		s := 3
		if *o.Consciousness == Alert {
			s = 0
		}
		add("consciousness", true, s)
	} else {
		add("consciousness", false, 0)
	}
	if o.TemperatureC != nil {
		add("temperature", true, scoreTemperature(*o.TemperatureC))
	} else {
		add("temperature", false, 0)
	}
	switch {
	case r.Score >= 7:
		r.Response = NEWS2EDImmediate
	case r.Score >= 5 || r.AnyThree:
		r.Response = NEWS2Urgent
	case r.Score >= 1:
		r.Response = NEWS2Clinician
	default:
		r.Response = NEWS2None
	}
	return r
}

// news2Score is the aggregate of the measured parameters, without allocating
// (the engine's cheap pass); NEWS2 gives the full, explained result.
func news2Score(o *Observations) int {
	s := 0
	if o.RespiratoryRate != nil {
		s += scoreRespiration(*o.RespiratoryRate)
	}
	onO2 := o.OnOxygen != nil && *o.OnOxygen
	if o.SpO2 != nil {
		if o.SpO2Scale2 {
			s += scoreSpO2Scale2(*o.SpO2, onO2)
		} else {
			s += scoreSpO2Scale1(*o.SpO2)
		}
	}
	if onO2 {
		s += 2
	}
	if o.SystolicBP != nil {
		s += scoreSystolic(*o.SystolicBP)
	}
	if o.Pulse != nil {
		s += scorePulse(*o.Pulse)
	}
	if o.Consciousness != nil && *o.Consciousness != Alert {
		s += 3
	}
	if o.TemperatureC != nil {
		s += scoreTemperature(*o.TemperatureC)
	}
	return s
}
