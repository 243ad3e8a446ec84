package bars

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// UK Core and NHS Pathways identifier and code systems.
const (
	SystemNHSNumber    = "https://fhir.nhs.uk/Id/nhs-number"
	systemDx           = "https://fhir.nhs.uk/Id/pathways-dx-code"
	systemSG           = "https://fhir.nhs.uk/Id/pathways-sg-code"
	systemSD           = "https://fhir.nhs.uk/Id/pathways-sd-code"
	systemTemplate     = "https://fhir.nhs.uk/Id/pathways-template"
	categoryValidation = "validation"
)

// checkDx takes an NHS Pathways Dx code a referral's reason carries: one
// of the national codes in the vendored Pathways list (those frontdoor
// does not map to a level of care, such as the dental Dx17, go to a
// clinician's review in the FSM). A code that is not well formed, or one
// of frontdoor's own local codes (Dx9xxx, which mean nothing to a sender),
// is 400; a well-formed code this centre has no meaning for is 422.
func checkDx(code, expression string) *Error {
	d, listed := coding.MustDefault().Dx(code)
	_, mapped := triage.DxOutcome(code)
	switch {
	case !dxCode.MatchString(code):
		return BadRequest(fhir.IssueTypeCodeInvalid, expression, "Dx code "+code+" is not an NHS Pathways disposition code (Dx followed by digits)")
	case listed && d.Local:
		return BadRequest(fhir.IssueTypeCodeInvalid, expression, "Dx code "+code+" is local to frontdoor, not an NHS Pathways disposition code")
	case listed || mapped:
		return nil
	}
	return &Error{Status: http.StatusUnprocessableEntity, Issues: []Issue{{Code: fhir.IssueTypeCodeInvalid, Expression: expression,
		Diagnostics: "Dx code " + code + " is not one this centre can take (see the Pathways Dx list in its README); refer with the case's disposition by another route"}}}
}

var dxCode = regexp.MustCompile(`^Dx[0-9]{2,5}$`)

// serviceRequestProfiles are the ServiceRequest profiles a referral may
// claim (meta.profile, when given).
var serviceRequestProfiles = []string{
	"https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral",
	"https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-validation",
	"https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest",
	"https://fhir.nhs.uk/StructureDefinition/BARSUKCoreServiceRequest",
}

// Referral is what a servicerequest-request message asks.
type Referral struct {
	// Validation: the ServiceRequest's category is validation: check
	// everything, change nothing.
	Validation bool
	// Cancel: the ServiceRequest is revoked (BaRS cancellation).
	Cancel  bool
	Receive care.ReferralReceive
}

// ToReferral maps a servicerequest-request message to care's payload for
// the receiving service target. It checks the UK Core / BaRS elements
// frontdoor relies on: the focus ServiceRequest (profile, status, subject),
// the Patient (UK Core NHS number, Modulus 11), the NHS Pathways Dx.
func ToReferral(m *Message, target string) (*Referral, *Error) {
	if m.Event != EventServiceRequest {
		return nil, BadRequest(fhir.IssueTypeInvalid, "MessageHeader.eventCoding.code", "not a servicerequest-request")
	}
	e := m.focus
	if e.rtype != "ServiceRequest" {
		return nil, BadRequest(fhir.IssueTypeInvalid, "MessageHeader.focus[0].reference", "a servicerequest-request's focus must be a ServiceRequest, not "+e.rtype)
	}
	var sr fhir.ServiceRequest
	if err := decode(e, &sr); err != nil {
		return nil, err
	}
	if sr.Meta != nil && len(sr.Meta.Profile) > 0 && !anyIn(sr.Meta.Profile, serviceRequestProfiles) {
		return nil, BadRequest(fhir.IssueTypeInvalid, e.path("meta.profile"), "the ServiceRequest's profile is not a BaRS referral ("+serviceRequestProfiles[0]+")")
	}
	ref := &Referral{}
	for _, c := range sr.Category {
		for _, cd := range c.Coding {
			if cd.Code != nil && *cd.Code == categoryValidation {
				ref.Validation = true
			}
		}
	}
	srID := e.resourceID()
	if srID == "" || len(srID) > 64 {
		return nil, BadRequest(fhir.IssueTypeRequired, e.path("id"), "the ServiceRequest needs an id (or a urn:uuid fullUrl) of at most 64 characters")
	}
	r := &ref.Receive
	r.MessageID, r.ServiceRequestID, r.Target = m.ID, srID, target
	switch sr.Status {
	case fhir.RequestStatusActive:
	case fhir.RequestStatusRevoked:
		ref.Cancel = true
		return ref, nil
	default:
		return nil, BadRequest(fhir.IssueTypeValue, e.path("status"), "a referral's ServiceRequest.status is active (or revoked to cancel), not "+sr.Status.Code())
	}
	a := &r.Attendance
	a.Channel, a.Expected = care.ChannelNHS111, true
	if sr.Subject.Reference == nil {
		return nil, BadRequest(fhir.IssueTypeRequired, e.path("subject"), "the ServiceRequest names no patient")
	}
	pe := m.resolve(*sr.Subject.Reference)
	if pe == nil || pe.rtype != "Patient" {
		return nil, BadRequest(fhir.IssueTypeNotFound, e.path("subject.reference"), "the ServiceRequest's subject is not a Patient in the Bundle")
	}
	if err := mapPatient(pe, r); err != nil {
		return nil, err
	}
	if err := mapReasons(e, &sr, a); err != nil {
		return nil, err
	}
	a.CaseRef = srID
	if sr.Requisition != nil && sr.Requisition.Value != nil {
		a.CaseRef = *sr.Requisition.Value
	}
	var encRef string
	if sr.Encounter != nil && sr.Encounter.Reference != nil {
		if ee := m.resolve(*sr.Encounter.Reference); ee != nil {
			encRef = ee.resourceID()
		}
	}
	for i := range m.entries {
		oe := &m.entries[i]
		if oe.rtype != "Observation" {
			continue
		}
		var o fhir.Observation
		if err := decode(oe, &o); err != nil {
			return nil, err
		}
		if encRef != "" && o.Encounter != nil && o.Encounter.Reference != nil {
			if x := m.resolve(*o.Encounter.Reference); x != nil && x.resourceID() != encRef {
				continue // another encounter's
			}
		}
		if err := mapObservation(oe, &o, r); err != nil {
			return nil, err
		}
	}
	return ref, nil
}

// mapPatient reads the UK Core Patient into r's attendance and patient.
func mapPatient(pe *entry, r *care.ReferralReceive) *Error {
	pc, pat, err := readPatient(pe)
	if err != nil {
		return err
	}
	a := &r.Attendance
	a.Patient = pat
	if pc.Sex == "female" || pc.Sex == "male" || pc.Sex == "unknown" {
		if a.Context == nil {
			a.Context = &care.TriageContext{}
		}
		a.Context.Sex = pc.Sex
	}
	if pc.NHSNumber != "" {
		r.Patient = pc
	}
	return nil
}

// readPatient reads a UK Core Patient: NHS number (system
// https://fhir.nhs.uk/Id/nhs-number, Modulus 11), official name, birth
// date, gender, postcode and phone. With an NHS number the patient record
// needs a name and date of birth.
func readPatient(pe *entry) (*care.PatientCreate, care.Patient, *Error) {
	var p fhir.Patient
	if err := decode(pe, &p); err != nil {
		return nil, care.Patient{}, err
	}
	pc := &care.PatientCreate{}
	for i, id := range p.Identifier {
		if id.System != nil && *id.System != SystemNHSNumber && looksLikeNHSNumberSystem(*id.System) {
			// An NHS number under another system (the old
			// http://fhir.nhs.net/Id/nhs-number, a typo) would make a
			// patient without one: say so instead.
			return nil, care.Patient{}, BadRequest(fhir.IssueTypeValue, pe.path(fmt.Sprintf("identifier[%d].system", i)),
				*id.System+" is not UK Core's NHS number system: use "+SystemNHSNumber)
		}
		if id.System == nil || *id.System != SystemNHSNumber {
			continue
		}
		if id.Value == nil || routing.ValidateNHSNumber(*id.Value) != nil {
			return nil, care.Patient{}, BadRequest(fhir.IssueTypeValue, pe.path(fmt.Sprintf("identifier[%d].value", i)),
				"not a valid NHS number (10 digits, Modulus 11 check digit) in the "+SystemNHSNumber+" identifier")
		}
		n, _ := routing.NormaliseNHSNumber(*id.Value)
		if pc.NHSNumber != "" && pc.NHSNumber != n {
			// Which of two people is this? Never guess.
			return nil, care.Patient{}, BadRequest(fhir.IssueTypeBusinessRule, pe.path(fmt.Sprintf("identifier[%d].value", i)),
				"a Patient has one NHS number: this is a second, different one ("+pc.NHSNumber+" came first)")
		}
		pc.NHSNumber = n
	}
	if name := officialName(p.Name); name != nil {
		if name.Family != nil {
			pc.FamilyName = *name.Family
		}
		if len(name.Given) > 0 {
			pc.GivenName = name.Given[0]
		}
	}
	if p.BirthDate != nil {
		pc.DateOfBirth = *p.BirthDate
	}
	if p.Gender != nil {
		pc.Sex = p.Gender.Code()
	}
	for _, ad := range p.Address {
		if ad.PostalCode != nil {
			pc.Postcode = *ad.PostalCode
			break
		}
	}
	for _, t := range p.Telecom {
		if t.System != nil && *t.System == fhir.ContactPointSystemPhone && t.Value != nil {
			pc.Phone = *t.Value
			break
		}
	}
	if pc.NHSNumber != "" && (pc.FamilyName == "" || pc.GivenName == "" || pc.DateOfBirth == "") {
		return nil, care.Patient{}, BadRequest(fhir.IssueTypeRequired, pe.path("name"), "a Patient with an NHS number needs an official name (family, given) and birthDate")
	}
	pat := care.Patient{GivenName: pc.GivenName, FamilyName: pc.FamilyName, DateOfBirth: pc.DateOfBirth, NHSNumber: pc.NHSNumber, Postcode: pc.Postcode}
	return pc, pat, nil
}

// looksLikeNHSNumberSystem: an identifier system meant as the NHS
// number's: it names an NHS number.
func looksLikeNHSNumberSystem(system string) bool {
	s := strings.ToLower(system)
	return strings.Contains(s, "nhs-number") || strings.Contains(s, "nhsnumber") || strings.Contains(s, "nhs_number")
}

func officialName(ns []fhir.HumanName) *fhir.HumanName {
	for i := range ns {
		if ns[i].Use != nil && *ns[i].Use == fhir.NameUseOfficial {
			return &ns[i]
		}
	}
	if len(ns) > 0 {
		return &ns[0]
	}
	return nil
}

// mapReasons reads the NHS Pathways codes of ServiceRequest.reasonCode:
// the Dx (a minimum), symptom group and discriminator codes, and the
// presenting complaint (the Pathways template's name, else the symptom
// group's).
func mapReasons(e *entry, sr *fhir.ServiceRequest, a *care.AttendanceCreate) *Error {
	var template, sg, sgText, sd string
	for i, rc := range sr.ReasonCode {
		for _, c := range rc.Coding {
			if c.System == nil || c.Code == nil {
				continue
			}
			switch *c.System {
			case systemDx:
				code := *c.Code
				if len(code) > 2 && strings.EqualFold(code[:2], "dx") {
					code = "Dx" + code[2:]
				}
				if a.Dx == nil {
					a.Dx = &care.DxReferral{}
				}
				a.Dx.Code = code
				if err := checkDx(code, e.path(fmt.Sprintf("reasonCode[%d].coding", i))); err != nil {
					return err
				}
			case systemSG:
				sg = *c.Code
				if c.Display != nil {
					sgText = *c.Display
				}
			case systemSD:
				sd = *c.Code
			case systemTemplate:
				template = *c.Code
				if c.Display != nil {
					template = *c.Display
				}
			}
		}
	}
	if a.Dx != nil {
		a.Dx.SymptomGroup, a.Dx.Discriminator = sg, sd
	}
	switch {
	case template != "":
		a.Complaint = template
	case sgText != "":
		a.Complaint = sgText
	default:
		a.Complaint = "NHS 111 referral"
	}
	return nil
}

// Vital signs by SNOMED CT and LOINC code, for the triage observations.
var vitalCodes = map[string]string{
	"86290005": "respiratory_rate", "9279-1": "respiratory_rate",
	"364075005": "pulse", "78564009": "pulse", "8867-4": "pulse",
	"431314004": "spo2", "59408-5": "spo2", "2708-6": "spo2",
	"271649006": "systolic_bp", "8480-6": "systolic_bp",
	"271650006": "diastolic_bp", "8462-4": "diastolic_bp",
	"276885007": "temperature_c", "703421000": "temperature_c", "8310-5": "temperature_c",
}

// mapObservation keeps an Observation as sent and, for a vital sign with a
// quantity, gives it to triage.
func mapObservation(oe *entry, o *fhir.Observation, r *care.ReferralReceive) *Error {
	ro := care.ReferralObservation{ID: oe.resourceID()}
	var vital string
	for _, c := range o.Code.Coding {
		if c.Code == nil {
			continue
		}
		if ro.Code == "" {
			ro.Code = *c.Code
			if c.System != nil {
				ro.System = *c.System
			}
			if c.Display != nil {
				ro.Display = *c.Display
			}
		}
		if v, ok := vitalCodes[*c.Code]; ok && vital == "" {
			vital = v
		}
	}
	if ro.Code == "" {
		return BadRequest(fhir.IssueTypeRequired, oe.path("code.coding"), "an Observation needs a code")
	}
	switch {
	case o.ValueQuantity != nil && o.ValueQuantity.Value != nil:
		ro.Value = o.ValueQuantity.Value.String()
		if o.ValueQuantity.Unit != nil {
			ro.Value += " " + *o.ValueQuantity.Unit
		}
	case o.ValueString != nil:
		ro.Value = *o.ValueString
	case o.ValueCodeableConcept != nil && o.ValueCodeableConcept.Text != nil:
		ro.Value = *o.ValueCodeableConcept.Text
	case o.ValueCodeableConcept != nil && len(o.ValueCodeableConcept.Coding) > 0 && o.ValueCodeableConcept.Coding[0].Display != nil:
		ro.Value = *o.ValueCodeableConcept.Coding[0].Display
	}
	var notes []string
	for _, n := range o.Note {
		notes = append(notes, n.Text)
	}
	ro.Note = strings.Join(notes, "\n")
	r.Observations = append(r.Observations, ro)
	if vital == "" || o.ValueQuantity == nil || o.ValueQuantity.Value == nil {
		return nil
	}
	f, err := o.ValueQuantity.Value.Float64()
	if err != nil {
		return BadRequest(fhir.IssueTypeValue, oe.path("valueQuantity.value"), "not a number")
	}
	a := &r.Attendance
	if a.Context == nil {
		a.Context = &care.TriageContext{}
	}
	if a.Context.Observations == nil {
		a.Context.Observations = &triage.Observations{}
	}
	obs := a.Context.Observations
	n := int(math.Round(f))
	switch vital {
	case "respiratory_rate":
		obs.RespiratoryRate = &n
	case "pulse":
		obs.Pulse = &n
	case "spo2":
		obs.SpO2 = &n
	case "systolic_bp":
		obs.SystolicBP = &n
	case "diastolic_bp":
		obs.DiastolicBP = &n
	case "temperature_c":
		obs.TemperatureC = &f
	}
	return nil
}
