package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
)

// PUT and PATCH of /Appointment/{id} and /ServiceRequest/{id}: BaRS's
// receiver updates. The one change frontdoor takes is the status a
// cancellation sets (Appointment cancelled, ServiceRequest revoked): it
// runs the same commands as a cancellation message (booking.cancel,
// referral.cancel). Any other change is 422 not-supported. X-Request-Id
// is the idempotency key: a retry gets the first answer.

// fhirUpdateStatus reads the status a PUT (a whole resource) or PATCH (a
// JSON Patch replacing /status) sets.
func fhirUpdateStatus(c *fiber.Ctx, resourceType string) (string, error) {
	body := bytes.Clone(c.Body())
	if f := inputlimit.CheckFHIR(body, time.Now()); f != nil {
		root := resourceType
		if c.Method() == http.MethodPatch {
			root = "PATCH"
		}
		return "", fhirInvalid(inDocument(root, f))
	}
	if c.Method() == http.MethodPatch {
		var ops []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		}
		if err := json.Unmarshal(body, &ops); err != nil || len(ops) == 0 {
			return "", bars.BadRequest(fhir.IssueTypeStructure, "PATCH", "a PATCH body is a JSON Patch array, e.g. [{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"cancelled\"}]")
		}
		status := ""
		for i, op := range ops {
			v, ok := op.Value.(string)
			if op.Op != "replace" || op.Path != "/status" || !ok {
				return "", &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeNotSupported,
					Expression: fmt.Sprintf("PATCH[%d]", i), Diagnostics: "only replace of /status is supported"}}}
			}
			status = v
		}
		return status, nil
	}
	var r struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Status       string `json:"status"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ResourceType != resourceType {
		return "", bars.BadRequest(fhir.IssueTypeStructure, resourceType, "a PUT body is the whole "+resourceType)
	}
	// FHIR's update: the body's id is the one in the URL, never absent.
	if id := c.Params("id"); r.ID != id {
		why := fmt.Sprintf("the body's id %q is not the id in the URL (%q)", r.ID, id)
		if r.ID == "" {
			why = "a PUT body carries the resource's id, the one in the URL (" + id + ")"
		}
		return "", bars.BadRequest(fhir.IssueTypeValue, resourceType+".id", why)
	}
	return r.Status, nil
}

// fhirUpdate proposes a cancellation made by PUT or PATCH, with the
// request's X-Request-Id as its idempotency key (NHS APIs de-duplicate
// repeated requests by it): a retry gets the first answer, the same id on
// another request a 409.
func (s *server) fhirUpdate(c *fiber.Ctx, kind cluster.Kind, payload any) (*cluster.Result, bool, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, false, err
	}
	route := c.Method() + " " + routeOf(c).Path
	sum := sha256.Sum256(b)
	actor := actorFor(c)
	p := cluster.Proposal{Kind: kind, Actor: actor, Payload: b,
		Idempotency: &cluster.Idempotency{Key: keyOf(actor, "bars-update/"+c.Get(headerRequestID)), Route: route, BodyHash: hex.EncodeToString(sum[:])}}
	res, handled, err := s.propose(c, p)
	var pr *Problem
	if errors.As(err, &pr) && pr.Type == problemIdempotency {
		return nil, false, &bars.Error{Status: http.StatusConflict, Issues: []bars.Issue{{Code: fhir.IssueTypeDuplicate, Expression: headerRequestID,
			Diagnostics: "X-Request-Id " + c.Get(headerRequestID) + " was already used for another request"}}}
	}
	return res, handled, err
}

// updateMessageID names an update in the audit trail: its X-Request-Id.
func updateMessageID(c *fiber.Ctx) (string, error) {
	rid := c.Get(headerRequestID)
	if len(rid) > 56 {
		return "", bars.BadRequest(fhir.IssueTypeValue, headerRequestID, "an update's X-Request-Id is at most 56 characters (a UUID)")
	}
	return "update/" + strings.Clone(rid), nil
}

// notSupportedChange refuses an update that does not cancel. A status
// left as it was means something else changed: the whole resource is
// named, not its status.
func notSupportedChange(resourceType, status, current, what string) error {
	expr := resourceType + ".status"
	if status == current {
		expr = resourceType
		what = "only a change of status is taken, other elements cannot be changed: " + what
	}
	return &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeNotSupported, Expression: expr,
		Diagnostics: what}}}
}

// fhirUpdateAppointment: PUT/PATCH /fhir/R4/Appointment/{id} with status
// cancelled frees the place (booking.cancel).
func (s *server) fhirUpdateAppointment(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c, headerTargetIdentifier); err != nil {
		return err
	}
	target, err := targetIdentifier(c)
	if err != nil {
		return err
	}
	status, err := fhirUpdateStatus(c, "Appointment")
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	ap, done, err := readFHIR(s, c, "Appointment "+id, func(v *cluster.View) (*care.Appointment, error) {
		return appointmentByAnyID(v, id)
	})
	if done {
		return err
	}
	if status != care.AppointmentCancelled {
		return notSupportedChange("Appointment", status, ap.Status, "the only change taken is status cancelled (re-book with a booking-request)")
	}
	mid, err := updateMessageID(c)
	if err != nil {
		return err
	}
	res, handled, err := s.fhirUpdate(c, care.KindBookingCancel, &care.BookingCancel{MessageID: mid, AppointmentID: ap.AppointmentID, Target: target})
	if handled || err != nil {
		return err
	}
	var out care.BookingResult
	if err := json.Unmarshal(res.Value, &out); err != nil || out.Appointment == nil {
		return fmt.Errorf("booking cancel result: %v", err)
	}
	return fhirJSON(c, bars.Appointment(out.Appointment))
}

// fhirUpdateServiceRequest: PUT/PATCH /fhir/R4/ServiceRequest/{id} with
// status revoked cancels the referral (referral.cancel).
func (s *server) fhirUpdateServiceRequest(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c, headerTargetIdentifier); err != nil {
		return err
	}
	target, err := targetIdentifier(c)
	if err != nil {
		return err
	}
	status, err := fhirUpdateStatus(c, "ServiceRequest")
	if err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	r, done, err := readFHIR(s, c, "ServiceRequest "+id, func(v *cluster.View) (*care.Referral, error) {
		return referralByAnyID(v, id)
	})
	if done {
		return err
	}
	if status != care.ReferralRevoked {
		return notSupportedChange("ServiceRequest", status, r.Status, "the only change taken is status revoked (re-refer with a servicerequest-request)")
	}
	mid, err := updateMessageID(c)
	if err != nil {
		return err
	}
	res, handled, err := s.fhirUpdate(c, care.KindReferralCancel, &care.ReferralCancel{MessageID: mid, ServiceRequestID: r.ServiceRequestID, Target: target})
	if handled || err != nil {
		return err
	}
	out, a, err := decodeReferralResult(res.Value)
	if err != nil {
		return err
	}
	return fhirJSON(c, bars.ServiceRequest(out.Referral, a))
}
