package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// queueRoutes are the route table's rows of the queue and its stream (routes.go).
func queueRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/queue", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Attendances waiting, by clinical priority then arrival (awaiting the clinician first among non-emergencies, soonest due first); ?stream=clinician_callback is the clinician's call-back worklist (clinician_now the walk-ins); served from local state (stale: true) without quorum while this node's key lease lasts", Query: []string{"stream"}, Handler: (*server).getQueue},
		{Method: "GET", Path: "/v1/queue/stream", Roles: []string{access.RoleReception, access.RoleClinician}, Summary: "Server-Sent Events of queue changes (event id = raft index; resumable with Last-Event-ID)", Query: []string{"last_event_id", "max_seconds"}, Handler: (*server).streamQueue, Stream: true},
	}
}

// headerStale marks an answer served from this node's local state while it
// knows no leader (no quorum): it may be behind, but reception can work
// from it during an outage.
const headerStale = "X-Frontdoor-Stale"

// queueBody is the GET /v1/queue body.
type queueBody struct {
	Stale       bool      `json:"stale"`
	Index       uint64    `json:"index"` // applied index of the state shown; resume the stream from it
	GeneratedAt time.Time `json:"generated_at"`
	// Stream: the filter asked for (?stream=): the entries are that
	// clinician worklist only, soonest due first.
	Stream  string            `json:"stream,omitempty"`
	Entries []care.QueueEntry `json:"entries"`
	// Expected: announced by NHS 111, not yet checked in (not in Entries).
	Expected []care.QueueEntry `json:"expected"`
}

// getQueue: GET /v1/queue. Always a local read, so it works without a
// leader; marked stale when this node knows no leader.
func (s *server) getQueue(c *fiber.Ctx) error {
	q := care.QueueQuery{Stream: strings.Clone(c.Query("stream"))}
	switch q.Stream {
	case "", triage.StreamClinicianNow, triage.StreamClinicianCallback:
	default:
		return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
			Detail: "stream must be clinician_now or clinician_callback",
			Errors: map[string]string{"stream": "must be clinician_now or clinician_callback"}}
	}
	_, hasLeader := s.store.Leader()
	now := s.queueNow()
	out := queueBody{Stale: !hasLeader, GeneratedAt: now, Stream: q.Stream}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	err := s.store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		if out.Index, err = v.AppliedIndex(); err != nil {
			return err
		}
		if out.Entries, err = care.In(v).QueueFiltered(now, q); err != nil {
			return err
		}
		if q.Stream != "" {
			out.Expected = []care.QueueEntry{}
			return nil
		}
		out.Expected, err = care.In(v).Expected(now)
		return err
	})
	if err != nil {
		return err
	}
	if out.Stale {
		c.Set(headerStale, "true")
		c.Set("Warning", `110 - "Response is Stale"`)
	}
	return c.JSON(out)
}

// queueNow is the clock waiting times are measured against: the wall clock,
// or the FSM clock if that is ahead (a test cluster on an injected clock).
func (s *server) queueNow() time.Time {
	now := time.Now().UTC()
	if fc := s.store.Status().FSMClock; fc.After(now) {
		now = fc
	}
	return now
}
