package api

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/web"
)

// The reception page (package web) is served open at / and /ui/{file},
// one route per file. The page holds no data of its own: it signs in with
// an API key kept in the browser's sessionStorage and calls the same /v1
// API as any other client, so every patient datum still needs the Bearer
// key.

// webRoutes are the route table's rows of the reception page: open (routes.go).
func webRoutes() []routeRow {
	rows := []routeRow{{Method: "GET", Path: "/", Access: accessOpen,
		Summary: "The reception page (static; its data calls need a key)", Handler: webFile("index.html")}}
	for _, name := range web.Assets() {
		rows = append(rows, routeRow{Method: "GET", Path: "/ui/" + name, Access: accessOpen,
			Summary: "The reception page's " + name, Handler: webFile(name)})
	}
	return rows
}

// webFile is the handler of one of the page's files.
func webFile(name string) func(*server, *fiber.Ctx) error {
	return func(_ *server, c *fiber.Ctx) error {
		err := web.Serve(c, name)
		if errors.Is(err, web.ErrNoFile) {
			return &Problem{Type: problemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: "no page file " + name}
		}
		return err
	}
}
