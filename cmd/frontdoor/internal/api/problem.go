package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
)

// Problem types (RFC 9457 "type" members). They are relative URIs, resolved
// against the API's own address; clients compare them as strings.
const (
	problemBadRequest    = "/problems/bad-request" // malformed JSON, bad query parameter
	problemInvalid       = "/problems/invalid"     // validation failed: see errors
	problemNotFound      = "/problems/not-found"   // no such record or route
	problemConflict      = "/problems/conflict"    // the state does not allow it
	problemIdempotency   = "/problems/idempotency-key-reused"
	problemForbidden     = "/problems/forbidden"       // bad or missing join token
	problemNotAccepted   = "/problems/not-accepted"    // nothing was accepted: safe to retry
	problemOutcomeUnkown = "/problems/outcome-unknown" // may have committed: retry with the same Idempotency-Key
	problemUnavailable   = "/problems/unavailable"     // the node cannot serve (stopping, stopped FSM, not ready)
	problemTooLarge      = "/problems/too-large"
	problemInternal      = "/problems/internal"
)

// retryAfterSeconds is the Retry-After sent with 503s: an election on the
// default tuning settles in a second or two.
const retryAfterSeconds = 1

// Problem is an RFC 9457 Problem detail; handlers return it as an error and
// the app's ErrorHandler writes it as application/Problem+json.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail,omitempty"`
	Errors map[string]string `json:"errors,omitempty"` // field path -> reason

	retryAfter int // seconds; 0 -> no Retry-After header
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

func badRequest(detail string) *Problem {
	return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest, Detail: detail}
}

func invalid(detail string, fields map[string]string) *Problem {
	return &Problem{Type: problemInvalid, Title: "Invalid request", Status: http.StatusUnprocessableEntity, Detail: detail, Errors: fields}
}

func notAccepted(detail string) *Problem {
	return &Problem{Type: problemNotAccepted, Title: "Not accepted, safe to retry", Status: http.StatusServiceUnavailable,
		Detail: detail, retryAfter: retryAfterSeconds}
}

func outcomeUnknown(detail string) *Problem {
	return &Problem{Type: problemOutcomeUnkown, Title: "Outcome unknown, retry with the same Idempotency-Key",
		Status: http.StatusServiceUnavailable, Detail: detail, retryAfter: retryAfterSeconds}
}

// commandProblem maps a business failure decided inside Apply.
func commandProblem(e *cluster.CommandError) *Problem {
	switch e.Code {
	case cluster.CodeInvalid:
		return invalid(e.Message, e.Fields)
	case cluster.CodeNotFound:
		return &Problem{Type: problemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: e.Message, Errors: e.Fields}
	case cluster.CodeConflict:
		return &Problem{Type: problemConflict, Title: "Conflict", Status: http.StatusConflict, Detail: e.Message, Errors: e.Fields}
	case access.CodeForbidden:
		return &Problem{Type: problemForbidden, Title: "Not allowed", Status: http.StatusForbidden, Detail: e.Message}
	case cluster.CodeIdempotencyMismatch:
		return &Problem{Type: problemIdempotency, Title: "Idempotency-Key reused with a different request",
			Status: http.StatusUnprocessableEntity, Detail: e.Message}
	}
	return &Problem{Type: problemInvalid, Title: "Command refused", Status: http.StatusUnprocessableEntity, Detail: e.Error(), Errors: e.Fields}
}

// problemFor maps any error a handler returned onto a problem. This is the
// one place where sentinel errors become statuses.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ce *cluster.CommandError
	if errors.As(err, &ce) {
		return commandProblem(ce)
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusNotFound:
			return &Problem{Type: problemNotFound, Title: "Not found", Status: fe.Code, Detail: fe.Message}
		case fiber.StatusRequestEntityTooLarge:
			return &Problem{Type: problemTooLarge, Title: "Request too large", Status: fe.Code, Detail: fe.Message}
		case fiber.StatusMethodNotAllowed:
			return &Problem{Type: problemBadRequest, Title: "Method not allowed", Status: fe.Code, Detail: fe.Message}
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return &Problem{Type: problemBadRequest, Title: http.StatusText(fe.Code), Status: fe.Code, Detail: fe.Message}
		}
		return &Problem{Type: problemInternal, Title: http.StatusText(fe.Code), Status: fe.Code, Detail: fe.Message}
	}
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return &Problem{Type: problemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: err.Error()}
	case errors.Is(err, cluster.ErrBadJoinToken):
		return &Problem{Type: problemForbidden, Title: "Join token refused", Status: http.StatusForbidden, Detail: err.Error()}
	case errors.Is(err, cluster.ErrNodeKey):
		return &Problem{Type: problemConflict, Title: "Node key refused", Status: http.StatusConflict, Detail: err.Error()}
	case errors.Is(err, cluster.ErrOutcomeUnknown):
		return outcomeUnknown(err.Error())
	case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrNotLeader):
		return notAccepted(err.Error())
	case errors.Is(err, cluster.ErrDiskFull), errors.Is(err, cluster.ErrQuarantined):
		return notAccepted(err.Error())
	case errors.Is(err, cluster.ErrUnsupportedKind):
		return notAccepted(err.Error())
	case errors.Is(err, cluster.ErrNotOpen), errors.Is(err, cluster.ErrFatal):
		return &Problem{Type: problemUnavailable, Title: "Node unavailable", Status: http.StatusServiceUnavailable,
			Detail: err.Error(), retryAfter: retryAfterSeconds}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return notAccepted(err.Error())
	}
	return &Problem{Type: problemInternal, Title: "Internal error", Status: http.StatusInternalServerError, Detail: err.Error()}
}

// writeProblem writes p as application/problem+json.
func writeProblem(c *fiber.Ctx, p *Problem) error {
	if p.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(p.retryAfter))
	}
	if isFHIR(c) {
		return writeOutcome(c, outcomeOf(p, p))
	}
	c.Status(p.Status)
	if err := c.JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return nil
}

// errorHandler is the app's single fiber.Config.ErrorHandler.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var be *bars.Error
		if isFHIR(c) && errors.As(err, &be) {
			return writeOutcome(c, be)
		}
		p := problemFor(err)
		switch {
		case p.Status == fiber.StatusServiceUnavailable:
			// Expected during elections and on /readyz probes.
			log.Debug("request not served", "method", c.Method(), "path", c.Path(), "status", p.Status, "err", err)
		case p.Status >= 500:
			log.Warn("request failed", "method", c.Method(), "path", c.Path(), "status", p.Status, "err", err)
		}
		return writeProblem(c, p)
	}
}
