package api

import (
	"net/http"
	"testing"
)

// TestOutcomeOneIssuePerElement: a refusal whose fields come from one
// message element (the birth date checked as the patient's and as the
// attendance's patient's) is one issue naming that element; a slot
// refusal names Appointment.slot, not frontdoor's field.
func TestOutcomeOneIssuePerElement(t *testing.T) {
	p := &Problem{Status: http.StatusBadRequest, Errors: map[string]string{
		"patient.date_of_birth":            "before 1900",
		"attendance.patient.date_of_birth": "before 1900",
		"slot":                             "full",
	}}
	out := outcomeOf(nil, p)
	if len(out.Issues) != 2 {
		t.Fatalf("issues %+v, want two", out.Issues)
	}
	got := map[string]bool{}
	for _, is := range out.Issues {
		got[is.Expression] = true
	}
	if !got["Patient.birthDate"] || !got["Appointment.slot"] {
		t.Fatalf("issues name %v, want Patient.birthDate and Appointment.slot", got)
	}
}
