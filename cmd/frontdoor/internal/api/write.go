package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// headerIdempotencyKey names a client's retry key; every POST accepts it.
const headerIdempotencyKey = "Idempotency-Key"

const maxIdempotencyKeyLen = 255

// proposal builds the Proposal for a validated write. body must already be
// a copy (not fiber's buffer, which is reused after the handler returns).
func proposal(c *fiber.Ctx, kind cluster.Kind, route string, body []byte) (cluster.Proposal, error) {
	p := cluster.Proposal{Kind: kind, Actor: actorFor(c), Payload: body}
	if key := c.Get(headerIdempotencyKey); key != "" {
		if len(key) > maxIdempotencyKeyLen {
			return p, invalid("Idempotency-Key too long", map[string]string{headerIdempotencyKey: "at most 255 characters"})
		}
		sum := sha256.Sum256(body)
		p.Idempotency = &cluster.Idempotency{Key: keyOf(p.Actor, key), Route: route, BodyHash: hex.EncodeToString(sum[:])}
	}
	return p, nil
}

// keyOf scopes a client's retry key (an Idempotency-Key, a BaRS message
// id or X-Request-Id) to the API key that sent it: another key using the
// same value makes its own write, and never gets the first key's answer
// (which would show it another sender's patients and ids).
func keyOf(actor cluster.Actor, key string) string {
	return fmt.Sprintf("%d:%s/%s", len(actor.ID), actor.ID, key)
}

// proposeJSON proposes payload, encoded as JSON, as a command of kind made
// by this request (actor, Idempotency-Key over the encoded payload); see
// propose for res and handled.
func (s *server) proposeJSON(c *fiber.Ctx, kind cluster.Kind, route string, payload any) (res *cluster.Result, handled bool, err error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, false, err
	}
	p, err := proposal(c, kind, route, b)
	if err != nil {
		return nil, false, err
	}
	return s.propose(c, p)
}

// propose runs a proposal on this node, or on the leader when this node is
// a follower (forwardProposal): either way the handler goes on with the
// Result. handled is true when the request was proxied whole to the leader
// and the leader's answer is already in the response; otherwise exactly one
// of res and err is set.
func (s *server) propose(c *fiber.Ctx, p cluster.Proposal) (res *cluster.Result, handled bool, err error) {
	row := routeOf(c)
	if row == nil || !row.proposes(p.Kind) {
		return nil, false, fmt.Errorf("propose %s: not a kind the route's row lists (routes.go Kinds)", p.Kind)
	}
	res, err = s.proposeHere(c, p)
	if errors.Is(err, cluster.ErrNotLeader) {
		res, handled, err = s.forwardProposal(c, row, p)
	}
	switch {
	case handled || err != nil:
		return nil, handled, err
	case res.Err != nil:
		return nil, false, commandProblem(res.Err)
	}
	return res, false, nil
}

// proposeHere runs a proposal on this node's store, within the request
// timeout. ErrNotLeader is returned as it is, for the caller to forward or
// refuse.
func (s *server) proposeHere(c *fiber.Ctx, p cluster.Proposal) (*cluster.Result, error) {
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	res, err := s.store.Propose(ctx, p)
	if errors.Is(err, context.DeadlineExceeded) {
		// The entry may be in raft's pipeline: say so, so the client
		// retries with its key rather than assuming nothing happened.
		return nil, outcomeUnknown("the proposal timed out: " + err.Error())
	}
	return res, err
}

// read runs fn under the request's ?consistency= on this node, or forwards
// the request to the leader (handled true) when the level needs it.
func (s *server) read(c *fiber.Ctx, fn func(v *cluster.View) error) (handled bool, err error) {
	cons, err := cluster.ParseConsistency(strings.Clone(c.Query("consistency")))
	if err != nil {
		return false, &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
			Detail: err.Error(), Errors: map[string]string{"consistency": "must be stale, leader or linearizable"}}
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.reqTO)
	defer cancel()
	err = s.store.Read(ctx, cons, fn)
	if errors.Is(err, cluster.ErrNotLeader) {
		return true, s.forward(c, false)
	}
	return false, err
}
