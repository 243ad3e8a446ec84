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
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// processMessageRoute names the route in idempotency records.
const processMessageRoute = "POST " + fhirBase + "/$process-message"

// fhirProcessMessage: POST /fhir/R4/$process-message. The Bundle is
// checked here (headers, input limits, BaRS structure, UK Core elements:
// 400 OperationOutcome, nothing proposed); what depends on state (the
// target service, the patient by NHS number, a ServiceRequest already
// received, a cancellation of a referral already checked in) the FSM
// decides. The message id is the idempotency key: a replay gets the first
// answer, a different message under the same id a 409.
func (s *server) fhirProcessMessage(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c, headerTargetIdentifier, headerEndUserOrg, headerRequestingSW); err != nil {
		return err
	}
	target, err := targetIdentifier(c)
	if err != nil {
		return err
	}
	body := bytes.Clone(c.Body())
	if f := inputlimit.CheckFHIR(body, time.Now()); f != nil {
		f = inDocument("Bundle", f)
		return fhirInvalid(f)
	}
	msg, berr := bars.ParseMessage(body)
	if berr != nil {
		return berr
	}
	if msg.Event == bars.EventBooking {
		return s.fhirBooking(c, msg, target)
	}
	ref, berr := bars.ToReferral(msg, target)
	if berr != nil {
		return berr
	}
	if ref.Validation {
		return s.fhirValidate(c, msg, ref)
	}
	kind := care.KindReferralReceive
	var payload any = &ref.Receive
	if ref.Cancel {
		kind = care.KindReferralCancel
		payload = &care.ReferralCancel{MessageID: ref.Receive.MessageID, ServiceRequestID: ref.Receive.ServiceRequestID, Target: target}
	} else if f := ref.Receive.Validate(time.Now()); f != nil {
		return fhirInvalid(f)
	}
	res, handled, err := s.proposeMessage(c, msg, kind, payload)
	if handled || err != nil {
		return err
	}
	out, a, err := decodeReferralResult(res.Value)
	if err != nil {
		return err
	}
	resp, err := bars.ResponseBundle(bars.EventServiceRequest, msg.ID, out.Referral, a, nil)
	if err != nil {
		return err
	}
	c.Location(fhirBase + "/ServiceRequest/" + out.Referral.ID)
	return sendFHIR(c, http.StatusOK, resp)
}

// fhirInvalid is a 400 REC_BAD_REQUEST naming each element at fault.
func fhirInvalid(fields map[string]string) error {
	e := outcomeOf(invalid("the message is not valid", fields), nil)
	e.Status = http.StatusBadRequest
	for i := range e.Issues {
		if e.Issues[i].Expression == inputlimit.BodyField {
			e.Issues[i].Expression = "Bundle" // the whole document
		}
	}
	return e
}

// inDocument names the input limits' fields (paths within the body, such
// as entry[3].resource.name[0].family) from the document's root
// (Bundle.entry[3]...), as FHIR expressions are.
func inDocument(root string, f map[string]string) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		switch {
		case k == inputlimit.BodyField:
		case strings.HasPrefix(k, "["):
			k = root + k
		default:
			k = root + "." + k
		}
		out[k] = v
	}
	return out
}

// fhirValidate answers a validation request: everything a referral would
// be checked for, the target service included, and nothing proposed.
func (s *server) fhirValidate(c *fiber.Ctx, msg *bars.Message, ref *bars.Referral) error {
	if f := ref.Receive.Validate(time.Now()); f != nil && !ref.Cancel {
		return fhirInvalid(f)
	}
	handled, err := s.read(c, func(v *cluster.View) error {
		_, err := care.ResolveTarget(v, ref.Receive.Target)
		return err
	})
	if handled || err != nil {
		var ce *cluster.CommandError
		if errors.As(err, &ce) {
			return commandProblem(ce)
		}
		return err
	}
	resp, err := bars.ValidationResponse(msg.ID, ref.Receive.ServiceRequestID, ref.Receive.Target)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, resp)
}

// proposeMessage proposes a message's command with the message id as its
// idempotency key (see propose for handled): a replay gets the first
// Result, the same id with another payload a 409 duplicate.
func (s *server) proposeMessage(c *fiber.Ctx, msg *bars.Message, kind cluster.Kind, payload any) (*cluster.Result, bool, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, false, err
	}
	// The limits Apply holds every payload to, checked here too, so a
	// message Apply would refuse never reaches the log (as for the JSON
	// API's bodies, decode.go).
	if f := inputlimit.Check(b, time.Now()); f != nil {
		return nil, false, fhirInvalid(f)
	}
	sum := sha256.Sum256(b)
	actor := actorFor(c)
	p := cluster.Proposal{Kind: kind, Actor: actor, Payload: b,
		Idempotency: &cluster.Idempotency{Key: keyOf(actor, "bars/"+msg.ID), Route: processMessageRoute, BodyHash: hex.EncodeToString(sum[:])}}
	res, handled, err := s.propose(c, p)
	if err != nil {
		var pr *Problem
		if errors.As(err, &pr) && pr.Type == problemIdempotency {
			return nil, false, &bars.Error{Status: http.StatusConflict, Issues: []bars.Issue{{Code: fhir.IssueTypeDuplicate, Expression: "MessageHeader.id",
				Diagnostics: "message " + msg.ID + " was already received with different content"}}}
		}
	}
	return res, handled, err
}

// fhirBooking: a booking-request books a place of the target service's
// session (or cancels the booking): decided in the FSM, so two bookings
// of the last place on two nodes get one appointment and one 409.
func (s *server) fhirBooking(c *fiber.Ctx, msg *bars.Message, target string) error {
	bk, berr := bars.ToBooking(msg, target)
	if berr != nil {
		return berr
	}
	kind := care.KindBookingCreate
	var payload any = &bk.Create
	if bk.Cancel {
		kind, payload = care.KindBookingCancel, &bk.Cancels
	} else if f := bk.Create.Validate(time.Now()); f != nil {
		return fhirInvalid(f)
	} else if bk.SlotPath != "" {
		// A Slot names its service; it must be the service the message
		// is sent to (a booking through one service's Slot search of
		// another's session would be cancellable only through that one),
		// and one of its sessions must start when the Slot id says.
		if handled, err := s.read(c, func(v *cluster.View) error { return slotOfTarget(v, bk) }); handled || err != nil {
			var ce *cluster.CommandError
			if errors.As(err, &ce) {
				return commandProblem(ce)
			}
			return err
		}
	}
	res, handled, err := s.proposeMessage(c, msg, kind, payload)
	if handled || err != nil {
		return err
	}
	var out care.BookingResult
	if err := json.Unmarshal(res.Value, &out); err != nil || out.Appointment == nil {
		return fmt.Errorf("booking result: %v", err)
	}
	var a care.Attendance
	if err := json.Unmarshal(out.Attendance, &a); err != nil {
		return fmt.Errorf("booking attendance: %w", err)
	}
	resp, err := bars.BookingResponse(msg.ID, out.Appointment, &a)
	if err != nil {
		return err
	}
	c.Location(fhirBase + "/Appointment/" + out.Appointment.ID)
	return sendFHIR(c, http.StatusOK, resp)
}

// slotOfTarget refuses a booking whose Slot belongs to another service
// than the one NHSD-Target-Identifier names (by id or ODS code).
func slotOfTarget(v *cluster.View, bk *bars.Booking) error {
	target, err := care.ResolveTarget(v, bk.Target)
	if err != nil {
		return err
	}
	if target != bk.Create.Target {
		return &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeBusinessRule,
			Expression: bk.SlotPath, Diagnostics: "the Slot is a session of " + bk.Create.Target + ", not of " + target + ", the service this message is sent to"}}}
	}
	dir, err := directory.In(v).Directory()
	if err != nil || dir == nil {
		return err
	}
	at := bk.Create.At
	load, err := directory.LoadAt(v, at)
	if err != nil {
		return err
	}
	sessions, err := routing.Sessions(dir, load, target, at, at.Add(time.Second))
	if err != nil {
		return err
	}
	for _, ss := range sessions {
		if !ss.Start.Equal(at) {
			continue
		}
		if !bk.Start.IsZero() && (bk.Start.Before(ss.Start) || !bk.Start.Before(ss.End)) {
			// The patient would be told one time and booked at another.
			return &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeBusinessRule,
				Expression: bk.StartPath, Diagnostics: fmt.Sprintf("start %s is not in the session of the Slot %s (%s to %s)",
					bk.Start.Format(time.RFC3339), bars.SlotID(target, at), ss.Start.UTC().Format(time.RFC3339), ss.End.UTC().Format(time.RFC3339))}}}
		}
		return nil
	}
	return &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeNotFound,
		Expression: bk.SlotPath, Diagnostics: "no Slot " + bars.SlotID(target, at) + ": no session of " + target + " starts then (GET /Slot lists them)"}}}
}

// decodeReferralResult decodes what referral.receive and referral.cancel
// answer: the referral and its attendance.
func decodeReferralResult(value []byte) (*care.ReferralResult, *care.Attendance, error) {
	var out care.ReferralResult
	if err := json.Unmarshal(value, &out); err != nil || out.Referral == nil {
		return nil, nil, fmt.Errorf("referral result: %v", err)
	}
	var a care.Attendance
	if err := json.Unmarshal(out.Attendance, &a); err != nil {
		return nil, nil, fmt.Errorf("referral attendance: %w", err)
	}
	return &out, &a, nil
}
