package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// attendanceRoutes are the route table's rows of attendances (routes.go).
func attendanceRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: "/v1/attendances", Roles: rolesFront, Summary: "Record an arrival (walk-in or NHS 111)", Body: care.AttendanceCreate{}, Kinds: []cluster.Kind{care.KindAttendanceCreate}, Handler: (*server).createAttendance},
		{Method: "GET", Path: "/v1/attendances", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "List attendances by arrival", Query: []string{"status", "limit", consistencyQuery}, Handler: (*server).listAttendances},
		{Method: "GET", Path: "/v1/attendances/:id", Roles: rolesAll, Scope: scopeTeam, Summary: "One attendance", Query: []string{consistencyQuery}, Handler: (*server).getAttendance},
	}
}

// attendanceBody is an attendance as the API returns it: the record plus
// the raft index that created it (stable across idempotent replays).
type attendanceBody struct {
	*care.Attendance
	Index uint64 `json:"index"`
}

func renderAttendance(a *care.Attendance) attendanceBody {
	return attendanceBody{Attendance: a, Index: a.CreatedIndex}
}

// attendanceResponse is attendanceBody's JSON made from an attendance's
// JSON as a command returned it (Result.Value): the same bytes as encoding
// the decoded attendance with the index, without decoding and encoding
// the attendance again.
func attendanceResponse(value []byte, index uint64) ([]byte, error) {
	v := bytes.TrimRight(value, " \t\r\n")
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, fmt.Errorf("attendance result is not a JSON object: %.40q", value)
	}
	out := make([]byte, 0, len(v)+32)
	out = append(out, v[:len(v)-1]...)
	if len(v) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"index":`...)
	out = strconv.AppendUint(out, index, 10)
	return append(out, '}'), nil
}

// sendAttendance answers with attendanceResponse.
func sendAttendance(c *fiber.Ctx, value []byte, index uint64) error {
	b, err := attendanceResponse(value, index)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// attendanceID reads the id of an attendance's JSON as a command returned it.
// The id is its first field, which the commands write as a plain ULID:
// read there, without decoding the kilobytes after it; anything else is
// decoded.
func attendanceID(value []byte) (string, error) {
	if rest, ok := bytes.CutPrefix(value, []byte(`{"id":"`)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			return string(rest[:i]), nil
		}
	}
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(value, &a); err != nil || a.ID == "" {
		return "", fmt.Errorf("attendance result without an id: %v", err)
	}
	return a.ID, nil
}

// createAttendance: POST /v1/attendances -> 201 with the attendance.
// Input is decoded strictly and validated here (422, nothing proposed); the
// FSM validates again deterministically.
func (s *server) createAttendance(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req care.AttendanceCreate
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	// Validate uses routing's NHS number check, like Apply does. What
	// depends on state (the practice named is in the directory, the
	// protocol exists and applies) the leader checks after the
	// Idempotency-Key lookup (care's checkAttendanceCreate).
	if fields := req.Validate(time.Now()); fields != nil {
		return invalid("the attendance is not valid", fields)
	}
	p, err := proposal(c, care.KindAttendanceCreate, "POST /v1/attendances", body)
	if err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	id, err := attendanceID(res.Value)
	if err != nil {
		return err
	}
	c.Location("/v1/attendances/" + id)
	// The index of a new attendance is its created_index: the entry's.
	return s.sendWritten(c.Status(http.StatusCreated), res)
}

// sendWritten answers a write with the attendance its command returned. A
// retry (Replayed) gets the attendance as it is now (cluster/resource.go),
// which may hold what others have written since: like a GET, it is
// recorded as a read of the attendance and of its patient's record.
func (s *server) sendWritten(c *fiber.Ctx, res *cluster.Result) error {
	if res.Replayed {
		var a struct {
			ID        string `json:"id"`
			PatientID string `json:"patient_id"`
		}
		if err := json.Unmarshal(res.Value, &a); err == nil && a.ID != "" {
			s.reads.noteAttendance(c, a.ID, a.PatientID)
		}
	}
	return sendAttendance(c, res.Value, res.Index)
}

func (s *server) getAttendance(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	team := teamScope(c)
	var a *care.Attendance
	ours := true
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		if a, err = care.In(v).Attendance(id); err != nil || team == "" {
			return err
		}
		// A team's key reads only the attendances dispatched to its team.
		ds, err := care.In(v).Dispatches(care.DispatchQuery{AttendanceID: id, ServiceID: team, Limit: 1})
		ours = len(ds) > 0
		return err
	})
	if handled || err != nil {
		return err
	}
	if !ours {
		return teamForbidden(team, "attendance "+id+" (no dispatch of it to this team)")
	}
	s.reads.noteAttendance(c, a.ID, a.PatientID)
	return c.JSON(renderAttendance(a))
}

// attendanceList is the GET /v1/attendances body.
type attendanceList struct {
	Attendances []attendanceBody `json:"attendances"`
}

func (s *server) listAttendances(c *fiber.Ctx) error {
	q := care.AttendanceQuery{Status: strings.Clone(c.Query("status"))}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
				Detail: "limit must be a non-negative integer", Errors: map[string]string{"limit": "not a non-negative integer"}}
		}
		q.Limit = n
	}
	var list []*care.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		list, err = care.In(v).Attendances(q)
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
