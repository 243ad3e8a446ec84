package loadtest

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Synthetic people and complaints for the workloads: plausible, varied,
// never real. NHS numbers are generated with a valid Modulus 11 check
// digit in the 999 range that NHS England reserves for testing, so no
// generated number belongs to anyone.

var (
	givenNames = []string{"Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo",
		"Freya", "Harry", "Priya", "Mohammed", "Zainab", "Tomasz", "Aoife", "Kwame", "Siobhan", "Rhys"}
	familyNames = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
		"Khan", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Nowak", "Murphy", "Okafor", "Hughes", "Begum"}
	// Postcodes in and around Dudley (the demo directory's catchment).
	postcodes = []string{"DY1 1AA", "DY1 2HQ", "DY2 7AB", "DY2 8PL", "DY3 1SH", "DY4 7NH", "DY5 1XW", "DY6 9QP",
		"DY8 1AF", "DY9 7ND", "B62 8DD", "B63 3BL", "WV14 0QA", "WS10 8DW"}
	complaints = []string{"sore throat", "earache", "cut finger", "twisted ankle", "back pain", "cough for three days",
		"rash on arm", "fever", "headache", "abdominal pain", "chest pain", "shortness of breath", "fall at home",
		"urinary symptoms", "eye irritation", "insect bite", "burn to hand", "dizziness", "vomiting", "wrist injury after fall"}
)

// synth makes synthetic request bodies from its own random source (one per
// worker: not shared, so no locking and a run is reproducible per seed).
type synth struct {
	r *rand.Rand
}

func newSynth(seed, stream uint64) *synth {
	return &synth{r: rand.New(rand.NewPCG(seed, stream))}
}

func (s *synth) pick(list []string) string { return list[s.r.IntN(len(list))] }

// nhsNumber returns a Modulus 11 valid test NHS number (999 range),
// formatted "999 123 4567" as reception would type it.
func (s *synth) nhsNumber() string {
	for {
		var d [10]int
		d[0], d[1], d[2] = 9, 9, 9
		sum := 9*10 + 9*9 + 9*8
		for i := 3; i < 9; i++ {
			d[i] = s.r.IntN(10)
			sum += d[i] * (10 - i)
		}
		check := 11 - sum%11
		if check == 10 {
			continue
		}
		if check == 11 {
			check = 0
		}
		d[9] = check
		if d == [10]int{9, 9, 9, 9, 9, 9, 9, 9, 9, 9} {
			continue // one digit repeated: refused as a placeholder number
		}
		return fmt.Sprintf("%d%d%d %d%d%d %d%d%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9])
	}
}

// dateOfBirth is between 0 and 95 years before now, weighted towards the
// young and the old as in urgent care.
func (s *synth) dateOfBirth(now time.Time) string {
	var years int
	switch x := s.r.IntN(10); {
	case x < 3:
		years = s.r.IntN(6) // under 5s
	case x < 7:
		years = 5 + s.r.IntN(60)
	default:
		years = 65 + s.r.IntN(31)
	}
	return now.AddDate(-years, 0, -s.r.IntN(365)).Format("2006-01-02")
}

// attendancePatient is the patient part of POST /v1/attendances.
type attendancePatient struct {
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DateOfBirth string `json:"date_of_birth,omitempty"`
	NHSNumber   string `json:"nhs_number,omitempty"`
	Postcode    string `json:"postcode,omitempty"`
}

// attendanceRequest is the POST /v1/attendances body.
type attendanceRequest struct {
	Patient   attendancePatient `json:"patient"`
	Complaint string            `json:"complaint"`
	Channel   string            `json:"channel,omitempty"`
}

// attendance makes one arrival: most walk in with name, date of birth and
// postcode; about half know their NHS number; one in fifty is unknown (no
// details at all, someone brought in unwell).
func (s *synth) attendance(now time.Time) attendanceRequest {
	a := attendanceRequest{Complaint: s.pick(complaints), Channel: "walk_in"}
	if s.r.IntN(50) == 0 {
		return a
	}
	a.Patient = attendancePatient{
		GivenName:   s.pick(givenNames),
		FamilyName:  s.pick(familyNames),
		DateOfBirth: s.dateOfBirth(now),
		Postcode:    s.pick(postcodes),
	}
	if s.r.IntN(2) == 0 {
		a.Patient.NHSNumber = s.nhsNumber()
	}
	return a
}

// walkinObservations are the vital signs reception takes: mostly normal,
// some abnormal enough to raise a NEWS2 score.
type walkinObservations struct {
	RespiratoryRate int     `json:"respiratory_rate"`
	SpO2            int     `json:"spo2"`
	SystolicBP      int     `json:"systolic_bp"`
	Pulse           int     `json:"pulse"`
	Consciousness   string  `json:"consciousness"`
	TemperatureC    float64 `json:"temperature_c"`
}

func (s *synth) observations() walkinObservations {
	o := walkinObservations{RespiratoryRate: 12 + s.r.IntN(9), SpO2: 95 + s.r.IntN(5), SystolicBP: 110 + s.r.IntN(40),
		Pulse: 60 + s.r.IntN(40), Consciousness: "alert", TemperatureC: 36.2 + float64(s.r.IntN(16))/10}
	if s.r.IntN(10) == 0 { // unwell
		o.RespiratoryRate, o.SpO2, o.Pulse, o.TemperatureC = 22+s.r.IntN(6), 91+s.r.IntN(4), 105+s.r.IntN(25), 38.5+float64(s.r.IntN(15))/10
	}
	return o
}

// answer picks a reply to a triage question: yes/no mostly "no" (most
// people at an urgent care centre are not in danger), sometimes "yes" or
// "not sure"; a choice at random; a number within its range.
func (s *synth) answer(kind string, lo, hi *float64, allowed []string, choices int) string {
	switch kind {
	case "yes_no":
		switch x := s.r.IntN(100); {
		case x < 8:
			return "yes"
		case x < 11 && contains(allowed, "not_sure"):
			return "not_sure"
		}
		return "no"
	case "number":
		a, b := 0.0, 10.0
		if lo != nil {
			a = *lo
		}
		if hi != nil {
			b = *hi
		}
		if b < a {
			b = a
		}
		return fmt.Sprintf("%d", int(a)+s.r.IntN(int(b-a)+1))
	}
	if len(allowed) > 0 {
		return allowed[s.r.IntN(len(allowed))]
	}
	return "no"
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
