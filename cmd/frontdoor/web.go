package main

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The reception page: plain HTML, CSS and JavaScript modules written by
// hand (no toolchain), embedded in the binary and served open at / and
// /ui/{file}. The page holds no data of its own: it signs in with an API
// key kept in the browser's sessionStorage and calls the same /v1 API as
// any other client, so every patient datum still needs the Bearer key.

//go:embed web
var webFiles embed.FS

// webRoot is the embedded web/ directory.
var webRoot = func() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err)
	}
	return sub
}()

// webTypes are the content types of the files the page is made of;
// anything else is not served.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// webCSP keeps the page to its own origin: no inline script, no third
// party, not framed.
// The patient's slip is an API page with its own inline styles, shown in
// a sandboxed srcdoc frame that inherits this policy: styles may be
// inline, scripts may not.
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; frame-src 'self' about:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (s *server) registerWeb(r fiber.Router) {
	r.Get("/", func(c *fiber.Ctx) error { return serveWebFile(c, "index.html") })
	r.Get("/ui/:file", func(c *fiber.Ctx) error { return serveWebFile(c, c.Params("file")) })
}

// serveWebFile writes one embedded file, or a 404 problem.
func serveWebFile(c *fiber.Ctx, name string) error {
	ct, ok := webTypes[path.Ext(name)]
	if !ok || name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return webNotFound(name)
	}
	b, err := fs.ReadFile(webRoot, name)
	if err != nil {
		return webNotFound(name)
	}
	c.Set(fiber.HeaderContentType, ct)
	// Revalidate every time: a rolling upgrade must not leave a desk on an
	// old page talking to a new API.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	if ct == webTypes[".html"] {
		c.Set(fiber.HeaderContentSecurityPolicy, webCSP)
		c.Set(fiber.HeaderXFrameOptions, "DENY")
	}
	return c.Send(b)
}

func webNotFound(name string) *problem {
	return &problem{Type: problemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: "no page file " + name}
}
