package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// actorFor is the one place that decides who is making a request: the
// holder of the API key the guard accepted (auth.go), so commands and audit
// events name the key's holder and role. A route without a key check (join
// token, open routes) proposes as "anonymous"; none of them proposes
// patient-facing commands.
func actorFor(c *fiber.Ctx) cluster.Actor {
	if a, ok := c.Locals(localActor).(cluster.Actor); ok {
		return a
	}
	return cluster.Actor{ID: "anonymous", Name: "Anonymous", Role: "anonymous"}
}
