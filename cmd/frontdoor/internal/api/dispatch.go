package api

import (
	"context"
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

// Rapid response dispatches: responders accept or decline, report
// en route / on scene / completed, and follow the live feed. Every write is
// validated here (422, nothing proposed) and again in Apply.

var (
	dispatchReaders = []string{access.RoleReception, access.RoleClinician, access.RoleResponder}
	alertPeople     = []string{access.RoleReception, access.RoleClinician}
)

// dispatchRoutes are the route table's rows of rapid response dispatches (routes.go).
func dispatchRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/dispatches", Roles: dispatchReaders, Scope: scopeTeam, Summary: "Rapid response dispatches (a team's key: its team's only) with their 2-hour clock (referral to on scene) and the share on scene within 2 hours", Query: []string{"status", "service_id", "attendance_id", "open", "limit", consistencyQuery}, Handler: (*server).listDispatches},
		{Method: "GET", Path: "/v1/dispatches/stream", Roles: dispatchReaders, Scope: scopeTeam, Summary: "Server-Sent Events of every dispatch and alert change (a team's key: its team's only; id = <raft index>/<record id>; resumable with Last-Event-ID; ?once=true catches up and ends; a revoked key's stream ends)", Query: []string{"last_event_id", "once"}, Handler: (*server).streamDispatches, Stream: true},
		{Method: "GET", Path: "/v1/dispatches/:id", Roles: dispatchReaders, Scope: scopeTeam, Summary: "One dispatch (a team's key: its team's only): patient, access notes, condition group, observations, delivery, timeline, clock", Query: []string{consistencyQuery}, Handler: (*server).getDispatch},
		{Method: "POST", Path: "/v1/dispatches/:id/accept", Roles: []string{access.RoleResponder}, Scope: scopeTeam, Summary: "A rapid response team accepts a dispatch with its ETA", Body: dispatchAcceptBody{}, Kinds: []cluster.Kind{care.KindDispatchAccept}, Handler: (*server).acceptDispatch},
		{Method: "POST", Path: "/v1/dispatches/:id/decline", Roles: []string{access.RoleResponder}, Scope: scopeTeam, Summary: "A team declines, with a reason: the dispatch escalates to the next eligible team, else ED", Body: dispatchDeclineBody{}, Kinds: []cluster.Kind{care.KindDispatchDecline}, Handler: (*server).declineDispatch},
		{Method: "POST", Path: "/v1/dispatches/:id/status", Roles: []string{access.RoleResponder}, Scope: scopeTeam, Summary: "Report en_route, on_scene (stops the 2-hour clock) or completed with an outcome", Body: dispatchStatusBody{}, Kinds: []cluster.Kind{care.KindDispatchStatus}, Handler: (*server).statusDispatch},
	}
}

// Request bodies.
type dispatchAcceptBody struct {
	ETA time.Time `json:"eta"` // RFC 3339
}

type dispatchDeclineBody struct {
	Reason string `json:"reason"`
}

type dispatchStatusBody struct {
	Status  string `json:"status"`            // en_route | on_scene | completed
	Outcome string `json:"outcome,omitempty"` // with completed: stayed_at_home | admitted | referred
	Note    string `json:"note,omitempty"`
}

// clockView is the two-hour clock as seen now: met / not_met once on scene,
// running or breached before.
type clockView struct {
	State          string  `json:"state"` // running | breached | met | not_met
	ElapsedMinutes float64 `json:"elapsed_minutes"`
}

// dispatchView is a dispatch as the API returns it.
type dispatchView struct {
	*care.Dispatch
	ClockNow clockView `json:"clock_now"`
}

func renderDispatch(d *care.Dispatch, now time.Time) dispatchView {
	cv := clockView{}
	switch {
	case d.Clock.OnSceneAt != nil:
		cv.ElapsedMinutes = d.Clock.OnSceneAt.Sub(d.Clock.ReferralAt).Minutes()
		cv.State = "not_met"
		if d.Clock.Met != nil && *d.Clock.Met {
			cv.State = "met"
		}
	default:
		cv.ElapsedMinutes = now.Sub(d.Clock.ReferralAt).Minutes()
		cv.State = "running"
		if now.After(d.Clock.TargetAt) {
			cv.State = "breached"
		}
	}
	cv.ElapsedMinutes = float64(int(cv.ElapsedMinutes*10)) / 10
	return dispatchView{Dispatch: d, ClockNow: cv}
}

// dispatchList is the GET /v1/dispatches body: the dispatches and the
// two-hour standard so far (completed dispatches on scene within 2 hours).
type dispatchList struct {
	Dispatches []dispatchView `json:"dispatches"`
	Clock      struct {
		Completed       int     `json:"completed"`
		OnSceneWithin2h int     `json:"on_scene_within_2h"`
		Ratio           float64 `json:"ratio"`
		Target          float64 `json:"target"`
	} `json:"clock"`
}

func (s *server) listDispatches(c *fiber.Ctx) error {
	q := care.DispatchQuery{Status: strings.Clone(c.Query("status")), ServiceID: strings.Clone(c.Query("service_id")),
		AttendanceID: strings.Clone(c.Query("attendance_id"))}
	switch c.Query("open") {
	case "", "false":
	case "true":
		q.OpenOnly = true
	default:
		return badRequest("open must be true or false")
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
				Detail: "limit must be a non-negative integer", Errors: map[string]string{"limit": "not a non-negative integer"}}
		}
		q.Limit = n
	}
	if team := teamScope(c); team != "" {
		if q.ServiceID != "" && q.ServiceID != team {
			return teamForbidden(team, "the dispatches of "+q.ServiceID)
		}
		q.ServiceID = team
	}
	var list []*care.Dispatch
	var st care.DispatchStats
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		if list, err = care.In(v).Dispatches(q); err != nil {
			return err
		}
		st, err = care.In(v).DispatchStats()
		return err
	})
	if handled || err != nil {
		return err
	}
	now := time.Now().UTC()
	var out dispatchList
	out.Dispatches = make([]dispatchView, 0, len(list))
	for _, d := range list {
		out.Dispatches = append(out.Dispatches, renderDispatch(d, now))
	}
	out.Clock.Completed, out.Clock.OnSceneWithin2h, out.Clock.Ratio, out.Clock.Target = st.Completed, st.CompletedWithin, st.Ratio(), 0.7
	return c.JSON(out)
}

func (s *server) getDispatch(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var d *care.Dispatch
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		d, err = care.In(v).Dispatch(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	if team := teamScope(c); team != "" && d.ServiceID != team {
		return teamForbidden(team, "dispatch "+id)
	}
	s.reads.noteAttendance(c, d.AttendanceID, "") // the patient's details and access notes
	return c.JSON(renderDispatch(d, time.Now().UTC()))
}

// teamScope is the rapid response team whose dispatches the caller may
// read: a responder key scoped to a team reads that team's dispatches only
// (its access notes are no other team's business); "" reads every team's
// (reception, clinicians, admin and unscoped responder keys).
func teamScope(c *fiber.Ctx) string {
	if a := actorFor(c); a.Role == access.RoleResponder {
		return a.ServiceID
	}
	return ""
}

// teamForbidden is the answer to a team-scoped key asking for another
// team's dispatch.
func teamForbidden(team, what string) *Problem {
	return &Problem{Type: problemForbidden, Title: "Not allowed", Status: http.StatusForbidden,
		Detail: fmt.Sprintf("this key reads only the dispatches of %s, not %s", team, what)}
}

// forTeam reports whether a dispatch stream event (a dispatch or an alert,
// both carrying service_id) belongs to team ("": every event does).
func forTeam(ev *care.DispatchEvent, team string) bool {
	if team == "" {
		return true
	}
	var rec struct {
		ServiceID string `json:"service_id"`
	}
	return json.Unmarshal(ev.Data, &rec) == nil && rec.ServiceID == team
}

// dispatchCommand proposes a dispatch command and answers with the dispatch.
// A team's key is refused another team's dispatch here, on the local copy,
// without a log entry; Apply decides it again (Dispatch.CanActFor).
func (s *server) dispatchCommand(c *fiber.Ctx, kind cluster.Kind, route string, payload any) error {
	if team := teamScope(c); team != "" {
		id := strings.Clone(c.Params("id"))
		var d *care.Dispatch
		err := s.store.Read(c.UserContext(), cluster.ConsistencyStale, func(v *cluster.View) error {
			var err error
			d, err = care.In(v).Dispatch(id)
			return err
		})
		if err == nil && d.ServiceID != team {
			return teamForbidden(team, "dispatch "+id)
		}
	}
	res, handled, err := s.proposeJSON(c, kind, route, payload)
	if handled || err != nil {
		return err
	}
	var d care.Dispatch
	if err := json.Unmarshal(res.Value, &d); err != nil {
		return err
	}
	return c.JSON(renderDispatch(&d, time.Now().UTC()))
}

func (s *server) acceptDispatch(c *fiber.Ctx) error {
	var in dispatchAcceptBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.DispatchAccept{DispatchID: strings.Clone(c.Params("id")), ETA: in.ETA}
	if f := cmd.Validate(time.Now()); f != nil {
		return invalid("the acceptance is not valid", f)
	}
	return s.dispatchCommand(c, care.KindDispatchAccept, "POST /v1/dispatches/{id}/accept", &cmd)
}

func (s *server) declineDispatch(c *fiber.Ctx) error {
	var in dispatchDeclineBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.DispatchDecline{DispatchID: strings.Clone(c.Params("id")), Reason: in.Reason}
	if f := cmd.Validate(); f != nil {
		return invalid("the decline is not valid", f)
	}
	return s.dispatchCommand(c, care.KindDispatchDecline, "POST /v1/dispatches/{id}/decline", &cmd)
}

func (s *server) statusDispatch(c *fiber.Ctx) error {
	var in dispatchStatusBody
	if err := decodeStrict(c.Body(), &in); err != nil {
		return err
	}
	cmd := care.DispatchStatusChange{DispatchID: strings.Clone(c.Params("id")), Status: in.Status, Outcome: in.Outcome, Note: in.Note}
	if f := cmd.Validate(); f != nil {
		return invalid("the status is not valid", f)
	}
	return s.dispatchCommand(c, care.KindDispatchStatus, "POST /v1/dispatches/{id}/status", &cmd)
}

// streamDispatches: GET /v1/dispatches/stream, Server-Sent Events of every
// dispatch change ("dispatch" events whose data is the dispatch) and alert
// change ("alert" events: raised, acknowledged). Event ids are
// "<raft index, 20 digits>/<dispatch or alert id>"; a client reconnecting with
// Last-Event-ID (or ?last_event_id=) gets every change after it. Without
// one the stream starts at the current applied index (a "ready" event whose
// id is that index; a bare index is also accepted as Last-Event-ID).
// ?once=true sends what is there and ends (catch-up polling). Apply never
// waits for a reader: changes are records in state, and readers wake on the
// FSM's applied-index notification.
func (s *server) streamDispatches(c *fiber.Ctx) error {
	after, fresh, err := dispatchCursor(c)
	if err != nil {
		return err
	}
	once := c.Query("once") == "true"
	team := teamScope(c)
	valid := s.keyStillValid(c)
	release, err := s.streamSlot(c)
	if err != nil {
		return err
	}
	store := s.store
	waiter, _ := store.(applyWaiter)
	startStream(c, release, func(w *sseWriter) {
		// Something at once, so the headers go out even when a resumed
		// stream has nothing new yet.
		if _, err := w.WriteString(": connected\n\n"); err != nil {
			return
		}
		end := time.Now().Add(streamMaxLife)
		for time.Now().Before(end) {
			if !valid() {
				endRevoked(w)
				return
			}
			var evs []care.DispatchEvent
			var applied uint64
			err := store.Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
				var err error
				if applied, err = v.AppliedIndex(); err != nil {
					return err
				}
				if fresh {
					return nil
				}
				evs, err = care.In(v).DispatchEvents(after, streamBatch)
				return err
			})
			if err != nil {
				return
			}
			if !fresh && cursorIndex(after)+care.DispatchEventWindow < applied {
				// Events after the cursor may have been pruned: start again.
				fresh = true
				fmt.Fprintf(w, "id: %d\nevent: reset\ndata: {\"index\":%d,\"reason\":\"too far behind: reload GET /v1/dispatches\"}\n\n", applied, applied)
				evs = nil
			}
			if fresh {
				fresh = false
				after = indexCursor(applied)
				fmt.Fprintf(w, "id: %d\nevent: ready\ndata: {\"index\":%d}\n\n", applied, applied)
			}
			for i := range evs {
				ev := &evs[i]
				if forTeam(ev, team) {
					fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
				}
				after = ev.ID
			}
			if err := w.flush(); err != nil {
				return // the client went away
			}
			if len(evs) == streamBatch {
				continue
			}
			// Every event up to applied has been sent: move the cursor there
			// so an idle reader does not fall behind the pruning window.
			after = indexCursor(applied)
			if once {
				return
			}
			if !waitForApply(w, waiter, applied+1, streamKeepAlive) {
				return
			}
		}
	})
	return nil
}

// cursorIndex is the raft index a cursor points at.
func cursorIndex(cursor string) uint64 {
	n, _ := strconv.ParseUint(strings.SplitN(cursor, "/", 2)[0], 10, 64)
	return n
}

// indexCursor is the stream position just after every event of index.
func indexCursor(index uint64) string { return fmt.Sprintf("%020d/\xff", index) }

// dispatchCursor reads Last-Event-ID: a dispatch event id, or a bare raft
// index (the "ready" event's id). fresh is true without one.
func dispatchCursor(c *fiber.Ctx) (after string, fresh bool, err error) {
	v := strings.TrimSpace(c.Get("Last-Event-ID"))
	if v == "" {
		v = strings.TrimSpace(c.Query("last_event_id"))
	}
	if v == "" {
		return "", true, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return indexCursor(n), false, nil
	}
	if err := care.ParseDispatchEventID(v); err != nil {
		return "", false, badRequest("Last-Event-ID must be a dispatch event id (<index>/<dispatch id>) or a raft index")
	}
	return strings.Clone(v), false, nil
}
