package care

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// The extract as a FHIR R4 Bundle (type collection) of Encounters, written
// as plain JSON: only the few elements the extract needs, no FHIR library.
// Chief complaint is Encounter.reasonCode, acuity Encounter.priority,
// discharge destination Encounter.hospitalization.dischargeDisposition;
// the follow-up and the NHS 111 disposition, which R4 Encounter has no
// element for, are extensions. Local codes carry frontdoor's local system.
const (
	SystemSNOMED     = "http://snomed.info/sct"
	SystemNHSNumber  = "https://fhir.nhs.uk/Id/nhs-number"
	SystemLocal      = "urn:frontdoor-ucc:codesystem:local"
	SystemDx         = "https://fhir.nhs.uk/Id/pathways-dx-code"
	SystemAttendance = "urn:frontdoor-ucc:attendance"
	ExtFollowUp      = "urn:frontdoor-ucc:extension:ecds-discharge-follow-up"
	ExtDisposition   = "urn:frontdoor-ucc:extension:nhs111-disposition"
	systemActCode    = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
)

type (
	fhirCoding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	fhirConcept struct {
		Coding []fhirCoding `json:"coding"`
	}
	fhirIdentifier struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}
	fhirExtension struct {
		URL                  string       `json:"url"`
		ValueCodeableConcept *fhirConcept `json:"valueCodeableConcept,omitempty"`
		ValueCoding          *fhirCoding  `json:"valueCoding,omitempty"`
	}
	fhirEncounter struct {
		ResourceType string           `json:"resourceType"`
		ID           string           `json:"id"`
		Extension    []fhirExtension  `json:"extension,omitempty"`
		Identifier   []fhirIdentifier `json:"identifier"`
		Status       string           `json:"status"`
		Class        fhirCoding       `json:"class"`
		Priority     *fhirConcept     `json:"priority,omitempty"`
		Subject      *struct {
			Identifier fhirIdentifier `json:"identifier"`
		} `json:"subject,omitempty"`
		Period struct {
			Start string `json:"start"`
			End   string `json:"end,omitempty"`
		} `json:"period"`
		ReasonCode      []fhirConcept `json:"reasonCode,omitempty"`
		Hospitalization *struct {
			DischargeDisposition fhirConcept `json:"dischargeDisposition"`
		} `json:"hospitalization,omitempty"`
	}
)

// EncounterStatus is FHIR's Encounter.status of an attendance, the same
// in the ECDS extract and the UK Core Encounter read: planned while NHS
// 111's patient is expected; arrived; triaged while it waits (triaged,
// routed to a service, awaiting a clinician, a confirmation or an
// address); in-progress once called; finished once seen, handed over, or
// left after arriving; cancelled when an expected patient never came.
func EncounterStatus(a *Attendance) string {
	switch a.Status {
	case AttendanceExpected:
		return "planned"
	case AttendanceArrived:
		return "arrived"
	case AttendanceTriaged, AttendanceRouted, AttendanceAwaitingConfirmation, AttendanceClinicianReview,
		AttendanceAwaitingClinician, AttendanceAwaitingAddress:
		return "triaged"
	case AttendanceCalled:
		return "in-progress"
	case AttendanceSeen, AttendanceHandedOver:
		return "finished"
	case AttendanceLeft:
		if a.CheckedInAt == nil && a.CheckInStatus != "" {
			return "cancelled" // expected, never came (or the referral was revoked)
		}
		return "finished"
	}
	return "unknown"
}

func codingOf(c coding.Code) *fhirConcept {
	if c.Code == "" {
		return nil
	}
	sys := SystemSNOMED
	if c.Local {
		sys = SystemLocal
	}
	return &fhirConcept{Coding: []fhirCoding{{System: sys, Code: c.Code, Display: c.Term}}}
}

// ecdsEncounter is one record as an Encounter.
func ecdsEncounter(r *ECDSRecord) *fhirEncounter {
	e := &fhirEncounter{ResourceType: "Encounter", ID: r.AttendanceID,
		Identifier: []fhirIdentifier{{System: SystemAttendance, Value: r.AttendanceID}},
		Status:     r.EncounterStatus, Class: fhirCoding{System: systemActCode, Code: "EMER", Display: "emergency"}}
	e.Period.Start = r.ArrivedAt.Format(time.RFC3339)
	if r.DepartedAt != nil {
		e.Period.End = r.DepartedAt.Format(time.RFC3339)
	}
	if r.NHSNumber != "" {
		e.Subject = &struct {
			Identifier fhirIdentifier `json:"identifier"`
		}{fhirIdentifier{System: SystemNHSNumber, Value: r.NHSNumber}}
	}
	if c := codingOf(r.ChiefComplaint); c != nil {
		e.ReasonCode = []fhirConcept{*c}
	}
	e.Priority = codingOf(r.Acuity)
	if c := codingOf(r.DischargeDestination); c != nil {
		e.Hospitalization = &struct {
			DischargeDisposition fhirConcept `json:"dischargeDisposition"`
		}{*c}
	}
	if c := codingOf(r.DischargeFollowUp); c != nil {
		e.Extension = append(e.Extension, fhirExtension{URL: ExtFollowUp, ValueCodeableConcept: c})
	}
	if r.Dx != "" {
		sys := SystemDx
		if r.DxLocal {
			sys = SystemLocal // a frontdoor Dx9xxx, not an NHS Pathways code
		}
		e.Extension = append(e.Extension, fhirExtension{URL: ExtDisposition, ValueCoding: &fhirCoding{System: sys, Code: r.Dx, Display: r.DxMeaning}})
	}
	return e
}

// ECDSBundleWriter streams the extract as a FHIR Bundle: the opening when
// made, one entry per Write, the closing on Close.
type ECDSBundleWriter struct {
	w     io.Writer
	n     int
	err   error
	close bool
}

// NewECDSBundleWriter starts a collection Bundle made at generated.
func NewECDSBundleWriter(w io.Writer, generated time.Time) (*ECDSBundleWriter, error) {
	ts, _ := json.Marshal(generated.UTC().Format(time.RFC3339))
	_, err := fmt.Fprintf(w, `{"resourceType":"Bundle","type":"collection","timestamp":%s,"entry":[`, ts)
	if err != nil {
		return nil, fmt.Errorf("ecds bundle: %w", err)
	}
	return &ECDSBundleWriter{w: w}, nil
}

// Write writes one record as an entry.
func (x *ECDSBundleWriter) Write(r *ECDSRecord) error {
	if x.err != nil {
		return x.err
	}
	b, err := json.Marshal(struct {
		Resource *fhirEncounter `json:"resource"`
	}{ecdsEncounter(r)})
	if err != nil {
		x.err = fmt.Errorf("ecds bundle entry %s: %w", r.AttendanceID, err)
		return x.err
	}
	if x.n > 0 {
		b = append([]byte{','}, b...)
	}
	x.n++
	if _, err := x.w.Write(b); err != nil {
		x.err = fmt.Errorf("ecds bundle: %w", err)
	}
	return x.err
}

// Close ends the Bundle.
func (x *ECDSBundleWriter) Close() error {
	if x.err != nil || x.close {
		return x.err
	}
	x.close = true
	if _, err := io.WriteString(x.w, "]}"); err != nil {
		x.err = fmt.Errorf("ecds bundle: %w", err)
	}
	return x.err
}
