package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// auditRoutes are the route table's rows of the audit trail (routes.go).
func auditRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/audit", Roles: []string{access.RoleClinician}, Summary: "Audit events of one entity", Query: []string{"entity", consistencyQuery}, Handler: (*server).listAudit},
	}
}

// listAudit: GET /v1/audit?entity=attendance/<id> -> that entity's events
// in log order.
func (s *server) listAudit(c *fiber.Ctx) error {
	entity := strings.Clone(c.Query("entity"))
	if entity == "" {
		return invalid("entity is required", map[string]string{"entity": "required, e.g. attendance/<id>"})
	}
	if kind, id, ok := strings.Cut(entity, "/"); entity != "cluster" && (!ok || kind == "" || id == "" || strings.Contains(id, "/")) {
		return invalid("entity must name one record", map[string]string{"entity": "kind/id, e.g. attendance/<id>, or cluster"})
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
