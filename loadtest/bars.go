package loadtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The nhs111 workload speaks BaRS (the NHS Booking and Referral Standard,
// FHIR R4) as a 111 system does: referrals are servicerequest-request
// messages and bookings booking-request messages posted to
// /fhir/R4/$process-message, free slots come from GET /fhir/R4/Slot. The
// bundles are built here as plain JSON: the load generator talks HTTP only.

const (
	barsProcessMessage = "/fhir/R4/$process-message"
	barsEvents         = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
	barsNHSNumber      = "https://fhir.nhs.uk/Id/nhs-number"
)

// barsHeaders are the BaRS request headers for a message to target (a
// directory service id).
func barsHeaders(requestID, target string) map[string]string {
	id := func(system, value string) string {
		b, _ := json.Marshal(map[string]string{"system": system, "value": value})
		return base64.StdEncoding.EncodeToString(b)
	}
	return map[string]string{
		"Content-Type":               "application/fhir+json",
		"Accept":                     "application/fhir+json",
		"X-Request-Id":               requestID,
		"X-Correlation-Id":           requestID,
		"NHSD-Target-Identifier":     id("https://fhir.nhs.uk/Id/dos-service-id", target),
		"NHSD-End-User-Organisation": id("https://fhir.nhs.uk/Id/ods-organization-code", "NHS111LT"),
		"NHSD-Requesting-Software":   id("https://fhir.nhs.uk/Id/accredited-system-id", "loadtest"),
	}
}

// barsPatient is the UK Core Patient of a 111 caller.
func barsPatient(req nhs111Request) map[string]any {
	p := req.Patient
	pat := map[string]any{"resourceType": "Patient", "id": "patient",
		"name": []any{map[string]any{"use": "official", "family": p.FamilyName, "given": []any{p.GivenName}}}}
	if p.NHSNumber != "" && p.DateOfBirth != "" {
		pat["identifier"] = []any{map[string]any{"system": barsNHSNumber, "value": strings.ReplaceAll(p.NHSNumber, " ", "")}}
	}
	if p.DateOfBirth != "" {
		pat["birthDate"] = p.DateOfBirth
	}
	if p.Postcode != "" {
		pat["address"] = []any{map[string]any{"postalCode": p.Postcode}}
	}
	return pat
}

func barsHeader(msgID, event, focus string) map[string]any {
	return map[string]any{"resourceType": "MessageHeader", "id": msgID,
		"meta":        map[string]any{"profile": []any{"https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-" + event}},
		"eventCoding": map[string]any{"system": barsEvents, "code": event},
		"source":      map[string]any{"endpoint": "urn:loadtest:nhs111"},
		"reason":      map[string]any{"coding": []any{map[string]any{"code": "new"}}},
		"focus":       []any{map[string]any{"reference": focus}}}
}

func barsBundle(resources ...map[string]any) []byte {
	var entries []any
	for _, r := range resources {
		entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + r["id"].(string), "resource": r})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "message",
		"meta": map[string]any{"profile": []any{"https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"}}, "entry": entries})
	return b
}

// barsReferral is a servicerequest-request for an NHS 111 call: its Dx,
// the presenting complaint as the Pathways template, the case reference.
func barsReferral(msgID string, req nhs111Request) []byte {
	sr := map[string]any{"resourceType": "ServiceRequest", "id": "sr-" + msgID, "status": "active", "intent": "plan",
		"subject":     map[string]any{"reference": "urn:uuid:patient"},
		"requisition": map[string]any{"value": req.CaseRef},
		"reasonCode": []any{
			map[string]any{"coding": []any{map[string]any{"system": "https://fhir.nhs.uk/Id/pathways-dx-code", "code": req.Dx["code"]}}},
			map[string]any{"coding": []any{map[string]any{"system": "https://fhir.nhs.uk/Id/pathways-template", "code": "PA", "display": req.Complaint}}},
		}}
	return barsBundle(barsHeader(msgID, "servicerequest-request", "urn:uuid:sr-"+msgID), sr, barsPatient(req))
}

// barsBooking is a booking-request of a place in slot (a Slot id from GET
// /fhir/R4/Slot).
func barsBooking(msgID, slot string, req nhs111Request) []byte {
	ap := map[string]any{"resourceType": "Appointment", "id": "ap-" + msgID, "status": "booked", "description": req.Complaint,
		"slot":        []any{map[string]any{"reference": "Slot/" + slot}},
		"participant": []any{map[string]any{"actor": map[string]any{"reference": "urn:uuid:patient"}, "status": "accepted"}}}
	return barsBundle(barsHeader(msgID, "booking-request", "urn:uuid:ap-"+msgID), ap, barsPatient(req))
}

// barsResourceID is the id of the first resource of type typ in a
// response Bundle.
func barsResourceID(body []byte, typ string) (string, error) {
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return "", err
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == typ && e.Resource.ID != "" {
			return e.Resource.ID, nil
		}
	}
	return "", fmt.Errorf("no %s in the answer", typ)
}

// barsFreeSlot is the first free Slot of target starting in the next
// day, "" when none.
func barsSlotQuery(now time.Time) string {
	return "/fhir/R4/Slot?status=free&start=ge" + url.QueryEscape(now.UTC().Format(time.RFC3339)) +
		"&start=le" + url.QueryEscape(now.UTC().Add(24*time.Hour).Format(time.RFC3339))
}

func barsFirstSlot(body []byte, now time.Time) string {
	var b struct {
		Entry []struct {
			Resource struct {
				ID    string `json:"id"`
				Start string `json:"start"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	for _, e := range b.Entry {
		if t, err := time.Parse(time.RFC3339, e.Resource.Start); err == nil && t.After(now) {
			return e.Resource.ID
		}
	}
	return ""
}
