package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

// The queue's live feed: Server-Sent Events whose ids are raft indexes.
// Apply never waits for a reader: every attendance write stores a small
// event record in state (cluster/queue.go) and the FSM's applied-index
// notification (a closed channel, never a blocking send) wakes readers,
// which then read the events after their last id from local state. A
// client reconnects with Last-Event-ID and misses nothing that is still in
// the window; further behind it gets a "reset" event and reloads the queue.
// A stream whose key is revoked ends with a "revoked" event at the next
// change or keep-alive (the revocation itself is a change, so at once on a
// node that has applied it).
//
// A stream outlives the server's WriteTimeout: fasthttp sets the
// connection's write deadline once, before it copies the body stream to the
// connection, so every flush here moves it on (sseWriter). A stream sends
// something at least every streamKeepAlive, a comment line when there is
// nothing else, so a departed client is noticed (the write after the one
// its TCP reset answers fails: within two keep-alives) and its stream slot
// (streamlimit.go) freed.

const (
	streamKeepAlive = 5 * time.Second // also how soon a departed client is noticed
	streamMaxLife   = time.Hour       // clients reconnect with Last-Event-ID
	streamBatch     = 500
	// streamWriteTimeout is how long a stream's writes may wait for a
	// client that has stopped reading; longer than streamKeepAlive.
	streamWriteTimeout = 30 * time.Second
)

// applyWaiter is implemented by *cluster.Store.
type applyWaiter interface {
	WaitApplied(ctx context.Context, index uint64) error
}

func (s *server) streamQueue(c *fiber.Ctx) error {
	last, err := lastEventID(c)
	if err != nil {
		return err
	}
	life := streamMaxLife
	if v := c.Query("max_seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > int(streamMaxLife/time.Second) {
			return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
				Detail: "max_seconds must be between 1 and 3600", Errors: map[string]string{"max_seconds": "between 1 and 3600"}}
		}
		life = time.Duration(n) * time.Second
	}
	valid := s.keyStillValid(c)
	release, err := s.streamSlot(c)
	if err != nil {
		return err
	}
	store := s.store
	waiter, _ := store.(applyWaiter)
	startStream(c, release, func(w *sseWriter) {
		end := time.Now().Add(life)
		fresh := last == 0
		// Send the headers at once: a resumed stream with nothing new would
		// otherwise leave the client waiting for the first event.
		if _, err := w.WriteString(": connected\n\n"); err != nil || w.flush() != nil {
			return
		}
		for time.Now().Before(end) {
			if !valid() {
				endRevoked(w)
				return
			}
			var evs []care.QueueEvent
			var truncated bool
			var applied uint64
			err := store.Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
				var err error
				if applied, err = v.AppliedIndex(); err != nil {
					return err
				}
				if fresh {
					return nil
				}
				evs, truncated, err = care.QueueEvents(v, last, streamBatch)
				return err
			})
			if err != nil {
				return
			}
			switch {
			case fresh:
				fresh = false
				last = applied
				fmt.Fprintf(w, "id: %d\nevent: ready\ndata: {\"index\":%d}\n\n", applied, applied)
			case truncated:
				last = applied
				fmt.Fprintf(w, "id: %d\nevent: reset\ndata: {\"index\":%d,\"reason\":\"too far behind: reload GET /v1/queue\"}\n\n", applied, applied)
			}
			full := len(evs) == streamBatch
			if full {
				// Send whole raft entries only: the last entry's events may
				// go on in the next batch, which starts after `last`.
				cut := len(evs)
				for cut > 0 && evs[cut-1].Index == evs[len(evs)-1].Index {
					cut--
				}
				if cut > 0 {
					evs = evs[:cut]
				}
			}
			for i, ev := range evs {
				b, _ := json.Marshal(&ev)
				// The id goes on the last event of its raft entry, so a client
				// cut off within an entry resumes before it (a repeat, never
				// a loss).
				if i == len(evs)-1 || evs[i+1].Index != ev.Index {
					fmt.Fprintf(w, "id: %d\n", ev.Index)
				}
				fmt.Fprintf(w, "event: queue\ndata: %s\n\n", b)
				last = ev.Index
			}
			if err := w.flush(); err != nil {
				return // the client went away
			}
			if full {
				continue
			}
			if applied > last {
				last = applied // nothing for the queue up to here
			}
			if !waitForApply(w, waiter, last+1, min(streamKeepAlive, max(time.Until(end), time.Millisecond))) {
				return
			}
		}
	})
	return nil
}

// endRevoked is a stream's last event when its key is no longer accepted
// (revoked, or this node's key state unconfirmed for a lease's length).
func endRevoked(w *sseWriter) {
	_, _ = w.WriteString("event: revoked\ndata: {\"reason\":\"the API key is revoked or cannot be confirmed on this node: reconnect\"}\n\n")
	_ = w.send()
}

// waitForApply waits up to d for the FSM to apply index (or just d when the
// store cannot signal it); when nothing arrived it sends an SSE keep-alive
// comment so a departed client is noticed. False: end the stream (the FSM
// stopped or the client is gone).
func waitForApply(w *sseWriter, waiter applyWaiter, index uint64, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var werr error
	if waiter != nil {
		werr = waiter.WaitApplied(ctx, index)
	} else {
		<-ctx.Done()
		werr = ctx.Err()
	}
	if werr == nil {
		return true
	}
	if ctx.Err() == nil {
		return false // the FSM stopped
	}
	return w.heartbeat() == nil
}

// startStream makes the response an event stream, unbuffered by proxies,
// whose body send writes (in a goroutine of its own, as fasthttp's
// SetBodyStreamWriter does). release frees the stream's slot
// (streamlimit.go) as soon as the server is done with the response, sent or
// failed, without waiting for send's next write to fail; release must be
// idempotent.
func startStream(c *fiber.Ctx, release func(), send func(w *sseWriter)) {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	conn := c.Context().Conn()
	body := fasthttp.NewStreamReader(func(bw *bufio.Writer) {
		defer release()
		send(newSSEWriter(bw, conn))
	})
	c.Context().SetBodyStream(&releasingBody{ReadCloser: body, release: release}, -1)
}

// releasingBody is a stream's body as fasthttp reads it: fasthttp closes
// it when the response has been sent or could not be.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// writeDeadliner is the part of the client's net.Conn a stream uses.
type writeDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

// sseWriter is a stream's buffered writer. Each flush first moves the
// connection's write deadline to streamWriteTimeout from now, so the
// server's WriteTimeout, set once when the response started, does not cut
// a stream that is alive; and a flush with nothing to send sends a
// keep-alive comment when the stream has been silent for streamKeepAlive,
// even while the FSM applies entries the stream does not carry.
type sseWriter struct {
	*bufio.Writer
	conn      writeDeadliner // the client's connection; nil: none to extend
	timeout   time.Duration  // write deadline, from each flush
	keepAlive time.Duration  // longest silence
	now       func() time.Time
	sent      time.Time // the last flush that sent something
}

func newSSEWriter(w *bufio.Writer, conn writeDeadliner) *sseWriter {
	return &sseWriter{Writer: w, conn: conn, timeout: streamWriteTimeout, keepAlive: streamKeepAlive, now: time.Now}
}

// flush sends what is buffered, or a keep-alive comment when nothing is
// and the stream has been silent for keepAlive; otherwise nothing.
func (w *sseWriter) flush() error {
	if w.Buffered() == 0 {
		if w.now().Sub(w.sent) < w.keepAlive {
			return nil
		}
		return w.heartbeat()
	}
	return w.send()
}

// heartbeat sends an SSE comment line.
func (w *sseWriter) heartbeat() error {
	if _, err := w.WriteString(": keep-alive\n\n"); err != nil {
		return err
	}
	return w.send()
}

func (w *sseWriter) send() error {
	now := w.now()
	if w.conn != nil {
		// Best effort: a connection that refuses a deadline is written
		// without one.
		_ = w.conn.SetWriteDeadline(now.Add(w.timeout))
	}
	if err := w.Writer.Flush(); err != nil {
		return err
	}
	w.sent = now
	return nil
}

// lastEventID reads Last-Event-ID (header, or ?last_event_id for clients
// that cannot set it).
func lastEventID(c *fiber.Ctx) (uint64, error) {
	v := strings.TrimSpace(c.Get("Last-Event-ID"))
	if v == "" {
		v = strings.TrimSpace(c.Query("last_event_id"))
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest("Last-Event-ID must be a raft index (a non-negative integer)")
	}
	return n, nil
}
