package main

import (
	"fmt"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// The route table: every HTTP route of the API, with who may call it and
// what it does. It is the single source of truth for
//   - access control: routes registered through the guard (every route
//     under /v1) get the table's check in front of their handler, and
//     registering a route that has no row panics at start-up;
//   - the README role table (routeRoleMarkdown, tested against
//     /work/notes/roles-table.md's shape in auth_routes_test.go);
//   - the OpenAPI document served at /openapi.json (openapi.go).
//
// Adding a route: register it as usual in its resource's register function
// (r.Post("/things", s.createThing)) and add one row here with the same
// method and full fiber path. Admin may call every keyed route without
// being listed.

// access says how a route is protected.
type routeAccess int

const (
	accessKey       routeAccess = iota // Authorization: Bearer <API key> with one of Roles (or admin)
	accessOpen                         // no key: health, metrics, cluster figures, the API description
	accessJoinToken                    // node-to-node: the cluster's join token (checked by the handler)
)

// routeRow is one row of the route table.
type routeRow struct {
	Method  string
	Path    string      // the fiber path, e.g. /v1/attendances/:id
	Access  routeAccess // accessKey unless stated
	Roles   []string    // roles allowed besides admin (accessKey only)
	Summary string      // one line, used by the OpenAPI document and the README table
	// Body is a value of the request body's type (nil: no body); the
	// OpenAPI document derives its schema by reflection.
	Body any
	// Query lists the query parameters the route reads.
	Query []string
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

// routeTable lists every route. Keep rows grouped by resource, in the order
// the README shows them.
var routeTable = []routeRow{
	// Health and operations: open.
	{Method: "GET", Path: "/healthz", Access: accessOpen, Summary: "Liveness: the process is up"},
	{Method: "GET", Path: "/readyz", Access: accessOpen, Summary: "Readiness: a leader is known and this node has caught up"},
	{Method: "GET", Path: "/metrics", Access: accessOpen, Summary: "Prometheus metrics"},
	{Method: "GET", Path: "/openapi.json", Access: accessOpen, Summary: "This API's OpenAPI 3.1 description"},
	{Method: "GET", Path: "/v1/cluster", Access: accessOpen, Summary: "Cluster members, leader, indexes and clocks (no patient data)"},
	{Method: "GET", Path: "/v1/cluster/self", Access: accessOpen, Summary: "This node's own figures (asked by its peers)"},
	{Method: "POST", Path: "/v1/cluster/join", Access: accessJoinToken, Summary: "Join a node (join token in the body)"},
	{Method: "POST", Path: "/v1/cluster/nodes/:id/promote", Access: accessJoinToken, Summary: "Promote a caught-up node to voter (join token in the body)"},
	{Method: "DELETE", Path: "/v1/cluster/nodes/:id", Access: accessJoinToken, Summary: "Remove a node (join token as Bearer)"},

	// Access.
	{Method: "GET", Path: "/v1/whoami", Roles: rolesAll, Summary: "The key's holder and role"},
	{Method: "POST", Path: "/v1/keys", Roles: rolesAdmin, Summary: "Create an API key (the secret is shown once)", Body: keyCreateBody{}},
	{Method: "GET", Path: "/v1/keys", Roles: rolesAdmin, Summary: "List API keys (never their secrets)", Query: []string{consistencyQuery}},
	{Method: "DELETE", Path: "/v1/keys/:id", Roles: rolesAdmin, Summary: "Revoke an API key"},

	// Reference data: the service directory and GP practices.
	{Method: "GET", Path: "/v1/directory", Roles: rolesAll, Summary: "The directory's name, centre and extra bank holidays", Query: []string{consistencyQuery}},
	{Method: "PUT", Path: "/v1/directory/bank-holidays", Roles: rolesAdmin, Summary: "Set the extra bank holidays (besides England's)", Body: directory.BankHolidays{}},
	{Method: "GET", Path: "/v1/services", Roles: rolesAll, Summary: "List services (webhook secrets hidden)", Query: []string{"tier", consistencyQuery}},
	{Method: "GET", Path: "/v1/services/:id", Roles: rolesAll, Summary: "One service", Query: []string{consistencyQuery}},
	{Method: "PUT", Path: "/v1/services/:id", Roles: rolesAdmin, Summary: "Create or replace a service", Body: routing.Service{}},
	{Method: "POST", Path: "/v1/services/:id/status", Roles: []string{access.RoleReception, access.RoleClinician, access.RoleResponder}, Summary: "Set a service's RAG status and places (its staff)", Body: serviceStatusBody{}},
	{Method: "POST", Path: "/v1/services/:id/exceptions", Roles: rolesAdmin, Summary: "Set or remove a date's opening exception (bank holiday, closure)", Body: serviceExceptionBody{}},
	{Method: "GET", Path: "/v1/services/:id/allocations", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Slots and places taken, and by which attendance", Query: []string{consistencyQuery}},
	{Method: "GET", Path: "/v1/practices", Roles: rolesAll, Summary: "GP practices, their catchments and list status", Query: []string{consistencyQuery}},

	// Attendances.
	{Method: "POST", Path: "/v1/attendances", Roles: rolesFront, Summary: "Record an arrival (walk-in or NHS 111)", Body: care.AttendanceCreate{}},
	{Method: "GET", Path: "/v1/attendances", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "List attendances by arrival", Query: []string{"status", "limit", consistencyQuery}},
	{Method: "GET", Path: "/v1/attendances/:id", Roles: rolesAll, Summary: "One attendance", Query: []string{consistencyQuery}},

	// Patients and GP registration (identity second).
	{Method: "POST", Path: "/v1/patients", Roles: rolesDesk, Summary: "Create a patient record (409 with candidates when it looks like an existing one)", Body: care.PatientCreate{}},
	{Method: "GET", Path: "/v1/patients", Roles: rolesDesk, Summary: "Find a patient: ranked candidates with reasons, never a merge", Query: []string{"nhs_number", "given_name", "family_name", "date_of_birth", "postcode", consistencyQuery}},
	{Method: "GET", Path: "/v1/patients/:id", Roles: rolesDesk, Summary: "One patient record", Query: []string{consistencyQuery}},
	{Method: "POST", Path: "/v1/attendances/:id/patient", Roles: rolesDesk, Summary: "Link an attendance to a patient record (names an unnamed attendee)", Body: linkPatientBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/registration", Roles: []string{access.RoleReception}, Summary: "Register an attendee with no GP: a practice is allocated (designated practice for no fixed abode)", Body: registrationBody{}},
	{Method: "GET", Path: "/v1/registrations", Roles: []string{access.RoleReception}, Summary: "GP registrations by status, for the practice-side follow-up", Query: []string{"status", consistencyQuery}},
	{Method: "GET", Path: "/v1/registrations/:id", Roles: []string{access.RoleReception}, Summary: "One GP registration", Query: []string{consistencyQuery}},
	{Method: "POST", Path: "/v1/registrations/:id/status", Roles: []string{access.RoleReception}, Summary: "Move a registration on: sent, accepted or refused", Body: registrationStatusBody{}},

	// Audit.
	{Method: "GET", Path: "/v1/audit", Roles: []string{access.RoleClinician}, Summary: "Audit events of one entity", Query: []string{"entity", consistencyQuery}},
}

// rowKey identifies a row: "GET /v1/attendances/:id".
func rowKey(method, path string) string { return method + " " + path }

// routeIndex maps rowKey -> row, built once.
func routeIndex() map[string]*routeRow {
	m := make(map[string]*routeRow, len(routeTable))
	for i := range routeTable {
		r := &routeTable[i]
		k := rowKey(r.Method, r.Path)
		if _, dup := m[k]; dup {
			panic("route table: duplicate row " + k)
		}
		m[k] = r
	}
	return m
}

// allows reports whether role may call the route.
func (r *routeRow) allows(role string) bool {
	switch r.Access {
	case accessOpen, accessJoinToken:
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
	for i := range routeTable {
		row := &routeTable[i]
		fmt.Fprintf(&b, "| `%s %s` |", row.Method, openAPIPath(row.Path))
		for _, role := range access.Roles {
			switch {
			case row.Access == accessOpen:
				b.WriteString(" open |")
			case row.Access == accessJoinToken:
				b.WriteString(" join token |")
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
