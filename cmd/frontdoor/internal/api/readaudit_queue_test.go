package api

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// TestReadAuditQueueIsBounded: noting reads never blocks; beyond the
// queue's capacity each read is dropped, counted in
// frontdoor_read_audit_dropped_total and logged (once a second at most),
// and the queued ones carry the reader, the entity and the route.
func TestReadAuditQueueIsBounded(t *testing.T) {
	var logs bytes.Buffer
	s := &server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	reg := prometheus.NewRegistry()
	a := newReadAuditor(s, reg)
	app := fiber.New()
	c := app.AcquireCtx(&fasthttp.RequestCtx{})
	defer app.ReleaseCtx(c)
	reader := cluster.Actor{ID: "k1", Name: "Desk 1", Role: "reception"}
	c.Locals(localActor, reader)
	c.Locals(localRow, &routeRow{Method: "GET", Path: "/v1/patients/:id"})
	const extra = 7
	for range readAuditQueue + extra {
		a.note(c, "patient/P1")
	}
	if got := gathered(t, reg, "frontdoor_read_audit_dropped_total"); got != extra {
		t.Fatalf("dropped %v, want %d", got, extra)
	}
	if len(a.ch) != readAuditQueue {
		t.Fatalf("queued %d, want %d", len(a.ch), readAuditQueue)
	}
	if n := strings.Count(logs.String(), "record reads not audited"); n != 1 {
		t.Fatalf("%d log lines for the drops, want 1 (at most one a second):\n%s", n, logs.String())
	}
	rd := <-a.ch
	if rd.Actor != reader || rd.Entity != "patient/P1" || rd.Route != "GET /v1/patients/:id" || rd.At.IsZero() {
		t.Fatalf("queued read %+v", rd)
	}
}

// gathered is the value of the counter name in reg (-1: not registered).
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}
