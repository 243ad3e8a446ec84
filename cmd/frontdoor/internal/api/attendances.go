package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// attendanceRoutes are the route table's rows of attendances (routes.go).
func attendanceRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: "/v1/attendances", Roles: rolesFront, Summary: "Record an arrival (walk-in or NHS 111)", Body: cluster.AttendanceCreate{}, Handler: (*server).createAttendance},
		{Method: "GET", Path: "/v1/attendances", Roles: []string{cluster.RoleReception, cluster.RoleClinician}, Summary: "List attendances by arrival", Query: []string{"status", "limit", consistencyQuery}, Handler: (*server).listAttendances},
		{Method: "GET", Path: "/v1/attendances/:id", Roles: rolesAll, Summary: "One attendance", Query: []string{consistencyQuery}, Handler: (*server).getAttendance},
	}
}

// attendanceBody is an attendance as the API returns it: the record plus
// the raft index that created it (stable across idempotent replays).
type attendanceBody struct {
	*cluster.Attendance
	Index uint64 `json:"index"`
}

func renderAttendance(a *cluster.Attendance) attendanceBody {
	return attendanceBody{Attendance: a, Index: a.CreatedIndex}
}

// createAttendance: POST /v1/attendances -> 201 with the attendance.
// Input is decoded strictly and validated here (422, nothing proposed); the
// FSM validates again deterministically.
func (s *server) createAttendance(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req cluster.AttendanceCreate
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	// Validate uses routing's NHS number check, like Apply does.
	if fields := req.Validate(time.Now()); fields != nil {
		return invalid("the attendance is not valid", fields)
	}
	if req.Protocol != "" || (req.Context != nil && req.Context.RegisteredPractice != "") {
		// The practice named must be in the directory, and the protocol
		// must exist in the active set and apply to this patient (Apply
		// checks both again).
		now := time.Now()
		if err := s.localCheck(c, func(v *cluster.View) error {
			if err := v.CheckRegisteredPractice(&req); err != nil {
				return err
			}
			return v.CheckTriageStart(&req, now)
		}); err != nil {
			return handledOK(err)
		}
	}
	p, err := proposal(c, cluster.KindAttendanceCreate, "POST /v1/attendances", body)
	if err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	var a cluster.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		return err
	}
	c.Location("/v1/attendances/" + a.ID)
	return c.Status(http.StatusCreated).JSON(renderAttendance(&a))
}

func (s *server) getAttendance(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var a *cluster.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		a, err = v.Attendance(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	return c.JSON(renderAttendance(a))
}

// attendanceList is the GET /v1/attendances body.
type attendanceList struct {
	Attendances []attendanceBody `json:"attendances"`
}

func (s *server) listAttendances(c *fiber.Ctx) error {
	q := cluster.AttendanceQuery{Status: strings.Clone(c.Query("status"))}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
				Detail: "limit must be a non-negative integer", Errors: map[string]string{"limit": "not a non-negative integer"}}
		}
		q.Limit = n
	}
	var list []*cluster.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		list, err = v.Attendances(q)
		return err
	})
	if handled || err != nil {
		return err
	}
	out := attendanceList{Attendances: make([]attendanceBody, 0, len(list))}
	for _, a := range list {
		out.Attendances = append(out.Attendances, renderAttendance(a))
	}
	return c.JSON(out)
}
