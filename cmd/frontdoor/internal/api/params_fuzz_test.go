package api

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
)

// errParsed is what paramStore answers every read with: the handler got
// past its parameters.
var errParsed = errors.New("parameters accepted: the handler went on to read")

// paramStore stands in for the replicated store: any read ends the
// request with errParsed and records the consistency asked for.
type paramStore struct {
	Store // nil: a handler calling anything else panics, which fails the fuzz
	cons  []cluster.Consistency
}

func (p *paramStore) Read(_ context.Context, c cluster.Consistency, _ func(*cluster.View) error) error {
	p.cons = append(p.cons, c)
	return errParsed
}
func (p *paramStore) OpenBackup(context.Context) (*cluster.Backup, error) { return nil, errParsed }
func (p *paramStore) IsLeader() bool                                      { return true }
func (p *paramStore) Leader() (cluster.LeaderInfo, bool)                  { return cluster.LeaderInfo{}, true }
func (p *paramStore) Status() cluster.Status                              { return cluster.Status{} }

// paramRows are the GET rows that read query parameters or Last-Event-ID.
// The pprof row is left out: a valid ?seconds= takes a CPU profile that
// long (its parser is a bounded Atoi).
func paramRows() []*routeRow {
	var out []*routeRow
	rows := routeTable()
	for i := range rows {
		r := &rows[i]
		// MessageDefinition reads no state: its ?url= picks from two
		// constant definitions (TestBaRSReferralFromExamples).
		if r.Method == fiber.MethodGet && len(r.Query) > 0 && !strings.HasPrefix(r.Path, "/debug/pprof") && r.Path != fhirBase+"/MessageDefinition" {
			out = append(out, r)
		}
	}
	return out
}

// paramOutcome is what one handler call made of the parameters: reached
// (the handler went on to read, or for a stream to take a slot), or the
// problem it refused them with.
type paramOutcome struct {
	reached bool
	skipped bool // the request line cannot be sent (see errNoHandler)
	cons    []cluster.Consistency
	problem *Problem
}

// paramApp routes requests to the param rows' handlers (so :id path
// parameters resolve), each over a fresh paramStore.
type paramApp struct {
	app  *fiber.App
	rows []*routeRow
	log  *slog.Logger
	// the call in progress (the fuzz function runs one call at a time)
	st   *paramStore
	err  error
	full *streamLimiter
}

func newParamApp(rows []*routeRow) *paramApp {
	pa := &paramApp{app: fiber.New(), rows: rows, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, row := range rows {
		// A stream row's slot is always taken: a stream whose parameters
		// pass is refused with 429 instead of starting (and reading).
		r := *row
		pa.app.Get(row.Path, func(c *fiber.Ctx) error {
			r.streams = pa.full
			c.Locals(localRow, &r)
			s := &server{store: pa.st, log: pa.log, reqTO: time.Second}
			pa.err = r.Handler(s, c)
			return nil
		})
	}
	return pa
}

// concretePath fills a row's path parameters.
func concretePath(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "X1"
		}
	}
	return strings.Join(parts, "/")
}

// errNoHandler: the request did not reach the route (fiber refused a
// request line a client could not send, e.g. one with a control byte).
var errNoHandler = errors.New("no handler ran")

func (pa *paramApp) run(t *testing.T, row *routeRow, query, lastEventID string) paramOutcome {
	t.Helper()
	pa.st = &paramStore{}
	pa.err = errNoHandler
	pa.full = &streamLimiter{perKey: 1, perNode: 1, total: 1, byKey: map[string]int{"anonymous": 1}}
	var fc fasthttp.RequestCtx
	fc.Request.Header.SetMethod(fiber.MethodGet)
	fc.Request.SetRequestURI(concretePath(row.Path) + "?" + query)
	if lastEventID != "" {
		fc.Request.Header.Set("Last-Event-ID", lastEventID)
	}
	if strings.HasPrefix(row.Path, fhirBase+"/") {
		// A FHIR route needs the BaRS request headers before it reads
		// its parameters.
		fc.Request.Header.Set(headerRequestID, "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")
		fc.Request.Header.Set(headerCorrelationID, "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d")
		fc.Request.Header.Set(headerTargetIdentifier, base64.StdEncoding.EncodeToString(
			[]byte(`{"system":"https://fhir.nhs.uk/Id/dos-service-id","value":"gp-ucc-stream"}`)))
	}
	pa.app.Handler()(&fc)
	err := pa.err
	out := paramOutcome{cons: pa.st.cons}
	var p *Problem
	var be *bars.Error
	if errors.As(err, &be) {
		// A FHIR route refuses with an OperationOutcome: the same
		// properties hold of its status and the elements it names.
		p = &Problem{Status: be.Status, Errors: map[string]string{}}
		for _, is := range be.Issues {
			p.Errors[is.Expression] = is.Diagnostics
			p.Detail += is.Diagnostics + " "
		}
		err = p
	}
	switch {
	case errors.Is(err, errNoHandler):
		for _, b := range []byte(query) {
			if b <= ' ' || b >= 0x7f || b == '#' {
				out.skipped = true
				return out
			}
		}
		t.Fatalf("%s ?%s: the request did not reach the route", row.Path, query)
	case errors.Is(err, errParsed):
		out.reached = true
	case row.Stream && errors.As(err, &p) && p.Type == problemTooManyStreams:
		out.reached = true
	case errors.As(err, &p):
		out.problem = p
	case err == nil:
		t.Fatalf("%s ?%s: handler answered without reading", row.Path, query)
	default:
		t.Fatalf("%s ?%s: error %v (%T) is not a problem", row.Path, query, err, err)
	}
	return out
}

// FuzzQueryParams is every GET route's query-string parsing (limit,
// consistency, open, all, status, tier, stream, q/age/sex, max_seconds,
// once, entity, the patient search) and Last-Event-ID, through the route's
// own handler over a store that ends each request at its first read.
// Properties: no panic; parameters are either accepted (the handler goes
// on to read) or refused with a 400/422 problem naming a parameter of the
// route's row; an invalid consistency is never read with; a read uses
// the consistency asked for; parameters the row does not list change
// nothing (the route table and the OpenAPI document list every parameter a
// route reads); the complaint box's and the streams' parsers hold their
// ranges.
func FuzzQueryParams(f *testing.F) {
	rows := paramRows()
	if len(rows) == 0 {
		f.Fatal("no route reads query parameters")
	}
	for i, r := range rows {
		f.Add(uint8(i), "", "")
		f.Add(uint8(i), "consistency=stale", "")
		f.Add(uint8(i), "consistency=linearizable&limit=10", "")
		f.Add(uint8(i), "consistency=eventual", "")
		f.Add(uint8(i), strings.Join(r.Query, "=1&")+"=1", "")
	}
	for _, q := range []string{
		"q=chest+pain&age_years=64&sex=male", "q=my+baby+is+hot&age_weeks=6", "search=rash&age_months=18&sex=female",
		"age_years=131", "age_days=47500", "age_years=2&age_days=3", "sex=other", "q=" + strings.Repeat("%C3%A9", 300),
		"limit=-1", "limit=99999999999999999999", "limit=%2B5", "open=true&limit=0", "open=1", "all=true", "all=yes",
		"status=proposed", "status=waiting", "tier=ed", "tier=ambulance", "stream=clinician_now", "stream=x",
		"entity=attendance/01J", "entity=", "nhs_number=9434765919", "family_name=Smith&date_of_birth=1990-02-30",
		"given_name=Ann&postcode=DY1+1AA", "max_seconds=3600", "max_seconds=0", "once=true", "last_event_id=12",
		"consistency=stale&consistency=bogus", "limit=1&limit=x", "%zz=1", "limit",
		"from=2026-12-01&to=2026-12-05", "from=2026-12-05&to=2026-12-01", "from=2026-12-01&to=2027-02-01&format=fhir",
		"from=2026-02-30&to=2026-03-01", "from=2026-12-01&to=2026-12-01&format=xml", "from=&to=", "format=csv",
		"recipient=age1d804pkfnu4pfpmqvyzzj4xzy0tw599tfcz8ts7ydd08u4jwt7vnswfsjpq", "recipient=age1x&recipient=",
	} {
		for i := range rows {
			f.Add(uint8(i), q, "")
		}
	}
	for _, lei := range []string{"42", "-1", "18446744073709551616", "00000000000000000042/DSP01", "99999999999999999999/x", "abc", " 7 "} {
		for i, r := range rows {
			if r.Stream {
				f.Add(uint8(i), "", lei)
			}
		}
	}
	pa := newParamApp(rows)
	f.Fuzz(func(t *testing.T, which uint8, query, lastEventID string) {
		row := rows[int(which)%len(rows)]
		got := pa.run(t, row, query, lastEventID)
		if got.skipped {
			return
		}
		names := map[string]bool{"Last-Event-ID": true}
		for _, n := range row.Query {
			names[n] = true
		}
		if p := got.problem; p != nil {
			if p.Status != 400 && p.Status != 422 {
				t.Fatalf("%s ?%s: refused with %d %s", row.Path, query, p.Status, p.Detail)
			}
			named := false
			for k := range p.Errors {
				if !names[k] {
					t.Fatalf("%s ?%s: refusal names %q, not a parameter of the route %v", row.Path, query, k, row.Query)
				}
				named = true
			}
			for n := range names {
				named = named || strings.Contains(p.Detail, n)
			}
			if !named {
				t.Fatalf("%s ?%s: refusal %q names no parameter", row.Path, query, p.Detail)
			}
		}
		// The consistency a read used is the one asked for; an invalid
		// one is never read with (only rows listing it read it).
		var fc fasthttp.RequestCtx
		fc.Request.SetRequestURI("/?" + query)
		args := fc.QueryArgs()
		asked := string(args.Peek(consistencyQuery))
		want, cerr := cluster.ParseConsistency(asked)
		if names[consistencyQuery] {
			if cerr != nil && got.reached {
				t.Fatalf("%s ?%s: read with an invalid consistency %q", row.Path, query, asked)
			}
			for _, c := range got.cons {
				if c != want {
					t.Fatalf("%s ?%s: read at %q, asked %q", row.Path, query, c, asked)
				}
			}
		}
		// Only the parameters the row lists count: the same request
		// without the others gets the same answer.
		var kept fasthttp.Args
		dropped := false
		args.VisitAll(func(k, v []byte) {
			if names[string(k)] {
				kept.AddBytesKV(k, v)
			} else {
				dropped = true
			}
		})
		if dropped {
			again := pa.run(t, row, string(kept.QueryString()), lastEventID)
			if again.reached != got.reached || !reflect.DeepEqual(again.problem, got.problem) {
				t.Fatalf("%s ?%s: parameters outside %v change the answer: %+v, without them (?%s) %+v",
					row.Path, query, row.Query, got, kept.QueryString(), again)
			}
		}
		checkParsers(t, pa.app, row, query, lastEventID)
	})
}

// checkParsers holds the ranges of the parsers that return values: the
// complaint box's query and the streams' cursors.
func checkParsers(t *testing.T, app *fiber.App, row *routeRow, query, lei string) {
	t.Helper()
	var fc fasthttp.RequestCtx
	fc.Request.SetRequestURI(row.Path + "?" + query)
	if lei != "" {
		fc.Request.Header.Set("Last-Event-ID", lei)
	}
	c := app.AcquireCtx(&fc)
	defer app.ReleaseCtx(c)
	switch row.Path {
	case "/v1/protocols":
		q := c.Query("q")
		cq, err := complaintQuery(c, q)
		if err != nil {
			return
		}
		if cq.AgeDays != nil && (*cq.AgeDays < 0 || *cq.AgeDays > 47500) {
			t.Fatalf("?%s: age of %d days accepted", query, *cq.AgeDays)
		}
		if cq.Sex != "" && cq.Sex != "female" && cq.Sex != "male" {
			t.Fatalf("?%s: sex %q accepted", query, cq.Sex)
		}
		if len(cq.Text) > 500 {
			t.Fatalf("?%s: a query of %d bytes accepted", query, len(cq.Text))
		}
	case "/v1/queue/stream":
		if _, err := lastEventID(c); err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Status != 400 {
				t.Fatalf("Last-Event-ID %q: refusal %v is not a 400", lei, err)
			}
		}
	case "/v1/dispatches/stream":
		after, fresh, err := dispatchCursor(c)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Status != 400 {
				t.Fatalf("Last-Event-ID %q: refusal %v is not a 400", lei, err)
			}
			return
		}
		if fresh != (after == "") {
			t.Fatalf("Last-Event-ID %q: fresh %v with cursor %q", lei, fresh, after)
		}
		if !fresh && care.ParseDispatchEventID(after) != nil {
			t.Fatalf("Last-Event-ID %q: cursor %q is not an event id", lei, after)
		}
	}
}
