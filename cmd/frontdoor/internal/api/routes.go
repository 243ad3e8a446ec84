package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// The route table: every HTTP route of the API, with who may call it,
// what it does and the handler that answers it. It is the single source of
// truth for
//   - registration and access control: New registers each row's handler
//     with the row's check in front of it (no key -> 401, a role the row
//     does not list -> 403, admin -> always allowed), so a route cannot
//     exist without a row;
//   - the README role table (routeRoleMarkdown, checked against the
//     README by TestRoleTableMarkdown);
//   - the OpenAPI document served at /openapi.json (openapi.go);
//   - what a follower's forwarded proposal may do (forward_proposal.go):
//     the leader checks the route it names, that route's roles, and its
//     Kinds.
//
// Each resource's file lists its rows (clusterRoutes in cluster.go, ...);
// routeTable puts them together in the order the README shows them, which
// is also the registration order (fiber matches in that order, so a
// literal path such as /v1/dispatches/stream comes before /v1/dispatches/:id).
// Admin may call every keyed route without being listed.

// routeScope says how a scoped key (access.KeyCreate ServiceID) is held
// to its service on a route, on top of its role.
type routeScope string

const (
	scopeNone routeScope = ""
	// scopeService: the path's :id is a service; only an admin key or a
	// key scoped to that service may call it (decided in Apply too).
	scopeService routeScope = "service"
	// scopeTeam: a responder key scoped to a rapid response team reads,
	// follows and acts on its own team's dispatches only (and the
	// attendances dispatched to it).
	scopeTeam routeScope = "team"
)

// routeAccess says how a route is protected.
type routeAccess int

const (
	accessKey       routeAccess = iota // Authorization: Bearer <API key> with one of Roles (or admin)
	accessOpen                         // no key: health, metrics, cluster figures, the API description
	accessJoinToken                    // node-to-node: the cluster's join token (checked by the handler)
	accessForwarded                    // node-to-node: a follower's proposal with its caller's key, checked by the handler against the row it names
)

// routeRow is one row of the route table.
type routeRow struct {
	Method  string
	Path    string      // the fiber path, e.g. /v1/attendances/:id
	Access  routeAccess // accessKey unless stated
	Roles   []string    // roles allowed besides admin (accessKey only)
	Scope   routeScope  // how a key scoped to a service is narrowed further
	Summary string      // one line, used by the OpenAPI document and the README table
	// Body is a value of the request body's type (nil: no body); the
	// OpenAPI document derives its schema by reflection.
	Body any
	// Query lists the query parameters the route reads.
	Query []string
	// Kinds are the command kinds the handler proposes (none: it proposes
	// nothing). propose refuses any other kind, so the list stays true, and
	// the leader refuses a forwarded proposal whose kind is not in the row
	// it names (forward.go).
	Kinds []cluster.Kind
	// Handler answers the route, behind the row's access check; a method
	// expression such as (*server).listProtocols.
	Handler func(*server, *fiber.Ctx) error
	// Stream marks a Server-Sent Events route: its handler holds one of
	// the node's stream slots while the stream is open (streamlimit.go).
	Stream bool
	// streams is the node's stream limiter (Stream rows only): routeTable
	// gives every Stream row of a table the same one.
	streams *streamLimiter
}

// Role sets used by many rows.
var (
	rolesAll   = []string{access.RoleReception, access.RoleClinician, access.RoleNHS111, access.RoleResponder}
	rolesDesk  = []string{access.RoleReception, access.RoleClinician, access.RoleNHS111}
	rolesFront = []string{access.RoleReception, access.RoleNHS111}
	rolesAdmin = []string(nil) // admin only
)

// consistencyQuery is the read-consistency parameter every read takes.
const consistencyQuery = "consistency"

// routeTable lists every route, a fresh slice on every call. Keep rows
// grouped by resource, in the order the README shows them.
func routeTable() []routeRow {
	rows := slices.Concat(
		healthRoutes(), // health, readiness, metrics
		profileRoutes(),
		openAPIRoutes(),
		clusterRoutes(),
		backupRoutes(),
		forwardRoutes(),   // node to node: a follower's proposals
		keyLeaseRoutes(),  // node to node: followers' lease on their API key state
		readAuditRoutes(), // node to node: followers' record reads for the audit trail
		keyRoutes(),       // access
		serviceRoutes(),   // reference data: the directory, services and GP practices
		webhookRoutes(),   // the webhook allow-list
		attendanceRoutes(),
		patientRoutes(), // patients and GP registration (identity second)
		registrationRoutes(),
		auditRoutes(),
		retentionRoutes(), // review and purge past the NHS retention periods
		dispatchRoutes(),  // rapid response
		alertRoutes(),
		webRoutes(), // the reception page
		protocolRoutes(),
		workflowRoutes(), // triage answers, observations, clinician decisions
		explainRoutes(),
		slipRoutes(),
		queueRoutes(),
		exportRoutes(), // data extracts (ECDS)
		fhirRoutes(),   // the BaRS receiver (FHIR R4, UK Core)
	)
	seen := make(map[string]bool, len(rows))
	for i := range rows {
		k := rowKey(rows[i].Method, rows[i].Path)
		if seen[k] {
			panic("route table: duplicate row " + k)
		}
		seen[k] = true
	}
	// One stream limiter per table: New builds one table per server, so
	// the stream caps hold per node.
	streams := newStreamLimiter(defaultStreamsPerKey, defaultStreamsPerNode)
	for i := range rows {
		if rows[i].Stream {
			rows[i].streams = streams
		}
	}
	return rows
}

// rowKey identifies a row: "GET /v1/attendances/:id".
func rowKey(method, path string) string { return method + " " + path }

// proposes reports whether the route's handler proposes commands of kind.
func (r *routeRow) proposes(kind cluster.Kind) bool { return slices.Contains(r.Kinds, kind) }

// allows reports whether role may call the route.
func (r *routeRow) allows(role string) bool {
	switch r.Access {
	case accessOpen, accessJoinToken, accessForwarded:
		return true
	}
	if role == access.RoleAdmin {
		return true
	}
	for _, x := range r.Roles {
		if x == role {
			return true
		}
	}
	return false
}

// routeRoleMarkdown renders the route table as the README's role table:
// one row per route, a column per role (admin may call every keyed route).
func routeRoleMarkdown() string {
	var b strings.Builder
	b.WriteString("| Route |")
	for _, r := range access.Roles {
		b.WriteString(" " + r + " |")
	}
	b.WriteString(" What it does |\n|---|")
	for range access.Roles {
		b.WriteString(":-:|")
	}
	b.WriteString("---|\n")
	rows := routeTable()
	for i := range rows {
		row := &rows[i]
		fmt.Fprintf(&b, "| `%s %s` |", row.Method, openAPIPath(row.Path))
		for _, role := range access.Roles {
			switch {
			case row.Access == accessOpen:
				b.WriteString(" open |")
			case row.Access == accessJoinToken:
				b.WriteString(" join token |")
			case row.Access == accessForwarded:
				b.WriteString(" forwarded key |")
			case row.allows(role):
				b.WriteString(" ✓ |")
			default:
				b.WriteString(" – |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", row.Summary)
	}
	return b.String()
}
