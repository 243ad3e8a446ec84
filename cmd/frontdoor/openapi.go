package main

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

func (s *server) registerOpenAPI(r fiber.Router) {
	r.Get("/openapi.json", s.openAPI)
}

func (s *server) openAPI(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"openapi": "3.1.0"})
}

// openAPIPath turns a fiber path into an OpenAPI one: /v1/x/:id -> /v1/x/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			parts[i] = "{" + strings.TrimSuffix(name, "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}
