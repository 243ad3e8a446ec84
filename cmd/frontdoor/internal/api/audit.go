package api

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// auditRoutes are the route table's rows of the audit trail (routes.go).
func auditRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/audit", Roles: []string{access.RoleClinician}, Summary: "Audit events of one entity (kind/id), a page at a time: limit (default 100, at most 1000) and the cursor of the previous page's next", Query: []string{"entity", "limit", "cursor", consistencyQuery}, Handler: (*server).listAudit},
	}
}

// Audit pages.
const (
	auditDefaultLimit = 100
	auditMaxLimit     = 1000
)

// auditPage is the GET /v1/audit body: one page of an entity's events and,
// when more follow, the cursor of the next page.
type auditPage struct {
	Entity string                `json:"entity"`
	Events []*cluster.AuditEvent `json:"events"`
	Next   string                `json:"next,omitempty"`
}

// listAudit: GET /v1/audit?entity=attendance/<id>[&limit=&cursor=] -> that
// entity's events in log order, a page at a time.
func (s *server) listAudit(c *fiber.Ctx) error {
	entity := strings.Clone(c.Query("entity"))
	if entity == "" {
		return invalid("entity is required", map[string]string{"entity": "required, e.g. attendance/<id>"})
	}
	if kind, id, ok := strings.Cut(entity, "/"); entity != "cluster" && (!ok || kind == "" || id == "" || strings.Contains(id, "/")) {
		return invalid("entity must name one record", map[string]string{"entity": "kind/id, e.g. attendance/<id>, or cluster"})
	}
	limit := auditDefaultLimit
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > auditMaxLimit {
			return invalid("limit is out of range", map[string]string{"limit": "a whole number from 1 to 1000"})
		}
		limit = n
	}
	cursor := strings.Clone(c.Query("cursor"))
	if cursor != "" && !cluster.ValidAuditCursor(cursor) {
		return invalid("cursor is not a page cursor", map[string]string{"cursor": "the next of a previous page: <20-digit index>/<4-digit seq>"})
	}
	out := auditPage{Entity: entity}
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out.Events, out.Next, err = v.AuditPage(entity, cursor, limit)
		return err
	})
	if handled || err != nil {
		return err
	}
	if out.Events == nil {
		out.Events = []*cluster.AuditEvent{}
	}
	return c.JSON(out)
}
