package api

import (
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"
	"github.com/valyala/fasthttp"
)

// headerForwarded marks a request a follower forwarded to the leader. A
// forwarded request that meets a non-leader again is answered 503 rather
// than forwarded on, so a stale leader view can never make a loop.
const headerForwarded = "X-Frontdoor-Forwarded"

// forward reverse-proxies the request to the leader's HTTP address and
// answers exactly as the leader answered. mutating says whether the request
// may change state: if the connection breaks after it was sent, its outcome
// is unknown (503 outcome-unknown); a read, or a request that never reached
// the leader, is 503 not-accepted.
func (s *server) forward(c *fiber.Ctx, mutating bool) error {
	if c.Get(headerForwarded) != "" {
		return notAccepted("forwarded to a node that is not the leader; leadership is changing")
	}
	li, ok := s.store.Leader()
	if !ok || li.HTTPAddr == "" {
		return notAccepted("no leader known")
	}
	if li.ID == s.selfID {
		// The store said "not leader" but believes it is: leadership is
		// changing under us. Do not forward to ourselves.
		return notAccepted("leadership is changing")
	}
	c.Request().Header.Set(headerForwarded, "1")
	url := "http://" + li.HTTPAddr + c.OriginalURL()
	err := proxy.DoTimeout(c, url, s.fwdTO, s.forwarder)
	if err == nil {
		return nil
	}
	c.Response().Reset()
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
