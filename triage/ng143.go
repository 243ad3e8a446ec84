package triage

// TrafficLight is the NICE NG143 colour for a febrile child under 5.
type TrafficLight string

// NG143 colours. Red: face to face within 2 hours (life-threatening: immediate);
// amber: same-day clinical assessment; green: home care with safety-netting.
const (
	Green TrafficLight = "green"
	Amber TrafficLight = "amber"
	Red   TrafficLight = "red"
)

// Feature is one NG143 feature found, with its colour.
type Feature struct {
	Name   string       `json:"name"`
	Colour TrafficLight `json:"colour"`
}

// NG143Input is what the observation-based part of the traffic light needs. The
// symptom features (mottled skin, social cues, ...) are asked by the
// fever-under-5 protocol and passed in SymptomFeatures.
type NG143Input struct {
	// AgeDays is the child's age in days; AgeKnown is false when it is unknown or
	// derives from an estimated date of birth, which must not drive infant rules.
	AgeDays  int
	AgeKnown bool
	// Fever is true when a temperature >= 38 was measured or a parent reports fever.
	Fever           bool
	Obs             Observations
	SymptomFeatures []Feature
}

// NG143Result is the colour and the features that produced it.
type NG143Result struct {
	Applies  bool         `json:"applies"`
	Colour   TrafficLight `json:"colour"`
	Features []Feature    `json:"features"`
}

const (
	days3Months  = 91  // 3 months
	days6Months  = 183 // 6 months
	days12Months = 365
	days24Months = 730
	days5Years   = 1826
)

// NG143 applies the observation-based traffic light features from the domain
// brief to a child under 5 with fever. With the age unknown, only the age-free
// features (RR > 60, SpO2 <= 95) and the most cautious age thresholds are used.
func NG143(in NG143Input) NG143Result {
	r := NG143Result{Colour: Green}
	if in.AgeKnown && in.AgeDays >= days5Years {
		return r
	}
	o := in.Obs
	fever := in.Fever || (o.TemperatureC != nil && *o.TemperatureC >= 38)
	if !fever {
		return r
	}
	r.Applies = true
	add := func(name string, c TrafficLight) {
		r.Features = append(r.Features, Feature{Name: name, Colour: c})
	}
	if t := o.TemperatureC; t != nil && in.AgeKnown {
		if in.AgeDays < days3Months && *t >= 38 {
			add("under 3 months with temperature >= 38C", Red)
		} else if in.AgeDays < days6Months && *t >= 39 {
			add("3-6 months with temperature >= 39C", Amber)
		}
	}
	if rr := o.RespiratoryRate; rr != nil {
		switch {
		case *rr > 60:
			add("respiratory rate > 60/min", Red)
		case in.AgeKnown && in.AgeDays >= days6Months && in.AgeDays < days12Months && *rr > 50:
			add("respiratory rate > 50/min at 6-12 months", Amber)
		case (!in.AgeKnown || in.AgeDays >= days12Months) && *rr > 40:
			add("respiratory rate > 40/min over 12 months", Amber)
		}
	}
	if s := o.SpO2; s != nil && *s <= 95 && (o.OnOxygen == nil || !*o.OnOxygen) {
		add("SpO2 <= 95% in air", Amber)
	}
	if hr := o.Pulse; hr != nil {
		limit := 140
		if in.AgeKnown {
			switch {
			case in.AgeDays < days12Months:
				limit = 160
			case in.AgeDays < days24Months:
				limit = 150
			}
		}
		if *hr > limit {
			add("heart rate above the NG143 amber threshold for age", Amber)
		}
	}
	for _, f := range in.SymptomFeatures {
		add(f.Name, f.Colour)
	}
	for _, f := range r.Features {
		if f.Colour == Red {
			r.Colour = Red
		} else if f.Colour == Amber && r.Colour == Green {
			r.Colour = Amber
		}
	}
	return r
}
