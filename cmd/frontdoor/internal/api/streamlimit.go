package api

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// Caps on Server-Sent Events streams. Each open stream holds a connection,
// a goroutine and buffers for up to an hour, so an unbounded number lets
// one key exhaust a node's memory (an attack run opened 8,000 on one key:
// RSS 105 -> 616 MB). A reception screen or a responder needs one or two;
// a node serves one centre.
const (
	defaultStreamsPerKey  = 8   // open streams per API key on one node
	defaultStreamsPerNode = 512 // open streams on one node, all keys together
	// streamRetryAfter is the Retry-After of a refused stream: a client
	// whose stream was refused should not come back at once.
	streamRetryAfter = 5
)

// problemTooManyStreams: the key already has its share of this node's
// streams open.
const problemTooManyStreams = "/problems/too-many-streams"

// streamLimiter counts the open event streams of one node, by API key and
// in total. The zero value is not usable; a nil *streamLimiter limits
// nothing.
type streamLimiter struct {
	perKey, perNode int

	mu    sync.Mutex
	total int
	byKey map[string]int // key ID -> open streams; no zero entries
}

// newStreamLimiter caps streams at perKey for one key and perNode for the
// node; a cap < 1 takes its default.
func newStreamLimiter(perKey, perNode int) *streamLimiter {
	if perKey < 1 {
		perKey = defaultStreamsPerKey
	}
	if perNode < 1 {
		perNode = defaultStreamsPerNode
	}
	return &streamLimiter{perKey: perKey, perNode: perNode, byKey: make(map[string]int)}
}

// acquire takes a stream slot for key. The caller must call release when
// the stream ends; release is idempotent. Over the key's cap: a 429
// problem; over the node's: a 503 problem.
func (l *streamLimiter) acquire(key string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey[key] >= l.perKey {
		return nil, &Problem{Type: problemTooManyStreams, Title: "Too many event streams", Status: http.StatusTooManyRequests,
			Detail:     fmt.Sprintf("this API key already has %d event streams open on this node, the most it may; close one (a screen needs one stream) and retry", l.perKey),
			retryAfter: streamRetryAfter}
	}
	if l.total >= l.perNode {
		return nil, &Problem{Type: problemUnavailable, Title: "Node busy", Status: http.StatusServiceUnavailable,
			Detail:     fmt.Sprintf("this node already serves %d event streams, the most it may; retry later or on another node", l.perNode),
			retryAfter: streamRetryAfter}
	}
	l.byKey[key]++
	l.total++
	var once sync.Once
	return func() { once.Do(func() { l.release(key) }) }, nil
}

func (l *streamLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byKey[key]--; l.byKey[key] <= 0 {
		delete(l.byKey, key)
	}
}

// open reports the streams open for key and on the node.
func (l *streamLimiter) open(key string) (forKey, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byKey[key], l.total
}

// streamSlot takes a stream slot for the caller's API key from the
// limiter of the route being served (routeTable gives every SSE row of a
// table the same one, and New builds one table per server).
func (s *server) streamSlot(c *fiber.Ctx) (release func(), err error) {
	var l *streamLimiter
	if row := routeOf(c); row != nil {
		l = row.streams
	}
	return l.acquire(actorFor(c).ID)
}
