package api

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// FuzzForwardedAtLeader is what a leader does with a POST
// /v1/cluster/forward body before proposing it: decodeForwarded, then
// checkForwarded against the caller's key (role, and whether its id is the
// one the follower named). Properties: no panic; a body is refused with an
// error or decoded into fields within the wire limit that do not alias the
// body (fiber reuses it); a proposal the leader accepts is one the key
// could have made by calling the leader directly: its route is a keyed row
// that lets the role in and proposes the kind, the actor is the caller,
// and an Idempotency-Key's route is of that row and of no other proposing
// row (a retry cannot replay another route's answer), with a key of at
// most 255 bytes; a refusal is a 403 or 422 problem.
func FuzzForwardedAtLeader(f *testing.F) {
	roles := []string{access.RoleAdmin, access.RoleReception, access.RoleClinician, access.RoleNHS111, access.RoleResponder, "system"}
	add := func(fp *forwardedProposal, role uint8, sameActor bool) { f.Add(encodeForwarded(fp), role, sameActor) }
	add(&forwardedProposal{Route: "POST /v1/attendances", ActorID: "k1", Kind: "attendance.create", Payload: []byte(`{"complaint":"cut hand"}`)}, 1, true)
	add(&forwardedProposal{Route: "POST /v1/attendances/:id/answers", ActorID: "k2", Kind: "attendance.answer",
		Idempotency: &cluster.Idempotency{Key: "retry-1", Route: "POST /v1/attendances/A1/answers", BodyHash: "ab"}, Payload: []byte(`{}`)}, 2, true)
	add(&forwardedProposal{Route: "POST /v1/attendances/:id/answers", ActorID: "k2", Kind: "attendance.answer",
		Idempotency: &cluster.Idempotency{Key: "retry-1", Route: "POST /v1/attendances/A1/patient", BodyHash: "ab"}}, 2, true)
	add(&forwardedProposal{Route: "POST /v1/keys", ActorID: "k3", Kind: "key.create", Payload: []byte(`{"name":"x","role":"admin"}`)}, 1, true)
	add(&forwardedProposal{Route: "POST /v1/keys", ActorID: "k3", Kind: "key.create"}, 0, true)
	add(&forwardedProposal{Route: "DELETE /v1/keys/:id", ActorID: "k4", Kind: "key.revoke",
		Idempotency: &cluster.Idempotency{Key: "d", Route: "DELETE /v1/keys/abc"}}, 0, true)
	add(&forwardedProposal{Route: "POST /v1/dispatches/:id/accept", ActorID: "k5", Kind: "dispatch.accept", Payload: []byte(`{}`)}, 4, false)
	add(&forwardedProposal{Route: "POST /v1/cluster/join", ActorID: "k6", Kind: "cluster.node_register"}, 0, true)
	add(&forwardedProposal{Route: "POST /v1/attendances", ActorID: "k1", Kind: "key.create"}, 0, true)
	f.Add([]byte{}, uint8(0), true)
	f.Add([]byte{forwardWireV1, 0x81, 0x08}, uint8(0), true)
	s := &server{routes: map[string]*routeRow{}}
	rows := routeTable()
	for i := range rows {
		s.routes[rowKey(rows[i].Method, rows[i].Path)] = &rows[i]
	}
	f.Fuzz(func(t *testing.T, body []byte, role uint8, sameActor bool) {
		orig := bytes.Clone(body)
		fp, err := decodeForwarded(body)
		if err != nil {
			if fp != nil {
				t.Fatalf("refused with %v, yet returned %+v", err, fp)
			}
			return
		}
		for _, s := range []string{fp.Route, fp.ActorID, string(fp.Kind)} {
			if len(s) > maxWireString {
				t.Fatalf("field of %d bytes decoded, limit %d", len(s), maxWireString)
			}
		}
		if fp.Idempotency != nil {
			for _, s := range []string{fp.Idempotency.Key, fp.Idempotency.Route, fp.Idempotency.BodyHash} {
				if len(s) > maxWireString {
					t.Fatalf("idempotency field of %d bytes decoded, limit %d", len(s), maxWireString)
				}
			}
		}
		before := *fp
		if fp.Idempotency != nil {
			idem := *fp.Idempotency
			before.Idempotency = &idem
		}
		before.Payload = bytes.Clone(fp.Payload)
		for i := range body {
			body[i] ^= 0xa5 // fiber reuses the body's buffer
		}
		if !reflect.DeepEqual(*fp, before) {
			t.Fatalf("the decoded proposal aliases the body: %+v became %+v", before, *fp)
		}
		copy(body, orig)

		actor := cluster.Actor{ID: fp.ActorID, Role: roles[int(role)%len(roles)]}
		if !sameActor {
			actor.ID += "-other"
		}
		err = s.checkForwarded(fp, actor)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || (p.Status != 403 && p.Status != 422) {
				t.Fatalf("%+v: refusal %v is not a 403/422 problem", fp, err)
			}
			return
		}
		row := s.routes[fp.Route]
		switch {
		case row == nil || row.Access != accessKey:
			t.Fatalf("accepted a proposal for %q, not a keyed route", fp.Route)
		case fp.ActorID != actor.ID:
			t.Fatalf("accepted a proposal naming actor %q from key %q", fp.ActorID, actor.ID)
		case !row.allows(actor.Role):
			t.Fatalf("accepted %s from role %s", fp.Route, actor.Role)
		case !row.proposes(fp.Kind):
			t.Fatalf("accepted kind %s on %s", fp.Kind, fp.Route)
		}
		if fp.Idempotency == nil {
			return
		}
		if len(fp.Idempotency.Key) > maxIdempotencyKeyLen {
			t.Fatalf("accepted an Idempotency-Key of %d bytes", len(fp.Idempotency.Key))
		}
		var matches []string
		for i := range rows {
			if len(rows[i].Kinds) > 0 && idempotencyRouteOf(&rows[i], fp.Idempotency.Route) {
				matches = append(matches, rowKey(rows[i].Method, rows[i].Path))
			}
		}
		if len(matches) != 1 || matches[0] != fp.Route {
			t.Fatalf("Idempotency route %q of %s is the route of %v", fp.Idempotency.Route, fp.Route, matches)
		}
	})
}
