// Package bars maps the NHS Booking and Referral Standard (BaRS 1.4.0,
// FHIR R4 with UK Core profiles) onto frontdoor's commands and records:
// it parses and validates $process-message Bundles into care payloads
// (pure: no state, no clock beyond what the caller passes), builds the
// OperationOutcome errors with BaRS's receiver codes (REC_*), and renders
// attendances, patients and referrals as UK Core resources. The FHIR
// model is github.com/samply/golang-fhir-models (R4, generated from the
// HL7 StructureDefinitions; plain structs for encoding/json).
package bars

import (
	"encoding/json"
	"net/http"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// ContentType is the FHIR JSON media type every FHIR route answers with.
const ContentType = "application/fhir+json"

// ErrorCodeSystem is the code system of BaRS's HTTP error codes.
const ErrorCodeSystem = "https://fhir.nhs.uk/Codesystem/http-error-codes"

// outcomeProfile is the UK Core OperationOutcome profile the examples name.
const outcomeProfile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"

// Issue is one problem found in a request: the BaRS error code (by the
// HTTP status), the FHIR issue type, what is wrong, and where
// (a FHIRPath expression such as Bundle.entry[0].resource.eventCoding).
type Issue struct {
	Code        fhir.IssueType
	Diagnostics string
	Expression  string
}

// Error is a refused request: an HTTP status and its issues, rendered as
// an OperationOutcome.
type Error struct {
	Status int
	Issues []Issue
}

func (e *Error) Error() string {
	if len(e.Issues) == 0 {
		return http.StatusText(e.Status)
	}
	return e.Issues[0].Diagnostics
}

// BadRequest is a 400 REC_BAD_REQUEST with one issue.
func BadRequest(code fhir.IssueType, expression, diagnostics string) *Error {
	return &Error{Status: http.StatusBadRequest, Issues: []Issue{{Code: code, Expression: expression, Diagnostics: diagnostics}}}
}

// RecCode is BaRS's receiver error code for an HTTP status.
func RecCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "REC_BAD_REQUEST"
	case http.StatusUnauthorized:
		return "REC_UNAUTHORIZED"
	case http.StatusForbidden:
		return "REC_FORBIDDEN"
	case http.StatusNotFound:
		return "REC_NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "REC_METHOD_NOT_ALLOWED"
	case http.StatusNotAcceptable:
		return "REC_NOT_ACCEPTABLE"
	case http.StatusRequestTimeout:
		return "REC_TIMEOUT"
	case http.StatusConflict:
		return "REC_CONFLICT"
	case http.StatusRequestEntityTooLarge:
		return "REC_TOO_LARGE"
	case http.StatusUnprocessableEntity:
		return "REC_UNPROCESSABLE_ENTITY"
	case http.StatusTooManyRequests:
		return "REC_TOO_MANY_REQUESTS"
	case http.StatusNotImplemented:
		return "REC_NOT_IMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "REC_SERVICE_UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "REC_TIMEOUT"
	}
	if status >= 500 {
		return "REC_SERVER_ERROR"
	}
	return "REC_BAD_REQUEST"
}

// Outcome renders e as an OperationOutcome (id: the request's X-Request-Id
// when given, so a sender can match it).
func Outcome(e *Error, id string) ([]byte, error) {
	oo := fhir.OperationOutcome{Meta: &fhir.Meta{Profile: []string{outcomeProfile}}}
	if id != "" {
		oo.Id = &id
	}
	code := RecCode(e.Status)
	for _, is := range e.Issues {
		issue := fhir.OperationOutcomeIssue{
			Severity: fhir.IssueSeverityError,
			Code:     is.Code,
			Details: &fhir.CodeableConcept{Coding: []fhir.Coding{{
				System: ptr(ErrorCodeSystem), Code: ptr(code), Display: ptr(http.StatusText(e.Status)),
			}}},
		}
		if is.Diagnostics != "" {
			issue.Diagnostics = ptr(is.Diagnostics)
		}
		if is.Expression != "" {
			issue.Expression = []string{is.Expression}
		}
		oo.Issue = append(oo.Issue, issue)
	}
	return json.Marshal(oo)
}

func ptr[T any](v T) *T { return &v }
