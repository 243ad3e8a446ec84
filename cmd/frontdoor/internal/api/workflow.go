package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The attendance workflow over HTTP: answers, observations, a clinician's
// confirmation and override, status changes (protocols.go has the protocol
// versions). Every write is validated here first (decode
// strictly, check the shape, and where the answer depends on state, check
// it against local state) so a refused request proposes nothing; Apply
// validates again and decides (cluster/workflow.go, cluster/triage.go).

// workflowRoutes are the route table's rows of the attendance workflow: triage answers, observations, address, clinician decisions, status (routes.go).
func workflowRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: "/v1/attendances/:id/answers", Roles: rolesDesk, Summary: "Answer triage questions (one or many): next questions, or the outcome and the routing decision", Body: answersBody{}, Kinds: []cluster.Kind{care.KindAttendanceAnswer}, Handler: (*server).answerAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/observations", Roles: rolesDesk, Summary: "Record vital signs; a higher disposition re-routes upward, never down; raised and raised_reason say whether they raised it (or, questions remaining, the interim)", Body: triage.Observations{}, Kinds: []cluster.Kind{care.KindAttendanceObserve}, Handler: (*server).observeAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/address", Roles: rolesDesk, Summary: "Give where the patient is now (postcode, address): a rapid response need awaiting_address is routed at once", Body: addressBody{}, Kinds: []cluster.Kind{care.KindAttendanceAddress}, Handler: (*server).addressAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/confirm", Roles: []string{access.RoleClinician}, Summary: "A clinician confirms a walk-in's redirection to pharmacy or self care, or settles a clinician-first floor (awaiting_clinician): the disposition becomes its then and is routed", Body: confirmBody{}, Kinds: []cluster.Kind{care.KindAttendanceConfirm}, Handler: (*server).confirmAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/override", Roles: []string{access.RoleClinician}, Summary: "A clinician overrides tier or service, with a reason", Body: overrideBody{}, Kinds: []cluster.Kind{care.KindAttendanceOverride}, Handler: (*server).overrideAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/check-in", Roles: []string{access.RoleReception}, Summary: "Check in a patient NHS 111 announced (status expected): the attendance joins the queue", Body: confirmBody{}, Kinds: []cluster.Kind{care.KindAttendanceCheckIn}, Handler: (*server).checkInAttendance},
		{Method: "POST", Path: "/v1/attendances/:id/status", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Move an attendance on: called, seen, handed_over or left (frees an unused slot)", Body: statusBody{}, Kinds: []cluster.Kind{care.KindAttendanceStatus}, Handler: (*server).statusAttendance},
	}
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
	return s.sendWritten(c, res)
}

func (s *server) answerAttendance(c *fiber.Ctx) error {
	var in answersBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
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
	return s.attendanceCommand(c, care.KindAttendanceCheckIn, "POST /v1/attendances/{id}/check-in", &cmd)
}
