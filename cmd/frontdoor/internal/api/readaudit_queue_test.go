package api

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
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

// TestReadAuditBurstDrainsInOneFlush: a burst that fills the queue
// (a read-back after an outage, at thousands of reads a second) is
// proposed in full batches one after another in a single flush, not one
// batch every flush (256 reads every 200 ms was slower than one node
// serving reads, so the queue stayed full and reads went unaudited); a
// part batch ends the flush; a batch the leader refuses stops the flush,
// is kept for the next, and is dropped and counted after
// readAuditRetries refusals.
func TestReadAuditBurstDrainsInOneFlush(t *testing.T) {
	s := &server{log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	reg := prometheus.NewRegistry()
	a := newReadAuditor(s, reg)
	app := fiber.New()
	c := app.AcquireCtx(&fasthttp.RequestCtx{})
	defer app.ReleaseCtx(c)
	c.Locals(localActor, cluster.Actor{ID: "k1", Name: "Desk 1", Role: "reception"})

	var sizes []int
	accept := func(_ context.Context, reads []care.RecordRead) error {
		sizes = append(sizes, len(reads))
		return nil
	}
	const extra = 44
	for range readAuditQueue {
		a.note(c, "patient/P1")
	}
	var p pendingReads
	a.flush(context.Background(), &p, accept)
	if len(a.ch) != 0 || len(sizes) != readAuditQueue/care.MaxReadsPerBatch {
		t.Fatalf("one flush proposed %d batches and left %d queued, want %d batches and none", len(sizes), len(a.ch), readAuditQueue/care.MaxReadsPerBatch)
	}
	for range care.MaxReadsPerBatch + extra {
		a.note(c, "patient/P1")
	}
	sizes = nil
	a.flush(context.Background(), &p, accept)
	if len(sizes) != 2 || sizes[0] != care.MaxReadsPerBatch || sizes[1] != extra {
		t.Fatalf("batches %v, want [%d %d]", sizes, care.MaxReadsPerBatch, extra)
	}
	if got := gathered(t, reg, "frontdoor_read_audit_recorded_total"); got != readAuditQueue+care.MaxReadsPerBatch+extra {
		t.Fatalf("recorded %v", got)
	}

	refused := errors.New("no leader")
	calls := 0
	refuse := func(context.Context, []care.RecordRead) error { calls++; return refused }
	for range 2 * care.MaxReadsPerBatch {
		a.note(c, "patient/P1")
	}
	a.flush(context.Background(), &p, refuse)
	if calls != 1 || len(p.batch) != care.MaxReadsPerBatch || len(a.ch) != care.MaxReadsPerBatch {
		t.Fatalf("a refused flush: %d proposals, %d kept, %d queued", calls, len(p.batch), len(a.ch))
	}
	for range readAuditRetries - 1 {
		a.flush(context.Background(), &p, refuse)
	}
	if got := gathered(t, reg, "frontdoor_read_audit_dropped_total"); got != care.MaxReadsPerBatch || len(p.batch) != 0 {
		t.Fatalf("after %d refusals: dropped %v, %d kept", readAuditRetries, got, len(p.batch))
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
