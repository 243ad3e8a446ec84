package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/peerpipe"
)

// Forwarding a proposal. A follower that serves a write validates it and
// builds its Proposal as the leader would, then sends only that (kind,
// payload, Idempotency-Key, and the route it served) to the leader's
// POST /v1/cluster/forward with the caller's Authorization header, over a
// pipe (peerpipe: one connection carries every write in flight, where
// HTTP/1.1 took a connection per write in flight, at most forwardConns,
// and a write and a read per write; creates through the load tool rose by
// about a tenth at C=16 and C=128, README) or, to a leader of an earlier
// release, over its kept-alive HTTP connections. The leader proposes it and answers with
// the Result, and the follower's handler goes on as if it had proposed
// locally, so the client gets byte for byte the leader's answer.
//
// The endpoint is reachable by anyone who can reach the node, so the
// leader trusts nothing the body claims about who asks: it authenticates
// the caller's key itself and proposes as that key's holder; the route
// must be a keyed write the key's role may call, the kind one that route
// proposes, and the Idempotency route that route's. A forwarded proposal
// can do nothing the same key could not do by calling the leader directly;
// Apply decodes and validates every payload again, as it does for the
// leader's own.

const (
	forwardPath           = "/v1/cluster/forward"
	mimeForwardedProposal = "application/vnd.frontdoor.proposal"
	mimeForwardedResult   = "application/vnd.frontdoor.result"
	// headerForwardProtocol is on every answer of POST /v1/cluster/forward:
	// without it the leader does not serve the endpoint (an older binary,
	// during a rolling upgrade) and nothing was proposed.
	headerForwardProtocol = "X-Frontdoor-Forward"
	forwardProtocolV1     = "1"
)

// forwardRoutes is the route table's row of the node-to-node endpoint
// (routes.go).
func forwardRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: forwardPath, Access: accessForwarded,
			Summary: "Node to node: a follower's proposal for the leader, under the caller's key, checked against the route it names",
			Handler: (*server).acceptForwarded},
	}
}

// forwardProposal sends p, built by this follower for row, to the leader
// and returns the leader's Result. handled is true when the leader does
// not serve the endpoint and the request was proxied whole instead (its
// answer is in the response).
func (s *server) forwardProposal(c *fiber.Ctx, row *routeRow, p cluster.Proposal) (res *cluster.Result, handled bool, err error) {
	li, err := s.forwardTarget(c)
	if err != nil {
		return nil, false, err
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + li.HTTPAddr + forwardPath)
	req.Header.SetMethod(fiber.MethodPost)
	req.Header.SetContentType(mimeForwardedProposal)
	req.Header.Set(headerForwarded, "1")
	req.Header.SetBytesV(fiber.HeaderAuthorization, c.Request().Header.Peek(fiber.HeaderAuthorization))
	req.SetBodyRaw(encodeForwarded(&forwardedProposal{Route: rowKey(row.Method, row.Path), ActorID: p.Actor.ID,
		Kind: p.Kind, Idempotency: p.Idempotency, Payload: p.Payload}))
	if err := s.sendToLeader(li, req, resp); err != nil {
		return nil, false, forwardFailed(li, true, err)
	}
	if string(resp.Header.Peek(headerForwardProtocol)) != forwardProtocolV1 {
		s.log.Debug("the leader does not take forwarded proposals: proxying the request", "leader", li.ID,
			"status", resp.StatusCode())
		return nil, true, s.forward(c, true)
	}
	if resp.StatusCode() != http.StatusOK {
		return nil, false, relayProblem(c, li, resp)
	}
	if res, err = decodeResult(resp.Body()); err != nil {
		return nil, false, outcomeUnknown(fmt.Sprintf("the leader %s answered: %v", li.ID, err))
	}
	return res, false, nil
}

// sendToLeader sends a forwarded proposal to the leader li: over a pipe
// (many at once on one connection, answers in any order), or over the
// kept-alive HTTP connections when there is no pipe dialler or the leader
// does not serve pipes (an earlier release during a rolling upgrade:
// nothing was sent on the pipe).
func (s *server) sendToLeader(li cluster.LeaderInfo, req *fasthttp.Request, resp *fasthttp.Response) error {
	if s.pipeClient != nil {
		err := s.pipeClient.Do(li.HTTPAddr, req, resp, s.fwdTO)
		if !errors.Is(err, peerpipe.ErrUnsupported) {
			return err
		}
		s.log.Debug("the leader does not serve pipes: forwarding over HTTP", "leader", li.ID)
	}
	return s.forwarder.DoTimeout(req, resp, s.fwdTO)
}

// relayProblem is the leader's refusal of a forwarded proposal as this
// node's own answer: the same problem, Retry-After and WWW-Authenticate.
func relayProblem(c *fiber.Ctx, li cluster.LeaderInfo, resp *fasthttp.Response) error {
	var p Problem
	if err := json.Unmarshal(resp.Body(), &p); err != nil || p.Status == 0 {
		// Whatever the leader did is unknown to us.
		return outcomeUnknown(fmt.Sprintf("the leader %s answered %d, not a problem", li.ID, resp.StatusCode()))
	}
	if ra, err := strconv.Atoi(string(resp.Header.Peek(fiber.HeaderRetryAfter))); err == nil {
		p.retryAfter = ra
	}
	if wa := resp.Header.Peek(fiber.HeaderWWWAuthenticate); len(wa) > 0 {
		c.Set(fiber.HeaderWWWAuthenticate, string(wa))
	}
	return &p
}

// acceptForwarded: POST /v1/cluster/forward, on the leader. It answers 200
// with the Result (a command refused by Check or Apply included), or the
// problem the leader would have answered the caller directly.
func (s *server) acceptForwarded(c *fiber.Ctx) error {
	c.Set(headerForwardProtocol, forwardProtocolV1)
	if s.peerOnly && !fromPeer(c) {
		return forbidden("forwarded proposals come from members only, over the raft port's mutual TLS")
	}
	if !s.store.IsLeader() {
		return notAccepted(notLeaderDetail)
	}
	fp, err := decodeForwarded(c.Body())
	if err != nil {
		return badRequest(err.Error())
	}
	actor, found, gen, err := s.keyHolder(c)
	if err != nil {
		return err
	}
	if found && !s.lease.trusts(gen) {
		// A leader that has not yet applied every acknowledged key change
		// (just elected) waits for its lease like any node (keylease.go).
		if actor, found, _, err = s.keyHolderConfirmed(c); err != nil {
			return err
		}
	}
	if !found {
		return unknownKey(c)
	}
	if err := s.checkForwarded(fp, actor); err != nil {
		return err
	}
	res, err := s.proposeHere(c, cluster.Proposal{Kind: fp.Kind, Actor: actor, Payload: fp.Payload, Idempotency: fp.Idempotency})
	if errors.Is(err, cluster.ErrNotLeader) {
		return notAccepted(notLeaderDetail)
	}
	if err != nil {
		return err
	}
	b, err := encodeResult(res)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeForwardedResult)
	return c.Send(b)
}

// fromPeer reports whether the request came over the raft port's
// node-to-node channel (a verified member's certificate).
func fromPeer(c *fiber.Ctx) bool {
	_, ok := c.Context().Conn().(*cluster.PeerConn)
	return ok
}

// checkForwarded refuses (403) a forwarded proposal that actor's key could
// not have made by calling the leader directly.
func (s *server) checkForwarded(fp *forwardedProposal, actor cluster.Actor) error {
	row, ok := s.routes[fp.Route]
	if !ok || row.Access != accessKey || len(row.Kinds) == 0 {
		return forbidden(fmt.Sprintf("%q is not a keyed route that proposes", fp.Route))
	}
	if fp.ActorID != actor.ID {
		return forbidden("the forwarded proposal names another actor than the caller's key")
	}
	if !row.allows(actor.Role) {
		return forbiddenRole(actor.Role, row)
	}
	if !row.proposes(fp.Kind) {
		return forbidden(fmt.Sprintf("%s %s does not propose %s", row.Method, row.Path, fp.Kind))
	}
	if fp.Idempotency != nil && !idempotencyRouteOf(row, fp.Idempotency.Route) {
		return forbidden(fmt.Sprintf("Idempotency route %q is not one of %s %s", fp.Idempotency.Route, row.Method, row.Path))
	}
	if fp.Idempotency != nil && len(fp.Idempotency.Key) > maxIdempotencyKeyLen {
		return invalid("Idempotency-Key too long", map[string]string{headerIdempotencyKey: "at most 255 characters"})
	}
	return nil
}

func forbidden(detail string) *Problem {
	return &Problem{Type: problemForbidden, Title: "Not allowed", Status: http.StatusForbidden, Detail: detail}
}

// idempotencyRouteOf reports whether route, the Route a handler gave an
// Idempotency-Key ("POST /v1/attendances/{id}/answers" or
// "DELETE /v1/keys/abc"), belongs to row: the same method, and the same
// path where each of the row's :parameters stands for one segment. A
// forwarded proposal cannot then replay the first answer of another
// route's write.
func idempotencyRouteOf(row *routeRow, route string) bool {
	method, path, ok := strings.Cut(route, " ")
	if !ok || method != row.Method {
		return false
	}
	want, got := strings.Split(row.Path, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if strings.HasPrefix(want[i], ":") {
			if got[i] == "" {
				return false
			}
			continue
		}
		if want[i] != got[i] {
			return false
		}
	}
	return true
}
