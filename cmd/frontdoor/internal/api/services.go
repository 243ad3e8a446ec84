package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// serviceRoutes are the route table's rows of reference data: the service directory and GP practices (routes.go).
func serviceRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/directory", Roles: rolesAll, Summary: "The directory's name, centre and extra bank holidays", Query: []string{consistencyQuery}, Handler: (*server).getDirectory},
		{Method: "PUT", Path: "/v1/directory/bank-holidays", Roles: rolesAdmin, Summary: "Set the extra bank holidays (besides England's)", Body: directory.BankHolidays{}, Kinds: []cluster.Kind{directory.KindBankHolidaysSet}, Handler: (*server).putBankHolidays},
		{Method: "POST", Path: "/v1/directory/import", Roles: rolesAdmin, Summary: "Add or update GP practices, pharmacies and postcode coordinates from national data (frontdoor directory import)", Body: directory.Import{}, Kinds: []cluster.Kind{directory.KindDirectoryImport}, Handler: (*server).importDirectory},
		{Method: "GET", Path: "/v1/services", Roles: rolesAll, Summary: "List services (webhook secrets hidden)", Query: []string{"tier", consistencyQuery}, Handler: (*server).listServices},
		{Method: "GET", Path: "/v1/services/:id", Roles: rolesAll, Summary: "One service", Query: []string{consistencyQuery}, Handler: (*server).getService},
		{Method: "PUT", Path: "/v1/services/:id", Roles: rolesAdmin, Summary: "Create or replace a service", Body: routing.Service{}, Kinds: []cluster.Kind{directory.KindServicePut}, Handler: (*server).putService},
		{Method: "POST", Path: "/v1/services/:id/status", Roles: []string{access.RoleReception, access.RoleClinician, access.RoleResponder}, Scope: scopeService, Summary: "Set a service's RAG status and places (admin, or a key scoped to that service: its own staff)", Body: serviceStatusBody{}, Kinds: []cluster.Kind{directory.KindServiceStatus}, Handler: (*server).setServiceStatus},
		{Method: "POST", Path: "/v1/services/:id/exceptions", Roles: rolesAdmin, Summary: "Set or remove a date's opening exception (bank holiday, closure)", Body: serviceExceptionBody{}, Kinds: []cluster.Kind{directory.KindServiceExcept}, Handler: (*server).setServiceException},
		{Method: "GET", Path: "/v1/services/:id/allocations", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Slots and places taken, and by which attendance", Query: []string{consistencyQuery}, Handler: (*server).listAllocations},
		{Method: "GET", Path: "/v1/practices", Roles: rolesAll, Summary: "GP practices, their catchments and list status", Query: []string{consistencyQuery}, Handler: (*server).listPractices},
	}
}

// serviceStatusBody is the POST /v1/services/{id}/status body.
type serviceStatusBody struct {
	Status            string `json:"status"`
	ResetAfterMinutes int    `json:"reset_after_minutes,omitempty"`
	Places            *int   `json:"places,omitempty"`
	Note              string `json:"note,omitempty"`
}

// serviceExceptionBody is the POST /v1/services/{id}/exceptions body.
type serviceExceptionBody struct {
	Date     string            `json:"date"`
	Sessions []routing.Session `json:"sessions,omitempty"`
	Note     string            `json:"note,omitempty"`
	Remove   bool              `json:"remove,omitempty"`
}

// redact hides a webhook secret: the API never shows one (a PUT that sends
// the same URL with no secret keeps the stored secret).
func redact(svc routing.Service) routing.Service {
	if svc.Webhook != nil {
		w := *svc.Webhook
		w.Secret = ""
		svc.Webhook = &w
	}
	return svc
}

// directoryBody is the GET /v1/directory body.
type directoryBody struct {
	Name              string   `json:"name"`
	CentrePostcode    string   `json:"centre_postcode"`
	ExtraBankHolidays []string `json:"extra_bank_holidays"`
	Services          int      `json:"services"`
	Practices         int      `json:"practices"`
	Postcodes         int      `json:"postcodes"`
}

func (s *server) getDirectory(c *fiber.Ctx) error {
	var out directoryBody
	handled, err := s.read(c, func(v *cluster.View) error {
		d, err := directory.In(v).Directory()
		if err != nil {
			return err
		}
		if d == nil {
			return cluster.ErrNotFound
		}
		out = directoryBody{Name: d.Name, CentrePostcode: d.CentrePostcode, ExtraBankHolidays: d.ExtraBankHolidays,
			Services: len(d.Services), Practices: len(d.Practices), Postcodes: len(d.Postcodes)}
		return nil
	})
	if handled || err != nil {
		return err
	}
	if out.ExtraBankHolidays == nil {
		out.ExtraBankHolidays = []string{}
	}
	return c.JSON(out)
}

func (s *server) putBankHolidays(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req directory.BankHolidays
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if f := req.Validate(); f != nil {
		return invalid("the bank holidays are not valid", f)
	}
	return s.proposeAndRender(c, directory.KindBankHolidaysSet, "PUT /v1/directory/bank-holidays", body, nil)
}

// importDirectory: POST /v1/directory/import. The handler checks the
// import against the directory (422, nothing proposed); Apply plans it
// again on the current state. The check reads on the leader after a
// barrier (a follower forwards the request): an import comes in batches,
// postcodes first, and a follower's copy may not yet hold the batch just
// acknowledged.
func (s *server) importDirectory(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req directory.Import
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if f := req.Validate(); f != nil {
		return invalid("the import is not valid", f)
	}
	var dir *routing.Directory
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	err := s.store.Read(ctx, cluster.ConsistencyLinearizable, func(v *cluster.View) error {
		var err error
		dir, err = directory.In(v).Directory()
		return err
	})
	if errors.Is(err, cluster.ErrNotLeader) {
		return s.forward(c, false)
	} else if err != nil {
		return err
	}
	if dir == nil {
		return commandProblem(directory.ErrNoDirectory)
	}
	if _, f := directory.PlanImport(dir, &req); f != nil {
		return invalid("the import does not fit the directory", f)
	}
	return s.proposeAndRender(c, directory.KindDirectoryImport, "POST /v1/directory/import", body, nil)
}

// proposeAndRender proposes body (or payload, when the command carries more
// than the request body, such as the id from the path) and answers 200
// with the command's value.
func (s *server) proposeAndRender(c *fiber.Ctx, kind cluster.Kind, route string, body []byte, payload any) error {
	p, err := proposal(c, kind, route, body)
	if err != nil {
		return err
	}
	if payload != nil {
		if p.Payload, err = json.Marshal(payload); err != nil {
			return err
		}
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(res.Value)
}

// serviceList is the GET /v1/services body.
type serviceList struct {
	Services []routing.Service `json:"services"`
}

func (s *server) listServices(c *fiber.Ctx) error {
	tier := routing.Tier(strings.Clone(c.Query("tier")))
	if tier != "" && tier.Rank() < 0 {
		return &Problem{Type: problemBadRequest, Title: "Bad request", Status: fiber.StatusBadRequest,
			Detail: "unknown tier", Errors: map[string]string{"tier": "must be one of self_care, pharmacy, gp, rapid_response, ed"}}
	}
	var list []routing.Service
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		list, err = directory.In(v).Services()
		return err
	})
	if handled || err != nil {
		return err
	}
	out := serviceList{Services: []routing.Service{}}
	for _, svc := range list {
		if tier == "" || svc.Tier == tier {
			out.Services = append(out.Services, redact(svc))
		}
	}
	return c.JSON(out)
}

func (s *server) getService(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var svc *routing.Service
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		svc, err = directory.In(v).Service(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(redact(*svc))
}

// putService: PUT /v1/services/{id} creates or replaces one service. The
// handler checks it against a local copy of the directory (422, nothing
// proposed); Apply checks it again against the current state.
func (s *server) putService(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var svc routing.Service
	if err := decodeStrict(body, &svc); err != nil {
		return err
	}
	if svc.ID == "" {
		svc.ID = id
	}
	if svc.ID != id {
		return invalid("the id in the body must match the path", map[string]string{"id": "must be " + id})
	}
	var dir *routing.Directory
	var allow *routing.WebhookAllowList
	if err := s.store.Read(c.UserContext(), cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		if dir, err = directory.In(v).Directory(); err != nil {
			return err
		}
		allow, err = directory.In(v).WebhookAllowList()
		return err
	}); err != nil {
		return err
	}
	var old *routing.Service
	if dir != nil {
		for i := range dir.Services {
			if dir.Services[i].ID == svc.ID {
				old = &dir.Services[i]
			}
		}
	}
	if f := s.checkServiceWebhook(&svc, old, allow); f != nil {
		return invalid("the service's webhook is not allowed", f)
	}
	if f := directory.ValidateServiceChange(dir, &svc); f != nil {
		return invalid("the service is not valid", f)
	}
	return s.proposeAndRenderService(c, directory.KindServicePut, "PUT /v1/services/"+id, body, &svc)
}

// proposeAndRenderService is proposeAndRender for commands whose value is a
// service (its webhook secret redacted).
func (s *server) proposeAndRenderService(c *fiber.Ctx, kind cluster.Kind, route string, body []byte, payload any) error {
	p, err := proposal(c, kind, route, body)
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
	var svc routing.Service
	if err := json.Unmarshal(res.Value, &svc); err != nil {
		return err
	}
	return c.JSON(redact(svc))
}

func (s *server) setServiceStatus(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var req serviceStatusBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	payload := directory.ServiceStatus{ServiceID: id, Status: req.Status, ResetAfterMinutes: req.ResetAfterMinutes, Places: req.Places, Note: req.Note}
	if f := payload.Validate(); f != nil {
		return invalid("the status is not valid", f)
	}
	// Apply decides the scope (the key's Actor travels in the command);
	// asking here too refuses another service's key without a log entry.
	if cerr := directory.CanSetStatus(actorFor(c), id); cerr != nil {
		return commandProblem(cerr)
	}
	return s.proposeAndRenderService(c, directory.KindServiceStatus, "POST /v1/services/"+id+"/status", body, &payload)
}

func (s *server) setServiceException(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var req serviceExceptionBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	payload := directory.ServiceException{ServiceID: id, Date: req.Date, Sessions: req.Sessions, Note: req.Note, Remove: req.Remove}
	if f := payload.Validate(); f != nil {
		return invalid("the exception is not valid", f)
	}
	return s.proposeAndRenderService(c, directory.KindServiceExcept, "POST /v1/services/"+id+"/exceptions", body, &payload)
}

// allocationList is the GET /v1/services/{id}/allocations body.
type allocationList struct {
	ServiceID   string                 `json:"service_id"`
	Allocations []directory.SlotRecord `json:"allocations"`
}

func (s *server) listAllocations(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	out := allocationList{ServiceID: id}
	handled, err := s.read(c, func(v *cluster.View) error {
		if _, err := directory.In(v).Service(id); err != nil {
			return err
		}
		var err error
		out.Allocations, err = directory.In(v).Allocations(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(out)
}

// practiceList is the GET /v1/practices body.
type practiceList struct {
	Practices []routing.Practice `json:"practices"`
}

func (s *server) listPractices(c *fiber.Ctx) error {
	var out practiceList
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out.Practices, err = directory.In(v).Practices()
		return err
	})
	if handled || err != nil {
		return err
	}
	if out.Practices == nil {
		out.Practices = []routing.Practice{}
	}
	return c.JSON(out)
}
