package api

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// Alerts: a dispatch escalated to ED or a dispatch webhook that
// failed for good. They stay on the list until a person at reception or a
// clinician acknowledges them.

// alertRoutes are the route table's rows of alerts (routes.go).
func alertRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/alerts", Roles: alertPeople, Summary: "Alerts (escalated to ED, webhook failed, a clinician-first floor lapsed unconfirmed, a rapid response need fell back to ED) open until a person acknowledges them; ?all=true includes acknowledged", Query: []string{"all", consistencyQuery}, Handler: (*server).listAlerts},
		{Method: "POST", Path: "/v1/alerts/:id/ack", Roles: alertPeople, Summary: "A person at reception or a clinician acknowledges an alert", Body: alertAckBody{}, Kinds: []cluster.Kind{care.KindAlertAck}, Handler: (*server).ackAlert},
	}
}

type alertAckBody struct {
	Note string `json:"note,omitempty"`
}

type alertList struct {
	Alerts []*care.Alert `json:"alerts"`
}

// listAlerts: open alerts by default; ?all=true includes acknowledged ones.
func (s *server) listAlerts(c *fiber.Ctx) error {
	all := false
	switch c.Query("all") {
	case "", "false":
	case "true":
		all = true
	default:
		return badRequest("all must be true or false")
	}
	var list []*care.Alert
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		list, err = care.In(v).Alerts(!all)
		return err
	})
	if handled || err != nil {
		return err
	}
	if list == nil {
		list = []*care.Alert{}
	}
	return c.JSON(alertList{Alerts: list})
}

func (s *server) ackAlert(c *fiber.Ctx) error {
	var in alertAckBody
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		if err := decodeStrict(c.Body(), &in); err != nil {
			return err
		}
	}
	cmd := care.AlertAck{AlertID: strings.Clone(c.Params("id")), Note: in.Note}
	if f := cmd.Validate(); f != nil {
		return invalid("the acknowledgement is not valid", f)
	}
	res, handled, err := s.proposeJSON(c, care.KindAlertAck, "POST /v1/alerts/{id}/ack", &cmd)
	if handled || err != nil {
		return err
	}
	var al care.Alert
	if err := json.Unmarshal(res.Value, &al); err != nil {
		return err
	}
	return c.JSON(&al)
}
