package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// registrationRoutes are the route table's rows of GP registration (routes.go).
func registrationRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: "/v1/attendances/:id/registration", Roles: []string{access.RoleReception}, Summary: "Register an attendee with no GP: a practice is allocated (designated practice for no fixed abode)", Body: registrationBody{}, Kinds: []cluster.Kind{care.KindRegistrationCreate}, Handler: (*server).createRegistration},
		{Method: "GET", Path: "/v1/registrations", Roles: []string{access.RoleReception}, Summary: "GP registrations by status, for the practice-side follow-up", Query: []string{"status", consistencyQuery}, Handler: (*server).listRegistrations},
		{Method: "GET", Path: "/v1/registrations/:id", Roles: []string{access.RoleReception}, Summary: "One GP registration", Query: []string{consistencyQuery}, Handler: (*server).getRegistration},
		{Method: "POST", Path: "/v1/registrations/:id/status", Roles: []string{access.RoleReception}, Summary: "Move a registration on: sent, accepted or refused", Body: registrationStatusBody{}, Kinds: []cluster.Kind{care.KindRegistrationStatus}, Handler: (*server).setRegistrationStatus},
	}
}

// registrationBody is the POST /v1/attendances/{id}/registration body.
type registrationBody struct {
	Consent          bool   `json:"consent"`
	Type             string `json:"type,omitempty"`
	StayDays         int    `json:"stay_days,omitempty"`
	NoFixedAbode     bool   `json:"no_fixed_abode,omitempty"`
	NoProofOfAddress bool   `json:"no_proof_of_address,omitempty"`
	Postcode         string `json:"postcode,omitempty"`
}

// registrationStatusBody is the POST /v1/registrations/{id}/status body.
type registrationStatusBody struct {
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Consent bool   `json:"consent,omitempty"`
}

// createRegistration allocates a practice inside Apply and answers 201
// with the proposed registration, the practice and why it was chosen.
func (s *server) createRegistration(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var req registrationBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	payload := care.RegistrationCreate{AttendanceID: id, Consent: req.Consent, Type: req.Type, StayDays: req.StayDays,
		NoFixedAbode: req.NoFixedAbode, NoProofOfAddress: req.NoProofOfAddress, Postcode: req.Postcode}
	if f := payload.Validate(); f != nil {
		return invalid("the registration is not valid", f)
	}
	p, err := proposal(c, care.KindRegistrationCreate, "POST /v1/attendances/"+id+"/registration", body)
	if err != nil {
		return err
	}
	if p.Payload, err = json.Marshal(payload); err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	var r care.RegistrationRecord
	if err := json.Unmarshal(res.Value, &r); err != nil {
		return err
	}
	c.Location("/v1/registrations/" + r.ID)
	return c.Status(http.StatusCreated).JSON(&r)
}

// registrationList is the GET /v1/registrations body.
type registrationList struct {
	Registrations []*care.RegistrationRecord `json:"registrations"`
}

func (s *server) listRegistrations(c *fiber.Ctx) error {
	state := strings.Clone(c.Query("status"))
	switch state {
	case "", routing.RegProposed, routing.RegSent, routing.RegAccepted, routing.RegRefused:
	default:
		return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
			Detail: "unknown status", Errors: map[string]string{"status": "must be proposed, sent, accepted or refused"}}
	}
	var out registrationList
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out.Registrations, err = care.In(v).Registrations(state)
		return err
	})
	if handled || err != nil {
		return err
	}
	if out.Registrations == nil {
		out.Registrations = []*care.RegistrationRecord{}
	}
	return c.JSON(out)
}

func (s *server) getRegistration(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var r *care.RegistrationRecord
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		r, err = care.In(v).Registration(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(r)
}

// setRegistrationStatus moves a registration on: sent (needs consent),
// then accepted or refused (with a reason). Illegal steps are 409.
func (s *server) setRegistrationStatus(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var req registrationStatusBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	payload := care.RegistrationStatus{RegistrationID: id, Status: req.Status, Reason: req.Reason, Consent: req.Consent}
	if f := payload.Validate(); f != nil {
		return invalid("the status change is not valid", f)
	}
	p, err := proposal(c, care.KindRegistrationStatus, "POST /v1/registrations/"+id+"/status", body)
	if err != nil {
		return err
	}
	if p.Payload, err = json.Marshal(payload); err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(res.Value)
}
