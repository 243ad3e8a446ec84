package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/protocols"
	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/frontdoor-ucc/frontdoor/triage/complaint"
)

// The attendance workflow over HTTP: protocols (list, search, upload,
// activate), answers, observations, a clinician's confirmation and
// override, status changes. Every write is validated here first (decode
// strictly, check the shape, and where the answer depends on state, check
// it against local state) so a refused request proposes nothing; Apply
// validates again and decides (cluster/workflow.go, cluster/triage.go).

// workflowRoutes are this file's (and queue.go, explain.go, slip.go,
// stream.go's) rows of the route table.
var workflowRoutes = []routeRow{
	{Method: "GET", Path: "/v1/protocols", Roles: rolesAll, Summary: "Protocol versions; ?q= finds the presentations for a complaint in the person's words, ranked by their age and sex (the complaint box)", Query: []string{"q", "search", "age_years", "age_months", "age_weeks", "age_days", "sex", consistencyQuery}},
	{Method: "POST", Path: "/v1/protocols", Roles: rolesAdmin, Summary: "Upload a new protocol version (YAML body, or JSON {content}); linted, not yet active", Body: protocolset.ProtocolUpload{}},
	{Method: "POST", Path: "/v1/protocols/:id/activate", Roles: rolesAdmin, Summary: "Activate an uploaded version; attendances in progress keep theirs", Body: activateBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/answers", Roles: rolesDesk, Summary: "Answer triage questions (one or many): next questions, or the outcome and the routing decision", Body: answersBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/observations", Roles: rolesDesk, Summary: "Record vital signs; a higher disposition re-routes upward, never down; raised and raised_reason say whether they raised it (or, questions remaining, the interim)", Body: triage.Observations{}},
	{Method: "POST", Path: "/v1/attendances/:id/address", Roles: rolesDesk, Summary: "Give where the patient is now (postcode, address): a rapid response need awaiting_address is routed at once", Body: addressBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/confirm", Roles: []string{access.RoleClinician}, Summary: "A clinician confirms a walk-in's redirection to pharmacy or self care, or settles a clinician-first floor (awaiting_clinician): the disposition becomes its then and is routed", Body: confirmBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/override", Roles: []string{access.RoleClinician}, Summary: "A clinician overrides tier or service, with a reason", Body: overrideBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/check-in", Roles: []string{access.RoleReception}, Summary: "Check in a patient NHS 111 announced (status expected): the attendance joins the queue", Body: confirmBody{}},
	{Method: "POST", Path: "/v1/attendances/:id/status", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Move an attendance on: called, seen, handed_over or left (frees an unused slot)", Body: statusBody{}},
	{Method: "GET", Path: "/v1/attendances/:id/explain", Roles: rolesDesk, Summary: "The whole story: protocol version and hash, answers with who and when, scores, deciding rule, services rejected and why, overrides, confirmations", Query: []string{consistencyQuery}},
	{Method: "GET", Path: "/v1/attendances/:id/slip", Roles: rolesDesk, Summary: "Printable page for the patient: where to go, when, how, care advice, when to come back", Query: []string{consistencyQuery}},
	{Method: "GET", Path: "/v1/queue", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Attendances waiting, by clinical priority then arrival (awaiting the clinician first among non-emergencies, soonest due first); ?stream=clinician_callback is the clinician's call-back worklist (clinician_now the walk-ins); served from local state (stale: true) without quorum", Query: []string{"stream"}},
	{Method: "GET", Path: "/v1/queue/stream", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Server-Sent Events of queue changes (event id = raft index; resumable with Last-Event-ID)", Query: []string{"last_event_id", "max_seconds"}},
}

func init() { routeTable = append(routeTable, workflowRoutes...) }

// registerWorkflow registers the workflow routes (called by registerAttendances).
func (s *server) registerWorkflow(r fiber.Router) {
	r.Get("/protocols", s.listProtocols)
	r.Post("/protocols", s.uploadProtocol)
	r.Post("/protocols/:id/activate", s.activateProtocol)
	r.Post("/attendances/:id/answers", s.answerAttendance)
	r.Post("/attendances/:id/observations", s.observeAttendance)
	r.Post("/attendances/:id/address", s.addressAttendance)
	r.Post("/attendances/:id/confirm", s.confirmAttendance)
	r.Post("/attendances/:id/override", s.overrideAttendance)
	r.Post("/attendances/:id/status", s.statusAttendance)
	r.Post("/attendances/:id/check-in", s.checkInAttendance)
	r.Get("/attendances/:id/explain", s.explainAttendance)
	r.Get("/attendances/:id/slip", s.slipAttendance)
	r.Get("/queue", s.getQueue)
	r.Get("/queue/stream", s.streamQueue)
}

// bootstrapProtocols proposes the embedded protocol files once, on the
// bootstrapping node (serve.go, after bootstrapReferenceData).
func bootstrapProtocols(ctx context.Context, st proposer) error {
	files := protocols.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	in := protocolset.ProtocolsLoad{}
	for _, n := range names {
		in.Files = append(in.Files, protocolset.ProtocolFile{Name: n, Content: string(files[n])})
	}
	payload, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	res, err := st.Propose(ctx, cluster.Proposal{Kind: protocolset.KindProtocolsLoad, Actor: bootstrapActor, Payload: payload})
	if err != nil {
		return fmt.Errorf("propose the protocols: %w", err)
	}
	if res.Err != nil && res.Err.Code != cluster.CodeConflict {
		return fmt.Errorf("protocols: %w", res.Err)
	}
	return nil
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

// localCheck is a write handler's check against state before proposing,
// so a refused request proposes nothing. It runs on the leader, whose state
// holds every acknowledged write: a follower forwards the request to the
// leader first (errForwarded: the leader's answer is already in the
// response). A *cluster.CommandError from fn becomes the problem answer.
func (s *server) localCheck(c *fiber.Ctx, fn func(v *cluster.View) error) error {
	if !s.store.IsLeader() {
		if c.Get(headerForwarded) != "" {
			return notAccepted("forwarded to a node that is not the leader; leadership is changing")
		}
		if err := s.forward(c, true); err != nil {
			return err
		}
		return errForwarded
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	return s.store.Read(ctx, cluster.ConsistencyStale, fn)
}

// errForwarded: the request was forwarded and answered by the leader.
var errForwarded = errors.New("forwarded to the leader")

// handledOK turns errForwarded into a nil handler error.
func handledOK(err error) error {
	if errors.Is(err, errForwarded) {
		return nil
	}
	return err
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
	if err := s.localCheck(c, func(v *cluster.View) error {
		_, _, err := protocolset.In(v).CheckProtocolUpload([]byte(in.Content))
		return err
	}); err != nil {
		return handledOK(err)
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

// answersBody is the POST /v1/attendances/{id}/answers body: many answers,
// or one as {question, value}.
type answersBody struct {
	Answers  []triage.Reply `json:"answers,omitempty"`
	Question string         `json:"question,omitempty"`
	Value    string         `json:"value,omitempty"`
}

// confirmBody is the POST /v1/attendances/{id}/confirm body (may be empty).
type confirmBody struct {
	Note string `json:"note,omitempty"`
}

// overrideBody is the POST /v1/attendances/{id}/override body.
type overrideBody struct {
	Tier      triage.Tier      `json:"tier,omitempty"`
	Timeframe triage.Timeframe `json:"timeframe,omitempty"`
	ServiceID string           `json:"service_id,omitempty"`
	Reason    string           `json:"reason"`
}

// statusBody is the POST /v1/attendances/{id}/status body.
type statusBody struct {
	Status string `json:"status"`
}

// attendanceCommand proposes a workflow command and answers with the
// attendance as written (index: the raft index of this change).
func (s *server) attendanceCommand(c *fiber.Ctx, kind cluster.Kind, route string, payload any) error {
	res, handled, err := s.proposeJSON(c, kind, route, payload)
	if handled || err != nil {
		return err
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		return err
	}
	return c.JSON(attendanceBody{Attendance: &a, Index: res.Index})
}

// attendanceOpen is the pre-check of commands on one attendance: it
// exists and is not over (Apply refuses both the same way).
func (s *server) attendanceOpen(c *fiber.Ctx, id string) error {
	return s.localCheck(c, func(v *cluster.View) error {
		a, err := care.In(v).Attendance(id)
		if err != nil {
			return err
		}
		if care.AttendanceClosed(a.Status) {
			return &cluster.CommandError{Code: cluster.CodeConflict, Message: "the attendance is already " + a.Status}
		}
		return nil
	})
}

func (s *server) answerAttendance(c *fiber.Ctx) error {
	var in answersBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return handledOK(err)
	}
	cmd := care.AttendanceAnswers{AttendanceID: strings.Clone(c.Params("id")), Answers: in.Answers}
	if in.Question != "" || in.Value != "" {
		if len(in.Answers) > 0 {
			return invalid("give answers or one question/value, not both", map[string]string{"question": "not with answers"})
		}
		cmd.Answers = []triage.Reply{{Question: in.Question, Value: in.Value}}
	}
	if f := cmd.Validate(); f != nil {
		return invalid("the answers are not valid", f)
	}
	if err := s.localCheck(c, func(v *cluster.View) error { return care.In(v).CheckAnswers(&cmd) }); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceAnswer, "POST /v1/attendances/{id}/answers", &cmd)
}

func (s *server) observeAttendance(c *fiber.Ctx) error {
	cmd := care.AttendanceObservations{AttendanceID: strings.Clone(c.Params("id"))}
	if err := decodeStrict(c.Body(), &cmd.Observations); err != nil {
		return err
	}
	if f := cmd.Validate(); f != nil {
		return invalid("the observations are not valid", f)
	}
	if err := s.attendanceOpen(c, cmd.AttendanceID); err != nil {
		return handledOK(err)
	}
	res, handled, err := s.proposeJSON(c, care.KindAttendanceObserve, "POST /v1/attendances/{id}/observations", &cmd)
	if handled || err != nil {
		return err
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		return err
	}
	out := observeBody{attendanceBody: attendanceBody{Attendance: &a, Index: res.Index}}
	if obs := a.Triage.Observations; len(obs) > 0 {
		last := obs[len(obs)-1]
		out.Raised, out.RaisedReason = last.Raised, last.Reason
	}
	return c.JSON(out)
}

// observeBody is the POST /v1/attendances/{id}/observations answer: the
// attendance, and whether these observations raised what it demands (its
// disposition, or while questions remain its interim) and why.
type observeBody struct {
	attendanceBody
	Raised       bool   `json:"raised"`
	RaisedReason string `json:"raised_reason,omitempty"`
}

// addressBody is the POST /v1/attendances/{id}/address body.
type addressBody struct {
	Postcode    string `json:"postcode"`
	Address     string `json:"address,omitempty"`
	AccessNotes string `json:"access_notes,omitempty"`
}

// addressAttendance: where the patient is now; an attendance awaiting an
// address (a rapid response need) is routed in the same command.
func (s *server) addressAttendance(c *fiber.Ctx) error {
	var in addressBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.AttendanceAddress{AttendanceID: strings.Clone(c.Params("id")), Postcode: in.Postcode, Address: in.Address,
		AccessNotes: in.AccessNotes}
	if f := cmd.Validate(); f != nil {
		return invalid("the address is not valid", f)
	}
	if err := s.attendanceOpen(c, cmd.AttendanceID); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceAddress, "POST /v1/attendances/{id}/address", &cmd)
}

func (s *server) confirmAttendance(c *fiber.Ctx) error {
	var in confirmBody
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeStrict(c.Body(), &in); err != nil {
			return err
		}
	}
	if len(in.Note) > 500 {
		return invalid("the note is too long", map[string]string{"note": "at most 500 characters"})
	}
	cmd := care.AttendanceConfirm{AttendanceID: strings.Clone(c.Params("id")), Note: in.Note}
	if err := s.localCheck(c, func(v *cluster.View) error {
		a, err := care.In(v).Attendance(cmd.AttendanceID)
		if err != nil {
			return err
		}
		if a.Status != care.AttendanceAwaitingConfirmation && a.Status != care.AttendanceAwaitingClinician {
			return &cluster.CommandError{Code: cluster.CodeConflict, Message: "nothing to confirm: the attendance is " + a.Status}
		}
		return nil
	}); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceConfirm, "POST /v1/attendances/{id}/confirm", &cmd)
}

func (s *server) overrideAttendance(c *fiber.Ctx) error {
	var in overrideBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.AttendanceOverride{AttendanceID: strings.Clone(c.Params("id")), Tier: in.Tier, Timeframe: in.Timeframe,
		ServiceID: in.ServiceID, Reason: in.Reason}
	if f := cmd.Validate(); f != nil {
		return invalid("the override is not valid", f)
	}
	if err := s.attendanceOpen(c, cmd.AttendanceID); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceOverride, "POST /v1/attendances/{id}/override", &cmd)
}

func (s *server) statusAttendance(c *fiber.Ctx) error {
	var in statusBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.AttendanceStatusChange{AttendanceID: strings.Clone(c.Params("id")), Status: in.Status}
	if f := cmd.Validate(); f != nil {
		return invalid("the status is not valid", f)
	}
	if err := s.attendanceOpen(c, cmd.AttendanceID); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceStatus, "POST /v1/attendances/{id}/status", &cmd)
}

// checkInAttendance: POST /v1/attendances/{id}/check-in (body optional).
func (s *server) checkInAttendance(c *fiber.Ctx) error {
	if len(bytes.TrimSpace(c.Body())) > 0 {
		var in struct{}
		if err := decodeStrict(c.Body(), &in); err != nil {
			return err
		}
	}
	cmd := care.AttendanceCheckIn{AttendanceID: strings.Clone(c.Params("id"))}
	if err := s.localCheck(c, func(v *cluster.View) error {
		a, err := care.In(v).Attendance(cmd.AttendanceID)
		if err != nil {
			return err
		}
		if a.Status != care.AttendanceExpected {
			return &cluster.CommandError{Code: cluster.CodeConflict, Message: "only an expected attendance can be checked in; this one is " + a.Status}
		}
		return nil
	}); err != nil {
		return handledOK(err)
	}
	return s.attendanceCommand(c, care.KindAttendanceCheckIn, "POST /v1/attendances/{id}/check-in", &cmd)
}
