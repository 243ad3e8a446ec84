package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/frontdoor-ucc/frontdoor/triage/complaint"
)

// Protocol versions over HTTP: list them, search the complaint box of the
// set in force, upload a new version (linted, not yet active) and activate
// it. Attendances in progress keep the version they started with.

// protocolRoutes are the route table's rows of protocol versions: list and search, upload, activate (routes.go).
func protocolRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/protocols", Roles: rolesAll, Summary: "Protocol versions; ?q= finds the presentations for a complaint in the person's words, ranked by their age and sex (the complaint box)", Query: []string{"q", "search", "age_years", "age_months", "age_weeks", "age_days", "sex", consistencyQuery}, Handler: (*server).listProtocols},
		{Method: "POST", Path: "/v1/protocols", Roles: rolesAdmin, Summary: "Upload a new protocol version (YAML body, or JSON {content}); linted, not yet active", Body: protocolset.ProtocolUpload{}, Kinds: []cluster.Kind{protocolset.KindProtocolUpload}, Handler: (*server).uploadProtocol},
		{Method: "POST", Path: "/v1/protocols/:id/activate", Roles: rolesAdmin, Summary: "Activate an uploaded version; attendances in progress keep theirs", Body: activateBody{}, Kinds: []cluster.Kind{protocolset.KindProtocolActivate}, Handler: (*server).activateProtocol},
	}
}

// protocolList is the GET /v1/protocols body.
type protocolList struct {
	Protocols []protocolset.ProtocolVersion `json:"protocols"`
	// Search is present when q was given: the presentations that match,
	// best first, each saying why; [] when nothing matches.
	Search *[]complaint.Hit `json:"search,omitempty"`
}

// complaintIndexes keeps the search index of the protocol set in force,
// built once per set (a new set replaces it).
type complaintIndexes struct {
	mu  sync.Mutex
	set *triage.Set
	ix  *complaint.Index
}

func (c *complaintIndexes) get(set *triage.Set) *complaint.Index {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != set {
		c.set, c.ix = set, complaint.New(set)
	}
	return c.ix
}

// complaintQuery reads GET /v1/protocols?q=…&age_years=…&sex=…: the
// person's words, and their age (one of age_years, age_months,
// age_weeks, age_days) and sex when known, which rank presentations.
func complaintQuery(c *fiber.Ctx, q string) (complaint.Query, error) {
	out := complaint.Query{Text: q}
	bad := map[string]string{}
	units := []struct {
		name string
		days float64
		max  int
	}{{"age_years", 365.25, 130}, {"age_months", 30.4375, 1560}, {"age_weeks", 7, 6800}, {"age_days", 1, 47500}}
	for _, u := range units {
		v := c.Query(u.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > u.max:
			bad[u.name] = fmt.Sprintf("a whole number from 0 to %d", u.max)
		case out.AgeDays != nil:
			bad[u.name] = "give the age once, in one unit"
		default:
			d := int(float64(n) * u.days)
			out.AgeDays = &d
		}
	}
	switch sex := c.Query("sex"); sex {
	case "", "unknown":
	case "female", "male":
		out.Sex = sex
	default:
		bad["sex"] = "female, male or unknown"
	}
	if len(q) > 500 {
		bad["q"] = "at most 500 characters"
	}
	if len(bad) > 0 {
		return out, invalid("the search cannot be read", bad)
	}
	return out, nil
}

func (s *server) listProtocols(c *fiber.Ctx) error {
	q := strings.Clone(c.Query("q"))
	if q == "" {
		q = strings.Clone(c.Query("search"))
	}
	query, err := complaintQuery(c, q)
	if err != nil {
		return err
	}
	var out protocolList
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		if out.Protocols, err = protocolset.In(v).ProtocolVersions(); err != nil {
			return err
		}
		if q != "" {
			set, err := protocolset.In(v).ActiveProtocolSet()
			if err != nil || set == nil {
				return err
			}
			hits := s.complaints.get(set).Search(query)
			out.Search = &hits
		}
		return nil
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *server) uploadProtocol(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var in protocolset.ProtocolUpload
	if strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON) {
		if err := decodeStrict(body, &in); err != nil {
			return err
		}
	} else {
		in.Content = string(body)
	}
	if strings.TrimSpace(in.Content) == "" {
		return invalid("the protocol file is empty", map[string]string{"content": "required"})
	}
	payload, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	p, err := proposal(c, protocolset.KindProtocolUpload, "POST /v1/protocols", payload)
	if err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	return c.Status(http.StatusCreated).Send(res.Value)
}

// activateBody is the POST /v1/protocols/{id}/activate body.
type activateBody struct {
	Version int `json:"version"`
}

func (s *server) activateProtocol(c *fiber.Ctx) error {
	var in activateBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	if in.Version < 1 {
		return invalid("a version is required", map[string]string{"version": "must be a positive integer"})
	}
	payload, err := json.Marshal(protocolset.ProtocolActivate{ID: strings.Clone(c.Params("id")), Version: in.Version})
	if err != nil {
		return err
	}
	p, err := proposal(c, protocolset.KindProtocolActivate, "POST /v1/protocols/{id}/activate", payload)
	if err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	return c.Send(res.Value)
}
