package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// actorFor is the one place that decides who is making a request. Until
// API keys land (workflow issue) every caller is anonymous; swapping this
// function is all it takes to attribute commands and audit events.
func actorFor(_ *fiber.Ctx) cluster.Actor {
	return cluster.Actor{ID: "anonymous", Name: "Anonymous", Role: "anonymous"}
}
