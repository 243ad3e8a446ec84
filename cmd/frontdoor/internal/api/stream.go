package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

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

const (
	streamKeepAlive = 5 * time.Second // also how soon a departed client is noticed
	streamMaxLife   = time.Hour       // clients reconnect with Last-Event-ID
	streamBatch     = 500
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
	store := s.store
	waiter, _ := store.(applyWaiter)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		end := time.Now().Add(life)
		fresh := last == 0
		// Send the headers at once: a resumed stream with nothing new would
		// otherwise leave the client waiting for the first event.
		if _, err := w.WriteString(": connected\n\n"); err != nil || w.Flush() != nil {
			return
		}
		for time.Now().Before(end) {
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
			if err := w.Flush(); err != nil {
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

// waitForApply waits up to d for the FSM to apply index (or just d when the
// store cannot signal it); when nothing arrived it writes an SSE keep-alive
// comment so a departed client is noticed. False: end the stream (the FSM
// stopped or the client is gone).
func waitForApply(w *bufio.Writer, waiter applyWaiter, index uint64, d time.Duration) bool {
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
	if _, err := w.WriteString(": keep-alive\n\n"); err != nil {
		return false
	}
	return w.Flush() == nil
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
