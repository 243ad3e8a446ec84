package api

import (
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// headerForwarded marks a request a follower forwarded to the leader (a
// proxied request, or a forwarded proposal). A forwarded request that meets
// a non-leader again is answered 503 rather than forwarded on, so a stale
// leader view can never make a loop.
const headerForwarded = "X-Frontdoor-Forwarded"

// headerForwardedBase carries the base URL the client asked (scheme and
// host of the node it reached) with a forwarded request, so the links a
// leader writes into its answer (a FHIR searchset's self) name the node
// the client used.
const headerForwardedBase = "X-Frontdoor-Forwarded-Base"

// clientBaseURL is the base URL the client asked: this node's, or for a
// request a follower forwarded, the follower's.
func clientBaseURL(c *fiber.Ctx) string {
	if c.Get(headerForwarded) != "" {
		if b := c.Get(headerForwardedBase); strings.HasPrefix(b, "http://") || strings.HasPrefix(b, "https://") {
			return strings.Clone(b)
		}
	}
	return c.BaseURL()
}

// forward reverse-proxies the request to the leader's HTTP address and
// answers exactly as the leader answered: reads, cluster membership, a key
// this follower does not know yet, and proposals to a leader that does not
// serve POST /v1/cluster/forward (an older binary). A follower's own
// proposals go to the leader already built (forwardProposal). mutating says
// whether the request may change state (see forwardFailed).
func (s *server) forward(c *fiber.Ctx, mutating bool) error {
	li, err := s.forwardTarget(c)
	if err != nil {
		return err
	}
	c.Request().Header.Set(headerForwarded, "1")
	c.Request().Header.Set(headerForwardedBase, c.BaseURL())
	url := "http://" + li.HTTPAddr + c.OriginalURL()
	err = proxy.DoTimeout(c, url, s.fwdTO, s.forwarder)
	if err == nil {
		return nil
	}
	c.Response().Reset()
	return forwardFailed(li, mutating, err)
}

// forwardTarget is the leader this request may be forwarded to. A request
// that was itself forwarded is refused (503 not-accepted) rather than
// forwarded on, so a stale leader view can never make a loop.
func (s *server) forwardTarget(c *fiber.Ctx) (cluster.LeaderInfo, error) {
	if c.Get(headerForwarded) != "" {
		return cluster.LeaderInfo{}, notAccepted(notLeaderDetail)
	}
	li, ok := s.store.Leader()
	if !ok || li.HTTPAddr == "" {
		return cluster.LeaderInfo{}, notAccepted("no leader known")
	}
	if li.ID == s.selfID {
		// The store said "not leader" but believes it is: leadership is
		// changing under us. Do not forward to ourselves.
		return cluster.LeaderInfo{}, notAccepted("leadership is changing")
	}
	return li, nil
}

// notLeaderDetail is the 503 detail of a forwarded request that met a
// node which is not the leader.
const notLeaderDetail = "forwarded to a node that is not the leader; leadership is changing"

// forwardFailed is the answer when forwarding to the leader li failed with
// err: if the connection broke after a request that may change state was
// sent, its outcome is unknown (503 outcome-unknown: the client retries
// with its Idempotency-Key); a read, or a request that never reached the
// leader, is 503 not-accepted.
func forwardFailed(li cluster.LeaderInfo, mutating bool, err error) error {
	if !mutating || neverSent(err) {
		return notAccepted("forwarding to the leader " + li.ID + ": " + err.Error())
	}
	return outcomeUnknown("forwarded to the leader " + li.ID + ", which did not answer: " + err.Error())
}

// neverSent reports whether a forwarding error happened before the request
// could reach the leader (dial failures).
func neverSent(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "dial")
}
