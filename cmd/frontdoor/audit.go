package main

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

func (s *server) registerAudit(r fiber.Router) {
	r.Get("/audit", s.listAudit)
}

// listAudit: GET /v1/audit?entity=attendance/<id> -> that entity's events
// in log order.
func (s *server) listAudit(c *fiber.Ctx) error {
	entity := strings.Clone(c.Query("entity"))
	if entity == "" {
		return invalid("entity is required", map[string]string{"entity": "required, e.g. attendance/<id>"})
	}
	var events []*cluster.AuditEvent
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		events, err = v.Audit(entity)
		return err
	})
	if handled || err != nil {
		return err
	}
	if events == nil {
		events = []*cluster.AuditEvent{}
	}
	return c.JSON(fiber.Map{"entity": entity, "events": events})
}
