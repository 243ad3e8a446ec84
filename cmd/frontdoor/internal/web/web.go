// Package web is the reception page: plain HTML, CSS and JavaScript
// modules embedded in the binary. The api package serves it, one open route
// per file (Serve writes a file with the page's headers).
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"

	"github.com/gofiber/fiber/v2"
)

// The reception page: plain HTML, CSS and JavaScript modules written by
// hand (no toolchain), embedded in the binary and served open at / and
// /ui/{file} (one route per file). The page holds no data of its own: it
// signs in with an API key kept in the browser's sessionStorage and calls
// the same /v1 API as any other client, so every patient datum still
// needs the Bearer key.

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
// party, not framed. The patient's slip is an API page with its own
// inline styles, shown in a sandboxed srcdoc frame that inherits this
// policy: so styles may be inline; scripts never.
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"connect-src 'self'; frame-src 'self' about:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// webAssets are the page's files other than index.html, served at
// /ui/{name}: one route (and one open row of api's route table) each, so
// every open route answers 200 as it is written.
var webAssets = func() []string {
	entries, err := fs.ReadDir(webRoot, ".")
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		if _, ok := webTypes[path.Ext(e.Name())]; ok && !e.IsDir() && e.Name() != "index.html" {
			names = append(names, e.Name())
		}
	}
	return names
}()

// webETags are the files' content hashes: browsers revalidate every load
// (no-cache) and get 304 while the binary is the same.
var webETags = func() map[string]string {
	m := map[string]string{}
	for _, name := range append([]string{"index.html"}, webAssets...) {
		b, err := fs.ReadFile(webRoot, name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		m[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
	}
	return m
}()

// Assets are the page's files other than index.html, served at
// /ui/{name}.
func Assets() []string { return slices.Clone(webAssets) }

// ErrNoFile: the page has no file of that name.
var ErrNoFile = errors.New("no page file")

// Serve writes one embedded file (a name from Assets, or index.html) with
// the page's headers; a name the page does not have is ErrNoFile.
func Serve(c *fiber.Ctx, name string) error {
	b, err := fs.ReadFile(webRoot, name)
	if err != nil {
		return fmt.Errorf("%w %s", ErrNoFile, name)
	}
	ct := webTypes[path.Ext(name)]
	c.Set(fiber.HeaderContentType, ct)
	// Revalidate every time: a rolling upgrade must not leave a desk on an
	// old page talking to a new API.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, webETags[name])
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	if ct == webTypes[".html"] {
		c.Set(fiber.HeaderContentSecurityPolicy, webCSP)
		c.Set(fiber.HeaderXFrameOptions, "DENY")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == webETags[name] {
		return c.SendStatus(http.StatusNotModified)
	}
	return c.Send(b)
}
