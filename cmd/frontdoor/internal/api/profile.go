package api

import (
	"bytes"
	"net/http"
	runtimepprof "runtime/pprof"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Go runtime profiles of this node, in pprof's format, for an administrator
// diagnosing load: `frontdoor loadtest --profile DIR` collects them from
// every spawned node. They show code paths and memory, never patient data.

func profileRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/debug/pprof/:profile", Roles: rolesAdmin,
			Summary: "This node's Go runtime profile (pprof): profile (CPU, ?seconds= 1 to 25), heap, allocs, goroutine, block, mutex, threadcreate",
			Query:   []string{"seconds"}, Handler: (*server).pprofProfile},
	}
}

// maxProfileSeconds keeps a CPU profile inside the server's write timeout.
const maxProfileSeconds = 25

func (s *server) pprofProfile(c *fiber.Ctx) error {
	name := c.Params("profile")
	var buf bytes.Buffer
	if name == "profile" {
		secs := 10
		if v := c.Query("seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxProfileSeconds {
				return invalid("the profile's length is not valid", map[string]string{"seconds": "a whole number from 1 to 25"})
			}
			secs = n
		}
		if err := runtimepprof.StartCPUProfile(&buf); err != nil {
			return &Problem{Type: problemConflict, Title: "Conflict", Status: http.StatusConflict,
				Detail: "a CPU profile is already being taken on this node: " + err.Error()}
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-c.Context().Done():
		}
		runtimepprof.StopCPUProfile()
	} else {
		p := runtimepprof.Lookup(name)
		if p == nil {
			return &Problem{Type: problemNotFound, Title: "Not found", Status: http.StatusNotFound,
				Detail: "no profile " + strconv.Quote(name) + ": profile, heap, allocs, goroutine, block, mutex or threadcreate"}
		}
		if err := p.WriteTo(&buf, 0); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.pprof"`)
	return c.Send(buf.Bytes())
}
