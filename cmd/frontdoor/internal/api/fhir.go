package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
)

// fhirBase is the FHIR R4 base path of the BaRS receiver (issue 19).
const fhirBase = "/fhir/R4"

// The BaRS headers (booking-and-referral 1.4.0, components/parameters).
const (
	headerRequestID        = "X-Request-Id"
	headerCorrelationID    = "X-Correlation-Id"
	headerTargetIdentifier = "NHSD-Target-Identifier"
	headerEndUserOrg       = "NHSD-End-User-Organisation"
	headerRequestingSW     = "NHSD-Requesting-Software"
)

// fhirRoutes are the route table's rows of the FHIR R4 BaRS receiver.
func fhirRoutes() []routeRow {
	desk, senders := rolesDesk, []string{access.RoleNHS111}
	return []routeRow{
		{Method: "GET", Path: fhirBase + "/metadata", Roles: rolesAll, Summary: "FHIR CapabilityStatement of the BaRS receiver", Handler: (*server).fhirMetadata},
		{Method: "GET", Path: fhirBase + "/MessageDefinition", Roles: rolesAll, Summary: "BaRS MessageDefinitions this receiver takes (searchset; ?url= the one with that canonical url)", Query: []string{"url"}, Handler: (*server).fhirMessageDefinitions},
		{Method: "POST", Path: fhirBase + "/$process-message", Roles: senders, Summary: "BaRS $process-message: a servicerequest-request referral (new, validation, cancellation) or a booking-request (book, cancel)", Body: bars.MessageBody{}, Kinds: []cluster.Kind{care.KindReferralReceive, care.KindReferralCancel, care.KindBookingCreate, care.KindBookingCancel}, Handler: (*server).fhirProcessMessage},
		{Method: "GET", Path: fhirBase + "/Slot", Roles: rolesDesk, Summary: "Free (and busy) slots of the target service: its sessions with places left, from the directory", Query: []string{"status", "start"}, Handler: (*server).fhirSlots},
		{Method: "GET", Path: fhirBase + "/Appointment/:id", Roles: desk, Summary: "A BaRS booking as a UK Core Appointment", Query: []string{consistencyQuery}, Handler: (*server).fhirAppointment},
		{Method: "PUT", Path: fhirBase + "/Appointment/:id", Roles: senders, Summary: "Update a booking: status cancelled frees the place", Body: bars.StatusUpdate{}, Kinds: []cluster.Kind{care.KindBookingCancel}, Handler: (*server).fhirUpdateAppointment},
		{Method: "PATCH", Path: fhirBase + "/Appointment/:id", Roles: senders, Summary: "JSON Patch of a booking: replace /status with cancelled frees the place", Body: []bars.PatchOp{}, Kinds: []cluster.Kind{care.KindBookingCancel}, Handler: (*server).fhirUpdateAppointment},
		{Method: "GET", Path: fhirBase + "/Patient/:id", Roles: desk, Summary: "A patient record as a UK Core Patient", Query: []string{consistencyQuery}, Handler: (*server).fhirPatient},
		{Method: "GET", Path: fhirBase + "/Encounter/:id", Roles: desk, Summary: "An attendance as a UK Core Encounter", Query: []string{consistencyQuery}, Handler: (*server).fhirEncounter},
		{Method: "GET", Path: fhirBase + "/ServiceRequest/:id", Roles: desk, Summary: "A BaRS referral as a UK Core ServiceRequest", Query: []string{consistencyQuery}, Handler: (*server).fhirServiceRequest},
		{Method: "PUT", Path: fhirBase + "/ServiceRequest/:id", Roles: senders, Summary: "Update a referral: status revoked cancels it", Body: bars.StatusUpdate{}, Kinds: []cluster.Kind{care.KindReferralCancel}, Handler: (*server).fhirUpdateServiceRequest},
		{Method: "PATCH", Path: fhirBase + "/ServiceRequest/:id", Roles: senders, Summary: "JSON Patch of a referral: replace /status with revoked cancels it", Body: []bars.PatchOp{}, Kinds: []cluster.Kind{care.KindReferralCancel}, Handler: (*server).fhirUpdateServiceRequest},
		{Method: "GET", Path: fhirBase + "/Observation", Roles: desk, Summary: "The observations a referral carried (?encounter=)", Query: []string{"encounter", consistencyQuery}, Handler: (*server).fhirObservations},
	}
}

// isFHIR reports whether the request is to the FHIR base path (its errors
// are OperationOutcomes).
func isFHIR(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), fhirBase+"/") }

// mirrorBaRSHeaders copies X-Request-Id and X-Correlation-Id back, as the
// standard asks of every response.
func mirrorBaRSHeaders(c *fiber.Ctx) {
	for _, h := range []string{headerRequestID, headerCorrelationID} {
		if v := c.Get(h); v != "" {
			c.Set(h, strings.Clone(v))
		}
	}
}

// requireBaRSHeaders checks the headers every BaRS request carries, and
// Accept when given: 400 REC_BAD_REQUEST naming the header, 406
// REC_NOT_ACCEPTABLE.
func requireBaRSHeaders(c *fiber.Ctx, names ...string) error {
	for _, h := range append([]string{headerRequestID, headerCorrelationID}, names...) {
		v := c.Get(h)
		if v == "" {
			return bars.BadRequest(fhir.IssueTypeRequired, h, "the "+h+" header is required")
		}
		if len(v) > 1000 {
			return bars.BadRequest(fhir.IssueTypeValue, h, "the "+h+" header is too long")
		}
	}
	if err := requireJSONBody(c); err != nil {
		return err
	}
	if acc := c.Get(fiber.HeaderAccept); acc != "" && !strings.Contains(acc, "*/*") &&
		!strings.Contains(acc, "application/fhir+json") && !strings.Contains(acc, "application/json") {
		return &bars.Error{Status: http.StatusNotAcceptable, Issues: []bars.Issue{{Code: fhir.IssueTypeProcessing, Expression: "Accept",
			Diagnostics: "this receiver answers application/fhir+json only"}}}
	}
	return nil
}

// requireJSONBody refuses a request body in another format than JSON (FHIR
// XML, a form) with 415 before it is read: this receiver speaks
// application/fhir+json (and JSON Patch for PATCH). No Content-Type is
// taken as JSON.
func requireJSONBody(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch:
	default:
		return nil
	}
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/fhir+json", mt == "application/json":
		return nil
	case mt == "application/json-patch+json" && c.Method() == fiber.MethodPatch:
		return nil
	}
	return &bars.Error{Status: http.StatusUnsupportedMediaType, Issues: []bars.Issue{{Code: fhir.IssueTypeNotSupported, Expression: "Content-Type",
		Diagnostics: "this receiver reads application/fhir+json only (application/json-patch+json for PATCH), not " + strconv.Quote(ct)}}}
}

// targetIdentifier decodes NHSD-Target-Identifier: base64 of a JSON
// Identifier ({"value": ..., "system": ...}); the value names the
// receiving service (a directory service id or ODS code).
func targetIdentifier(c *fiber.Ctx) (string, error) {
	raw := c.Get(headerTargetIdentifier)
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	}
	var id struct {
		Value  string `json:"value"`
		System string `json:"system"`
	}
	if err != nil || json.Unmarshal(b, &id) != nil || id.Value == "" {
		return "", bars.BadRequest(fhir.IssueTypeInvalid, headerTargetIdentifier,
			"NHSD-Target-Identifier must be base64 of a JSON identifier with a value (the receiving service's id)")
	}
	if len(id.Value) > 100 {
		return "", bars.BadRequest(fhir.IssueTypeValue, headerTargetIdentifier, "the target identifier is too long")
	}
	return id.Value, nil
}

// sendFHIR answers with a FHIR JSON body.
func sendFHIR(c *fiber.Ctx, status int, body []byte) error {
	mirrorBaRSHeaders(c)
	c.Status(status)
	c.Set(fiber.HeaderContentType, bars.ContentType)
	return c.Send(body)
}

// writeOutcome answers a FHIR request's error as an OperationOutcome.
func writeOutcome(c *fiber.Ctx, e *bars.Error) error {
	b, err := bars.Outcome(e, strings.Clone(c.Get(headerRequestID)))
	if err != nil {
		return err
	}
	return sendFHIR(c, e.Status, b)
}

// outcomeOf turns any error a FHIR handler returned into the BaRS error:
// its own, or a problem (auth, validation, no quorum, a command refused)
// as an OperationOutcome with the same status.
func outcomeOf(err error, p *Problem) *bars.Error {
	var be *bars.Error
	if errors.As(err, &be) {
		return be
	}
	if p == nil {
		p = problemFor(err)
	}
	code := fhir.IssueTypeProcessing
	switch p.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		code = fhir.IssueTypeInvalid
	case http.StatusUnauthorized:
		code = fhir.IssueTypeLogin
	case http.StatusForbidden:
		code = fhir.IssueTypeForbidden
	case http.StatusNotFound:
		code = fhir.IssueTypeNotFound
	case http.StatusConflict:
		code = fhir.IssueTypeConflict
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		code = fhir.IssueTypeTransient
	}
	out := &bars.Error{Status: p.Status}
	if len(p.Errors) == 0 {
		out.Issues = []bars.Issue{{Code: code, Diagnostics: strings.TrimSpace(p.Title + ": " + p.Detail)}}
		return out
	}
	fields := make([]string, 0, len(p.Errors))
	for f := range p.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	// One issue per element: two fields read from the same element (the
	// patient's birth date checked as the patient's and the attendance's)
	// are one fault of the sender's.
	at := map[string]int{}
	for _, f := range fields {
		el, why := fhirElement(f), fmt.Sprintf("%s: %s", f, p.Errors[f])
		if i, ok := at[el]; ok {
			if !strings.HasSuffix(out.Issues[i].Diagnostics, ": "+p.Errors[f]) {
				out.Issues[i].Diagnostics += "; " + why
			}
			continue
		}
		at[el] = len(out.Issues)
		out.Issues = append(out.Issues, bars.Issue{Code: code, Expression: el, Diagnostics: why})
	}
	return out
}

// fhirElements names, for a field of frontdoor's commands, the element of
// the BaRS message it was read from, so an OperationOutcome's expression
// points a sender at its own bundle (the diagnostics keep the field).
var fhirElements = map[string]string{
	"message_id":         "MessageHeader.id",
	"service_request_id": "ServiceRequest.id",
	"appointment_id":     "Appointment.id",
	"target":             headerTargetIdentifier,
	"at":                 "Appointment.slot",
	"slot":               "Appointment.slot",
	"given_name":         "Patient.name.given",
	"family_name":        "Patient.name.family",
	"date_of_birth":      "Patient.birthDate",
	"nhs_number":         "Patient.identifier",
	"postcode":           "Patient.address.postalCode",
	"sex":                "Patient.gender",
	"phone":              "Patient.telecom",
	"gp_practice":        "Patient.generalPractitioner",
	"complaint":          "ServiceRequest.reasonCode",
	"dx":                 "ServiceRequest.reasonCode",
	"case_ref":           "ServiceRequest.identifier",
	"channel":            "MessageHeader.eventCoding",
	"expected":           "MessageHeader.eventCoding",
	"observations":       "Observation",
}

// fhirElement is the message element of a command field ("patient.date_of_birth"
// is Patient.birthDate, "observations[2].code" Observation.code): its last
// part without an index, or the field itself when it has no element.
func fhirElement(field string) string {
	last := field[strings.LastIndexByte(field, '.')+1:]
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	if strings.HasPrefix(field, "observations[") && last == "code" {
		return "Observation.code"
	}
	if e, ok := fhirElements[last]; ok {
		return e
	}
	return field
}

func (s *server) fhirMetadata(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	b, err := bars.CapabilityStatement(clientBaseURL(c)+fhirBase, s.version)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}

func (s *server) fhirMessageDefinitions(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	b, err := bars.MessageDefinitions(clientBaseURL(c)+fhirBase, c.Query("url"))
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}
