package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// maxSlotWindow bounds a Slot search.
const maxSlotWindow = 14 * 24 * time.Hour

// fhirSlots: GET /fhir/R4/Slot?status=free[,busy]&start=geT1&start=leT2
// (gt and lt leave the bound itself out) with NHSD-Target-Identifier
// naming the service: its sessions starting in the window and not yet
// over, each free while a place is left, from the directory and the slots
// taken in state.
func (s *server) fhirSlots(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c, headerTargetIdentifier); err != nil {
		return err
	}
	target, err := targetIdentifier(c)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, st := range strings.Split(strings.Clone(c.Query("status", "free")), ",") {
		switch st = strings.TrimSpace(st); st {
		case "free", "busy":
			want[st] = true
		default:
			return bars.BadRequest(fhir.IssueTypeValue, "status", "status is free, busy or free,busy")
		}
	}
	var from, to time.Time
	var afterFrom, beforeTo bool // gt, lt: the bound itself is out
	for _, v := range c.Context().QueryArgs().PeekMulti("start") {
		p := string(v)
		if len(p) < 3 {
			return bars.BadRequest(fhir.IssueTypeValue, "start", "start is ge<dateTime> or le<dateTime> (and gt, lt)")
		}
		t, err := time.Parse(time.RFC3339, p[2:])
		day := false
		if err != nil {
			// A FHIR date (no time) is the whole UK day: ge from its
			// start, le to its end, gt after its end, lt before its start.
			if t, err = time.ParseInLocation(time.DateOnly, p[2:], routing.London); err != nil {
				return bars.BadRequest(fhir.IssueTypeValue, "start", "start needs a FHIR date or a dateTime with an offset, e.g. ge2026-12-06 or ge2026-12-06T08:00:00+00:00")
			}
			day = true
		}
		switch op := p[:2]; {
		case day && (op == "ge" || op == "gt"):
			if op == "gt" {
				t = t.AddDate(0, 0, 1)
			}
			from, afterFrom = t, false
		case day && (op == "le" || op == "lt"):
			if op == "le" {
				t = t.AddDate(0, 0, 1)
			}
			to, beforeTo = t, true
		case op == "ge" || op == "gt":
			from, afterFrom = t, op == "gt"
		case op == "le" || op == "lt":
			to, beforeTo = t, op == "lt"
		default:
			return bars.BadRequest(fhir.IssueTypeValue, "start", "start takes the prefix ge, gt, le or lt")
		}
	}
	if from.IsZero() || to.IsZero() {
		return bars.BadRequest(fhir.IssueTypeRequired, "start", "give the window twice: start=ge<dateTime>&start=le<dateTime>")
	}
	if !to.After(from) {
		return bars.BadRequest(fhir.IssueTypeValue, "start", "the window must end after it starts")
	}
	if to.Sub(from) > maxSlotWindow {
		// BaRS: a search too costly to answer is 422 too-costly.
		return &bars.Error{Status: http.StatusUnprocessableEntity, Issues: []bars.Issue{{Code: fhir.IssueTypeTooCostly, Expression: "start",
			Diagnostics: "the window lasts at most 14 days"}}}
	}
	var sessions []routing.SessionSlots
	var name string
	handled, err := s.read(c, func(v *cluster.View) error {
		svcID, err := care.ResolveTarget(v, target)
		if err != nil {
			return err
		}
		svc, err := directory.In(v).Service(svcID)
		if err != nil {
			return err
		}
		name = svc.Name
		dir, err := directory.In(v).Directory()
		if err != nil || dir == nil {
			return err
		}
		load, err := directory.LoadAt(v, from)
		if err != nil {
			return err
		}
		sessions, err = routing.Sessions(dir, load, svcID, from, to.Add(time.Second))
		return err
	})
	if handled {
		return err
	}
	var ce *cluster.CommandError
	if errors.As(err, &ce) {
		return commandProblem(ce)
	} else if err != nil {
		return err
	}
	var list []any
	now := time.Now()
	for _, ss := range sessions {
		if (afterFrom && ss.Start.Equal(from)) || (beforeTo && ss.Start.Equal(to)) || !ss.End.After(now) {
			continue // outside a strict bound, or over: nobody can be booked into it
		}
		if st := map[bool]string{true: "free", false: "busy"}[ss.Free() > 0]; want[st] {
			list = append(list, bars.Slot(ss, name))
		}
	}
	b, err := bars.SearchSet(clientBaseURL(c)+c.OriginalURL(), list)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}

// fhirAppointment: GET /fhir/R4/Appointment/{id} (frontdoor's id or the
// sender's), audited as a read of the patient's record.
func (s *server) fhirAppointment(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	ap, done, err := readFHIR(s, c, "Appointment "+id, func(v *cluster.View) (*care.Appointment, error) {
		return appointmentByAnyID(v, id)
	})
	if done {
		return err
	}
	s.reads.noteAttendance(c, ap.AttendanceID, ap.PatientID)
	return fhirJSON(c, bars.Appointment(ap))
}
