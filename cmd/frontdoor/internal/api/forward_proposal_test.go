package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/peerpipe"
)

// followerStore is a follower's Store: every proposal is ErrNotLeader, and
// the leader is at leaderAddr.
type followerStore struct {
	fakeStore
}

func (f *followerStore) Propose(context.Context, cluster.Proposal) (*cluster.Result, error) {
	return nil, cluster.ErrNotLeader
}

// followerApp serves one write route whose handler proposes through
// propose, as a follower with its leader at leaderAddr, reached over HTTP.
func followerApp(leaderAddr string) *fiber.App { return followerAppWithPipes(leaderAddr, nil) }

// followerAppWithPipes is followerApp that forwards over pipes dialled
// with pipeDial (nil: HTTP only).
func followerAppWithPipes(leaderAddr string, pipeDial func(string) (net.Conn, error)) *fiber.App {
	s := &server{
		store:     &followerStore{fakeStore{leader: &cluster.LeaderInfo{ID: "lead", HTTPAddr: leaderAddr}}},
		selfID:    "me",
		log:       slog.New(slog.DiscardHandler),
		reqTO:     time.Second,
		fwdTO:     2 * time.Second,
		forwarder: newForwarder(2*time.Second, nil),
	}
	if pipeDial != nil {
		s.pipeClient = &peerpipe.Client{Dial: pipeDial, HelloTimeout: time.Second}
	}
	row := &routeRow{Method: "POST", Path: "/v1/attendances", Access: accessKey, Kinds: []cluster.Kind{"attendance.create"}}
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(s.log)})
	app.Post(row.Path, func(c *fiber.Ctx) error {
		c.Locals(localRow, row)
		res, handled, err := s.propose(c, cluster.Proposal{Kind: "attendance.create", Actor: cluster.Actor{ID: "k1"}, Payload: []byte(`{}`)})
		if handled || err != nil {
			return err
		}
		return c.Status(http.StatusCreated).Send(res.Value)
	})
	return app
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hangUpAddr is a leader that reads a request and closes the connection
// without answering: the proposal may have been made.
func hangUpAddr(t *testing.T) string {
	return loopbackServer(t, func(conn net.Conn) {
		_, _ = http.ReadRequest(bufio.NewReader(conn))
		conn.Close()
	})
}

// loopbackServer hands each connection to a loopback port to serve (in a
// goroutine of its own) until the test ends, and returns the address.
func loopbackServer(t *testing.T, serve func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return ln.Addr().String()
}

// leaderAnswering is a leader whose POST /v1/cluster/forward runs h; any
// other path (the whole request proxied) answers 201 "proxied".
func leaderAnswering(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != forwardPath {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "proxied with "+r.Header.Get(headerForwarded))
			return
		}
		if r.Header.Get(headerForwarded) != "1" || r.Header.Get("Authorization") != "Bearer fdk_caller" {
			t.Errorf("forwarded without the loop mark or the caller's key: %v", r.Header)
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// result is a leader's answer to a forwarded proposal: res.
func result(res *cluster.Result) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := encodeResult(res)
		w.Header().Set(headerForwardProtocol, forwardProtocolV1)
		_, _ = w.Write(b)
	}
}

// TestFollowerForwardingOutcomes: what a follower answers for each way its
// forwarded proposal can end.
func TestFollowerForwardingOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name       string
		leader     func(t *testing.T) string
		status     int
		problem    string // the problem type; "" -> body
		body       string
		wantHeader [2]string
	}{
		{name: "leader stopped (connection refused): nothing was sent", leader: closedAddr,
			status: 503, problem: problemNotAccepted, wantHeader: [2]string{"Retry-After", "1"}},
		{name: "leader hung up after the request was sent", leader: hangUpAddr,
			status: 503, problem: problemOutcomeUnkown, wantHeader: [2]string{"Retry-After", "1"}},
		{name: "leader's Result", leader: func(t *testing.T) string {
			return leaderAnswering(t, result(&cluster.Result{Index: 9, Value: json.RawMessage(`{"id":"a1"}`)}))
		}, status: 201, body: `{"id":"a1"}`},
		{name: "leader's command refusal", leader: func(t *testing.T) string {
			return leaderAnswering(t, result(&cluster.Result{Index: 9, Err: &cluster.CommandError{Code: cluster.CodeConflict, Message: "taken"}}))
		}, status: 409, problem: problemConflict},
		{name: "leader's problem, with its headers", leader: func(t *testing.T) string {
			return leaderAnswering(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerForwardProtocol, forwardProtocolV1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="frontdoor", error="invalid_token"`)
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(unauthorized("unknown or revoked API key"))
			})
		}, status: 401, problem: problemUnauthorized, wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="frontdoor", error="invalid_token"`}},
		{name: "leader without the endpoint: the request is proxied whole", leader: func(t *testing.T) string {
			return leaderAnswering(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
		}, status: 201, body: "proxied with 1"},
		{name: "leader's unreadable answer", leader: func(t *testing.T) string {
			return leaderAnswering(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerForwardProtocol, forwardProtocolV1)
				_, _ = io.WriteString(w, "\x07")
			})
		}, status: 503, problem: problemOutcomeUnkown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkForwardedWrite(t, followerApp(tt.leader(t)), tt.status, tt.problem, tt.body, tt.wantHeader)
		})
	}
}

// pipeLeader serves pipes on a loopback port: each connection is handed
// to serve. It returns the dialler for followerAppWithPipes.
func pipeLeader(t *testing.T, serve func(net.Conn)) func(string) (net.Conn, error) {
	addr := loopbackServer(t, serve)
	return func(string) (net.Conn, error) { return net.Dial("tcp", addr) }
}

// answeringPipes is a leader serving pipes whose forwarded proposals h
// answers (as leaderAnswering does over HTTP).
func answeringPipes(t *testing.T, h http.HandlerFunc) func(string) (net.Conn, error) {
	srv := &peerpipe.Server{Handler: fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != forwardPath || r.Header.Get(headerForwarded) != "1" || r.Header.Get("Authorization") != "Bearer fdk_caller" {
			t.Errorf("forwarded over a pipe to %s without the loop mark or the caller's key: %v", r.URL.Path, r.Header)
		}
		h(w, r)
	}))}
	t.Cleanup(func() { srv.Shutdown(time.Second) })
	return pipeLeader(t, func(c net.Conn) { _ = srv.ServeConn(c) })
}

// TestFollowerForwardingOutcomesOverAPipe: the same outcomes over a pipe,
// and a leader of an earlier release, which serves no pipes, still gets
// the proposal over HTTP (nothing was sent on the pipe).
func TestFollowerForwardingOutcomesOverAPipe(t *testing.T) {
	for _, tt := range []struct {
		name       string
		pipes      func(t *testing.T) func(string) (net.Conn, error)
		httpLeader func(t *testing.T) string // closedAddr: HTTP must not be used
		status     int
		problem    string
		body       string
		wantHeader [2]string
	}{
		{name: "leader's Result", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return answeringPipes(t, result(&cluster.Result{Index: 9, Value: json.RawMessage(`{"id":"a1"}`)}))
		}, httpLeader: closedAddr, status: 201, body: `{"id":"a1"}`},
		{name: "leader's command refusal", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return answeringPipes(t, result(&cluster.Result{Index: 9, Err: &cluster.CommandError{Code: cluster.CodeConflict, Message: "taken"}}))
		}, httpLeader: closedAddr, status: 409, problem: problemConflict},
		{name: "leader's problem, with its headers", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return answeringPipes(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerForwardProtocol, forwardProtocolV1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="frontdoor", error="invalid_token"`)
				w.Header().Set("Retry-After", "3")
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(unauthorized("unknown or revoked API key"))
			})
		}, httpLeader: closedAddr, status: 401, problem: problemUnauthorized, wantHeader: [2]string{"WWW-Authenticate", `Bearer realm="frontdoor", error="invalid_token"`}},
		{name: "leader's unreadable answer", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return answeringPipes(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(headerForwardProtocol, forwardProtocolV1)
				_, _ = io.WriteString(w, "\x07")
			})
		}, httpLeader: closedAddr, status: 503, problem: problemOutcomeUnkown},
		{name: "leader hung up after the request was sent", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return pipeLeader(t, func(c net.Conn) {
				_, _ = c.Write([]byte{peerpipe.Hello})
				var req fasthttp.Request
				_ = req.Read(bufio.NewReader(c))
				c.Close()
			})
		}, httpLeader: closedAddr, status: 503, problem: problemOutcomeUnkown, wantHeader: [2]string{"Retry-After", "1"}},
		{name: "pipe refused (leader stopped): nothing was sent", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			addr := closedAddr(t)
			return func(string) (net.Conn, error) { return net.Dial("tcp", addr) }
		}, httpLeader: closedAddr, status: 503, problem: problemNotAccepted, wantHeader: [2]string{"Retry-After", "1"}},
		{name: "leader of an earlier release (no pipes): forwarded over HTTP", pipes: func(t *testing.T) func(string) (net.Conn, error) {
			return pipeLeader(t, func(c net.Conn) { c.Close() }) // an unknown channel is closed at once
		}, httpLeader: func(t *testing.T) string {
			return leaderAnswering(t, result(&cluster.Result{Index: 9, Value: json.RawMessage(`{"id":"over-http"}`)}))
		}, status: 201, body: `{"id":"over-http"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkForwardedWrite(t, followerAppWithPipes(tt.httpLeader(t), tt.pipes(t)), tt.status, tt.problem, tt.body, tt.wantHeader)
		})
	}
}

// checkForwardedWrite posts a write with the caller's key to a follower's
// app and checks its answer: the status, then the problem type (problem
// given) or the body, and a header when wantHeader names one.
func checkForwardedWrite(t *testing.T, app *fiber.App, status int, problem, body string, wantHeader [2]string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/attendances", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer fdk_caller")
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if problem != "" {
		var p Problem
		if err := json.Unmarshal(b, &p); err != nil || p.Type != problem {
			t.Fatalf("problem %s, want type %s", b, problem)
		}
	} else if string(b) != body {
		t.Fatalf("body %q, want %q", b, body)
	}
	if k := wantHeader[0]; k != "" && resp.Header.Get(k) != wantHeader[1] {
		t.Fatalf("%s %q, want %q", k, resp.Header.Get(k), wantHeader[1])
	}
}

// TestForwardedRequestIsNotForwardedAgain: the loop guard holds for a
// request already marked forwarded.
func TestForwardedRequestIsNotForwardedAgain(t *testing.T) {
	app := followerApp(leaderAnswering(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("a forwarded request was forwarded again")
	}))
	req := httptest.NewRequest(http.MethodPost, "/v1/attendances", strings.NewReader(`{}`))
	req.Header.Set(headerForwarded, "1")
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
}
