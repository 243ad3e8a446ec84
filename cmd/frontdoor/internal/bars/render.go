package bars

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// UK Core profiles of what frontdoor renders.
const (
	profilePatient        = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
	profileEncounter      = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"
	profileServiceRequest = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"
	profileObservation    = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"
	profileMessageHeader  = "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-servicerequest-response"
	// SystemSenderServiceRequest identifies the sender's ServiceRequest id
	// in the ServiceRequest frontdoor keeps.
	SystemSenderServiceRequest = "https://fhir.nhs.uk/Id/bars-sender-servicerequest-id"
	// systemCaseRef identifies the NHS 111 case reference.
	systemCaseRef = "https://fhir.nhs.uk/Id/nhs111-case-reference"
)

func meta(profile string, updated time.Time) *fhir.Meta {
	m := &fhir.Meta{Profile: []string{profile}}
	if !updated.IsZero() {
		m.LastUpdated = ptr(updated.UTC().Format(time.RFC3339))
	}
	return m
}

// Patient renders a patient record as a UK Core Patient.
func Patient(p *care.PatientRecord) fhir.Patient {
	out := fhir.Patient{Id: ptr(p.ID), Meta: meta(profilePatient, p.CreatedAt)}
	if p.NHSNumber != "" {
		out.Identifier = []fhir.Identifier{{System: ptr(SystemNHSNumber), Value: ptr(p.NHSNumber)}}
	}
	name := fhir.HumanName{Use: ptr(fhir.NameUseOfficial)}
	if p.FamilyName != "" {
		name.Family = ptr(p.FamilyName)
	}
	if p.GivenName != "" {
		name.Given = []string{p.GivenName}
	}
	out.Name = []fhir.HumanName{name}
	if p.DateOfBirth != "" {
		out.BirthDate = ptr(p.DateOfBirth)
	}
	switch p.Sex {
	case "female":
		out.Gender = ptr(fhir.AdministrativeGenderFemale)
	case "male":
		out.Gender = ptr(fhir.AdministrativeGenderMale)
	case "other":
		out.Gender = ptr(fhir.AdministrativeGenderOther)
	case "unknown":
		out.Gender = ptr(fhir.AdministrativeGenderUnknown)
	}
	if p.Postcode != "" {
		out.Address = []fhir.Address{{PostalCode: ptr(p.Postcode)}}
	}
	if p.Phone != "" {
		out.Telecom = []fhir.ContactPoint{{System: ptr(fhir.ContactPointSystemPhone), Value: ptr(p.Phone)}}
	}
	return out
}

// encounterStatus is FHIR's Encounter.status of an attendance
// (care.EncounterStatus: the same as in the ECDS extract).
func encounterStatus(a *care.Attendance) fhir.EncounterStatus {
	switch care.EncounterStatus(a) {
	case "planned":
		return fhir.EncounterStatusPlanned
	case "arrived":
		return fhir.EncounterStatusArrived
	case "triaged":
		return fhir.EncounterStatusTriaged
	case "in-progress":
		return fhir.EncounterStatusInProgress
	case "finished":
		return fhir.EncounterStatusFinished
	case "cancelled":
		return fhir.EncounterStatusCancelled
	}
	return fhir.EncounterStatusUnknown
}

// Encounter renders an attendance as a UK Core Encounter (class EMER).
func Encounter(a *care.Attendance) fhir.Encounter {
	out := fhir.Encounter{
		Id:     ptr(a.ID),
		Meta:   meta(profileEncounter, time.Time{}),
		Status: encounterStatus(a),
		Class:  fhir.Coding{System: ptr("http://terminology.hl7.org/CodeSystem/v3-ActCode"), Code: ptr("EMER"), Display: ptr("emergency")},
		Period: &fhir.Period{Start: ptr(a.ArrivedAt.UTC().Format(time.RFC3339))},
	}
	if a.CheckedInAt != nil {
		out.Period.Start = ptr(a.CheckedInAt.UTC().Format(time.RFC3339))
	}
	if a.CaseRef != "" {
		out.Identifier = []fhir.Identifier{{System: ptr(systemCaseRef), Value: ptr(a.CaseRef)}}
	}
	if a.PatientID != "" {
		out.Subject = &fhir.Reference{Reference: ptr("Patient/" + a.PatientID)}
	}
	rc := fhir.CodeableConcept{Text: ptr(a.Complaint)}
	if a.Triage != nil && a.Triage.Dx != nil {
		rc.Coding = []fhir.Coding{{System: ptr(systemDx), Code: ptr(a.Triage.Dx.Code)}}
	}
	out.ReasonCode = []fhir.CodeableConcept{rc}
	return out
}

// ServiceRequest renders a referral as the UK Core ServiceRequest
// frontdoor keeps: its id is frontdoor's, the sender's is an identifier.
func ServiceRequest(r *care.Referral, a *care.Attendance) fhir.ServiceRequest {
	status := fhir.RequestStatusActive
	if r.Status == care.ReferralRevoked {
		status = fhir.RequestStatusRevoked
	}
	out := fhir.ServiceRequest{
		Id:         ptr(r.ID),
		Meta:       meta(profileServiceRequest, time.Time{}),
		Identifier: []fhir.Identifier{{System: ptr(SystemSenderServiceRequest), Value: ptr(r.ServiceRequestID)}},
		Status:     status,
		Intent:     fhir.RequestIntentPlan,
		Encounter:  &fhir.Reference{Reference: ptr("Encounter/" + r.AttendanceID)},
	}
	if r.PatientID != "" {
		out.Subject = fhir.Reference{Reference: ptr("Patient/" + r.PatientID)}
	} else {
		out.Subject = fhir.Reference{Display: ptr(a.Patient.GivenName + " " + a.Patient.FamilyName)}
	}
	if a != nil && a.Triage != nil && a.Triage.Dx != nil {
		out.ReasonCode = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: ptr(systemDx), Code: ptr(a.Triage.Dx.Code)}}}}
	}
	return out
}

// Observations renders the observations a referral carried as UK Core
// Observations of its encounter.
func Observations(r *care.Referral) []fhir.Observation {
	out := make([]fhir.Observation, 0, len(r.Observations))
	for i, o := range r.Observations {
		obs := fhir.Observation{
			Id:        ptr(r.ID + "-" + itoa(i)),
			Meta:      meta(profileObservation, time.Time{}),
			Status:    fhir.ObservationStatusFinal,
			Code:      fhir.CodeableConcept{Coding: []fhir.Coding{{Code: ptr(o.Code)}}},
			Encounter: &fhir.Reference{Reference: ptr("Encounter/" + r.AttendanceID)},
		}
		if o.System != "" {
			obs.Code.Coding[0].System = ptr(o.System)
		}
		if o.Display != "" {
			obs.Code.Coding[0].Display = ptr(o.Display)
		}
		if o.Value != "" {
			obs.ValueString = ptr(o.Value)
		}
		if o.Note != "" {
			obs.Note = []fhir.Annotation{{Text: o.Note}}
		}
		if r.PatientID != "" {
			obs.Subject = &fhir.Reference{Reference: ptr("Patient/" + r.PatientID)}
		}
		if o.ID != "" {
			obs.Identifier = []fhir.Identifier{{System: ptr("https://tools.ietf.org/html/rfc4122"), Value: ptr(o.ID)}}
		}
		out = append(out, obs)
	}
	return out
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// ResponseBundle is the $process-message answer to a referral: a message
// Bundle whose MessageHeader answers the request (response.identifier: the
// request's message id, code ok), with the ServiceRequest, Encounter and
// Patient as now held. It is made from the command's result alone, so a
// replayed message gets the same bytes.
func ResponseBundle(event string, messageID string, r *care.Referral, a *care.Attendance, p *care.PatientRecord) ([]byte, error) {
	hdr := fhir.MessageHeader{
		Id:          ptr(r.ID + "-" + itoa(int(r.UpdatedIndex))),
		Meta:        &fhir.Meta{Profile: []string{profileMessageHeader}},
		EventCoding: fhir.Coding{System: ptr("https://fhir.nhs.uk/CodeSystem/message-events-bars"), Code: ptr(event)},
		Source:      fhir.MessageHeaderSource{Name: ptr("frontdoor"), Endpoint: "urn:frontdoor:" + r.Target},
		Response:    &fhir.MessageHeaderResponse{Identifier: messageID, Code: fhir.ResponseTypeOk},
		Focus:       []fhir.Reference{{Reference: ptr("ServiceRequest/" + r.ID)}},
	}
	entries := []any{hdr, ServiceRequest(r, a), Encounter(a)}
	if p != nil {
		entries = append(entries, Patient(p))
	}
	return messageBundle(*hdr.Id, a.ArrivedAt, entries)
}

// messageBundle marshals a message Bundle of resources. samply's
// MessageHeader always writes eventUri; an empty one is dropped, as R4
// allows only one of eventCoding and eventUri.
func messageBundle(id string, at time.Time, resources []any) ([]byte, error) {
	b := fhir.Bundle{Id: ptr(id), Meta: &fhir.Meta{Profile: []string{bundleProfiles[0]}}, Type: fhir.BundleTypeMessage}
	if !at.IsZero() {
		b.Timestamp = ptr(at.UTC().Format(time.RFC3339))
	}
	for _, r := range resources {
		raw, err := resourceJSON(r)
		if err != nil {
			return nil, err
		}
		var idp struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		_ = json.Unmarshal(raw, &idp)
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: ptr(idp.ResourceType + "/" + idp.ID), Resource: raw})
	}
	return json.Marshal(b)
}

// SearchSet marshals a searchset Bundle of resources (GET with search
// parameters).
func SearchSet(self string, resources []any) ([]byte, error) {
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: ptr(len(resources)),
		Link: []fhir.BundleLink{{Relation: "self", Url: self}}}
	// The FHIR base: self without its query and its resource type.
	base, _, _ := strings.Cut(self, "?")
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[:i]
	}
	for _, r := range resources {
		raw, err := resourceJSON(r)
		if err != nil {
			return nil, err
		}
		mode := fhir.SearchEntryModeMatch
		e := fhir.BundleEntry{Resource: raw, Search: &fhir.BundleEntrySearch{Mode: &mode}}
		var id struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if json.Unmarshal(raw, &id) == nil && id.ID != "" {
			// A search result's entry names the resource's own URL.
			e.FullUrl = ptr(base + "/" + id.ResourceType + "/" + id.ID)
		}
		b.Entry = append(b.Entry, e)
	}
	return json.Marshal(b)
}

// resourceJSON marshals a resource, without samply's empty eventUri
// (MessageHeader and MessageDefinition always write it).
func resourceJSON(r any) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(raw, []byte(`"eventUri":""`)) {
		return raw, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if string(m["eventUri"]) == `""` {
		delete(m, "eventUri")
	}
	return json.Marshal(m)
}

// Resource marshals one resource as FHIR JSON.
func Resource(r any) ([]byte, error) { return resourceJSON(r) }

// ValidationResponse answers a validation request that passed: a message
// Bundle whose MessageHeader says ok to the request's message id, focus
// the sender's ServiceRequest. Nothing was recorded.
func ValidationResponse(messageID, srID, target string) ([]byte, error) {
	hdr := fhir.MessageHeader{
		Id:          ptr("validation-" + messageID),
		Meta:        &fhir.Meta{Profile: []string{profileMessageHeader}},
		EventCoding: fhir.Coding{System: ptr("https://fhir.nhs.uk/CodeSystem/message-events-bars"), Code: ptr(EventServiceRequest)},
		Source:      fhir.MessageHeaderSource{Name: ptr("frontdoor"), Endpoint: "urn:frontdoor:" + target},
		Response:    &fhir.MessageHeaderResponse{Identifier: messageID, Code: fhir.ResponseTypeOk},
		Focus:       []fhir.Reference{{Reference: ptr("urn:uuid:" + srID)}},
	}
	return messageBundle(*hdr.Id, time.Time{}, []any{hdr})
}
