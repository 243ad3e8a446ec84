package bars

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// BaRS message events this receiver knows.
const (
	EventServiceRequest = "servicerequest-request"
	EventBooking        = "booking-request"
)

// Profiles a BaRS message's Bundle may claim (meta.profile, when given):
// the 1.x BaRS bundle, UK Core's and the earlier drafts' (the 111-to-ED
// example in the specification's history).
var bundleProfiles = []string{
	"https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage",
	"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Bundle",
	"https://fhir.nhs.uk/StructureDefinition/BARSUKCoreBundle",
}

// headerProfiles are the MessageHeader profiles allowed for an event.
func headerProfiles(event string) []string {
	return []string{
		"https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-" + event,
		"https://fhir.hl7.org.uk/StructureDefinition/UKCore-MessageHeader",
		"https://fhir.nhs.uk/StructureDefinition/BARSUKCoreMessageHeader",
	}
}

// entry is one Bundle entry: where it is, what it is and its JSON.
type entry struct {
	index   int
	fullURL string
	rtype   string
	id      string
	raw     json.RawMessage
}

// Message is a parsed BaRS message Bundle.
type Message struct {
	// ID identifies the message: MessageHeader.id, else Bundle.id. A
	// replay with the same ID gets the first answer.
	ID     string
	Event  string // EventServiceRequest or EventBooking
	Reason string // MessageHeader.reason code (new, update, ...), "" none
	Header fhir.MessageHeader
	// Focus is MessageHeader.focus[0]'s entry.
	focus   *entry
	entries []entry
}

// ParseMessage checks a $process-message body is a BaRS message Bundle
// (type message, a MessageHeader first, a known event, profiles that fit)
// and returns it, or the error that names the element at fault.
func ParseMessage(body []byte) (*Message, *Error) {
	var b fhir.Bundle
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		why := "the body is not a FHIR JSON resource (a JSON object with a resourceType)"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			why = fmt.Sprintf("the body is not JSON (at byte %d)", se.Offset)
		}
		return nil, BadRequest(fhir.IssueTypeStructure, "Bundle", why)
	}
	if probe.ResourceType != "Bundle" {
		return nil, BadRequest(fhir.IssueTypeStructure, "Bundle", fmt.Sprintf("expected a Bundle, got resourceType %q", probe.ResourceType))
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, BadRequest(fhir.IssueTypeStructure, "Bundle", "the Bundle does not decode as FHIR R4: "+decodeWhy(err))
	}
	if b.Type != fhir.BundleTypeMessage {
		return nil, BadRequest(fhir.IssueTypeInvalid, "Bundle.type", "Bundle.type must be message, not "+b.Type.Code())
	}
	if b.Meta != nil && len(b.Meta.Profile) > 0 && !anyIn(b.Meta.Profile, bundleProfiles) {
		return nil, BadRequest(fhir.IssueTypeInvalid, "Bundle.meta.profile", "the Bundle's profile is not a BaRS message bundle ("+bundleProfiles[0]+")")
	}
	m := &Message{}
	for i, e := range b.Entry {
		var r struct {
			ResourceType string  `json:"resourceType"`
			ID           *string `json:"id"`
		}
		if len(e.Resource) == 0 || json.Unmarshal(e.Resource, &r) != nil || r.ResourceType == "" {
			return nil, BadRequest(fhir.IssueTypeStructure, fmt.Sprintf("Bundle.entry[%d].resource", i), "every entry needs a resource with a resourceType")
		}
		en := entry{index: i, rtype: r.ResourceType, raw: e.Resource}
		if e.FullUrl != nil {
			en.fullURL = *e.FullUrl
		}
		if r.ID != nil {
			en.id = *r.ID
		}
		m.entries = append(m.entries, en)
	}
	if len(m.entries) == 0 || m.entries[0].rtype != "MessageHeader" {
		return nil, BadRequest(fhir.IssueTypeRequired, "Bundle.entry[0].resource", "a message Bundle's first entry must be its MessageHeader")
	}
	h, err := fhir.UnmarshalMessageHeader(m.entries[0].raw)
	if err != nil {
		return nil, BadRequest(fhir.IssueTypeStructure, "Bundle.entry[0].resource", "the MessageHeader does not decode as FHIR R4: "+decodeWhy(err))
	}
	m.Header = h
	if h.EventCoding.Code == nil || *h.EventCoding.Code == "" {
		return nil, BadRequest(fhir.IssueTypeRequired, "MessageHeader.eventCoding.code", "the MessageHeader names no event")
	}
	m.Event = *h.EventCoding.Code
	if m.Event != EventServiceRequest && m.Event != EventBooking {
		return nil, &Error{Status: 422, Issues: []Issue{{Code: fhir.IssueTypeNotSupported, Expression: "MessageHeader.eventCoding.code",
			Diagnostics: "event " + m.Event + " is not supported by this receiver (servicerequest-request, booking-request)"}}}
	}
	if sys := h.EventCoding.System; sys != nil && *sys != systemEvents {
		return nil, BadRequest(fhir.IssueTypeCodeInvalid, "MessageHeader.eventCoding.system", "a BaRS event's system is "+systemEvents+", not "+*sys)
	}
	if h.Meta != nil && len(h.Meta.Profile) > 0 && !anyIn(h.Meta.Profile, headerProfiles(m.Event)) {
		return nil, BadRequest(fhir.IssueTypeInvalid, "MessageHeader.meta.profile",
			"the MessageHeader's profile does not fit event "+m.Event+" (expected "+headerProfiles(m.Event)[0]+")")
	}
	if h.Reason != nil {
		for _, c := range h.Reason.Coding {
			if c.Code != nil {
				m.Reason = *c.Code
			}
		}
	}
	switch {
	case h.Id != nil && *h.Id != "":
		m.ID = *h.Id
	case b.Id != nil && *b.Id != "":
		m.ID = *b.Id
	default:
		return nil, BadRequest(fhir.IssueTypeRequired, "MessageHeader.id", "the message has no id (MessageHeader.id or Bundle.id): it is what makes a retry safe")
	}
	if len(m.ID) > 64 {
		return nil, BadRequest(fhir.IssueTypeValue, "MessageHeader.id", "a FHIR id is at most 64 characters")
	}
	// The MessageDefinitions' max 1: which patient, which referral?
	for _, typ := range oneOf[m.Event] {
		n := 0
		for _, e := range m.entries {
			if e.rtype == typ {
				if n++; n > 1 {
					return nil, BadRequest(fhir.IssueTypeBusinessRule, e.path(""), "a "+m.Event+" message carries one "+typ+" (MessageDefinition max 1), not several")
				}
			}
		}
	}
	if len(h.Focus) == 0 || h.Focus[0].Reference == nil {
		return nil, BadRequest(fhir.IssueTypeRequired, "MessageHeader.focus", "the MessageHeader has no focus")
	}
	m.focus = m.resolve(*h.Focus[0].Reference)
	if m.focus == nil {
		return nil, BadRequest(fhir.IssueTypeNotFound, "MessageHeader.focus[0].reference", "the focus "+*h.Focus[0].Reference+" is not in the Bundle")
	}
	return m, nil
}

// decodeWhy says why a resource did not decode in FHIR's terms (the
// element and the JSON type it has), not the Go decoder's.
func decodeWhy(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("%s cannot be a JSON %s", te.Field, te.Value)
	case errors.As(err, &te):
		return "an element cannot be a JSON " + te.Value
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	}
	return "an element has a value FHIR R4 does not allow"
}

// systemEvents is the code system of BaRS message events.
const systemEvents = "https://fhir.nhs.uk/CodeSystem/message-events-bars"

// oneOf are the resources each message carries at most once (the
// MessageDefinitions' max 1, GET /MessageDefinition).
var oneOf = map[string][]string{
	EventServiceRequest: {"ServiceRequest", "Patient", "Encounter"},
	EventBooking:        {"Appointment", "Patient"},
}

// resolve finds the entry a reference names: a fullUrl (urn:uuid:...), a
// "Type/id" or a bare id / uuid.
func (m *Message) resolve(ref string) *entry {
	bare := strings.TrimPrefix(ref, "urn:uuid:")
	for i := range m.entries {
		e := &m.entries[i]
		switch {
		case e.fullURL != "" && e.fullURL == ref:
			return e
		case e.id != "" && (ref == e.rtype+"/"+e.id || bare == e.id):
			return e
		case strings.TrimPrefix(e.fullURL, "urn:uuid:") == bare || strings.HasSuffix(e.fullURL, "/"+e.rtype+"/"+bare):
			return e
		}
	}
	return nil
}

// resourceID is an entry's id, else its fullUrl's uuid.
func (e *entry) resourceID() string {
	if e.id != "" {
		return e.id
	}
	u := strings.TrimPrefix(e.fullURL, "urn:uuid:")
	return u[strings.LastIndexByte(u, '/')+1:]
}

// path is the entry's FHIRPath, for issues.
func (e *entry) path(elem string) string {
	p := fmt.Sprintf("Bundle.entry[%d].resource", e.index)
	if elem != "" {
		p += "." + elem
	}
	return p
}

// decode decodes an entry with the FHIR model, after normalising one shape
// the published drafts use that R4 does not allow: a single Annotation
// object where R4 has an array (Observation.note in the 111-to-ED example).
func decode[T any](e *entry, out *T) *Error {
	raw := e.raw
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if n, ok := obj["note"]; ok && len(bytes.TrimSpace(n)) > 0 && bytes.TrimSpace(n)[0] == '{' {
			obj["note"] = append(append([]byte{'['}, n...), ']')
			if b, err := json.Marshal(obj); err == nil {
				raw = b
			}
		}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return BadRequest(fhir.IssueTypeStructure, e.path(""), "the "+e.rtype+" does not decode as FHIR R4: "+decodeWhy(err))
	}
	return nil
}

func anyIn(have, allowed []string) bool {
	for _, p := range have {
		// A profile may carry a version: url|1.0.0.
		if i := strings.IndexByte(p, '|'); i >= 0 {
			p = p[:i]
		}
		if slices.Contains(allowed, p) {
			return true
		}
	}
	return false
}

// MessageBody is the shape of a $process-message body for the API's
// description (the route table's Body): a FHIR Bundle of type message
// whose first entry is the MessageHeader. The handler decodes it with the
// FHIR model and checks it against the FHIR input limits
// (inputlimit.CheckFHIR), not the clinic's.
type MessageBody struct {
	ResourceType string             `json:"resourceType"` // Bundle
	Type         string             `json:"type"`         // message
	Entry        []MessageBodyEntry `json:"entry"`
}

// MessageBodyEntry is one entry of MessageBody.
type MessageBodyEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource"`
}

// StatusUpdate is the part of a PUT body (a whole Appointment or
// ServiceRequest) frontdoor takes: its status.
type StatusUpdate struct {
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
}

// PatchOp is one operation of a JSON Patch (RFC 6902) body; frontdoor
// takes replace of /status.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}
