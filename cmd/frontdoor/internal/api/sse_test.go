package api

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// TestStreamLimiter: per key, then per node; a refusal is a 429 or 503
// problem with Retry-After; release frees one slot however often called.
func TestStreamLimiter(t *testing.T) {
	type step struct {
		key     string
		release int // >0: release the n-th granted slot (1-based) instead of acquiring, twice
		status  int // 0: granted
	}
	tests := []struct {
		name            string
		perKey, perNode int
		steps           []step
	}{
		{"per key", 2, 10, []step{{key: "a"}, {key: "a"}, {key: "a", status: 429}, {key: "b"}}},
		{"per node", 2, 3, []step{{key: "a"}, {key: "b"}, {key: "c"}, {key: "d", status: 503}, {key: "a", status: 503}}},
		{"per key before per node", 1, 1, []step{{key: "a"}, {key: "a", status: 429}, {key: "b", status: 503}}},
		{"release frees one slot", 2, 3, []step{{key: "a"}, {key: "a"}, {key: "b"},
			{release: 1}, {key: "a"}, {key: "a", status: 429}, {key: "c", status: 503}}},
		{"defaults", 0, 0, []step{{key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}, {key: "a", status: 429}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newStreamLimiter(tt.perKey, tt.perNode)
			var granted []func()
			for i, st := range tt.steps {
				if st.release > 0 {
					granted[st.release-1]()
					granted[st.release-1]() // idempotent
					continue
				}
				rel, err := l.acquire(st.key)
				if st.status == 0 {
					if err != nil {
						t.Fatalf("step %d (%s): %v", i, st.key, err)
					}
					granted = append(granted, rel)
					continue
				}
				var p *Problem
				if !errors.As(err, &p) || p.Status != st.status || p.retryAfter == 0 {
					t.Fatalf("step %d (%s): %v, want a %d problem with Retry-After", i, st.key, err, st.status)
				}
			}
			for _, rel := range granted {
				rel()
			}
			if k, n := l.open("a"); k != 0 || n != 0 || len(l.byKey) != 0 {
				t.Fatalf("after releasing all: %d for a, %d in all, %v", k, n, l.byKey)
			}
		})
	}
	var none *streamLimiter
	if rel, err := none.acquire("a"); err != nil || rel == nil {
		t.Fatalf("nil limiter: %v", err)
	}
}

// deadlineRecorder is a connection that records write deadlines.
type deadlineRecorder struct{ set []time.Time }

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// TestSSEWriter: every flush that sends moves the write deadline on; an
// empty flush sends a keep-alive comment only after keepAlive of silence.
func TestSSEWriter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	var out bytes.Buffer
	conn := &deadlineRecorder{}
	w := newSSEWriter(bufio.NewWriter(&out), conn)
	w.now = func() time.Time { return now }

	steps := []struct {
		name      string
		advance   time.Duration
		write     string // buffered before the flush
		heartbeat bool   // heartbeat instead of flush
		sent      string // what reaches the connection
	}{
		{"an event", 0, "event: queue\ndata: {}\n\n", false, "event: queue\ndata: {}\n\n"},
		{"nothing, soon after", time.Second, "", false, ""},
		{"nothing, just before keep-alive", 3*time.Second + 999*time.Millisecond, "", false, ""},
		{"nothing, keep-alive due", time.Millisecond, "", false, ": keep-alive\n\n"},
		{"another event", 2 * time.Second, "event: queue\ndata: {}\n\n", false, "event: queue\ndata: {}\n\n"},
		{"waited for an apply", time.Second, "", true, ": keep-alive\n\n"},
	}
	var wantDeadlines []time.Time
	for _, st := range steps {
		now = now.Add(st.advance)
		out.Reset()
		w.WriteString(st.write)
		var err error
		if st.heartbeat {
			err = w.heartbeat()
		} else {
			err = w.flush()
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if out.String() != st.sent {
			t.Fatalf("%s: sent %q, want %q", st.name, out.String(), st.sent)
		}
		if st.sent != "" {
			wantDeadlines = append(wantDeadlines, now.Add(streamWriteTimeout))
		}
		if len(conn.set) != len(wantDeadlines) || (len(wantDeadlines) > 0 && !conn.set[len(conn.set)-1].Equal(wantDeadlines[len(wantDeadlines)-1])) {
			t.Fatalf("%s: write deadlines %v, want %v", st.name, conn.set, wantDeadlines)
		}
	}
}

// TestStreamOutlivesWriteTimeout: a fiber server whose WriteTimeout is
// 300ms serves a stream of ten keep-alives 100ms apart (a second in all)
// to its end when the stream moves the write deadline, as the API's
// streams do, and cuts it when it does not (the control: the server's
// WriteTimeout does apply to a body stream).
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	const beats = 10
	tests := []struct {
		name     string
		extend   bool
		complete bool
	}{
		{"write deadline moved on", true, true},
		{"server deadline only (control)", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fiber.New(fiber.Config{DisableStartupMessage: true, WriteTimeout: 300 * time.Millisecond})
			app.Get("/s", func(c *fiber.Ctx) error {
				startStream(c, func() {}, func(w *sseWriter) {
					if !tt.extend {
						w.conn = nil
					}
					w.timeout = 5 * time.Second
					for range beats {
						if !waitForApply(w, nil, 0, 100*time.Millisecond) {
							return
						}
					}
					w.WriteString("event: end\ndata: {}\n\n")
					_ = w.flush()
				})
				return nil
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = app.Listener(ln) }()
			t.Cleanup(func() { _ = app.ShutdownWithTimeout(time.Second) })

			resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + ln.Addr().String() + "/s")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			got := strings.Count(string(body), ": keep-alive\n")
			ended := strings.Contains(string(body), "event: end")
			if tt.complete && (err != nil || got != beats || !ended) {
				t.Fatalf("stream cut: %d of %d keep-alives, end %v, err %v", got, beats, ended, err)
			}
			if !tt.complete && ended {
				t.Fatalf("without moving the deadline the stream was not cut: %d keep-alives", got)
			}
		})
	}
}
