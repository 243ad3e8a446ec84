package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// unknownKeys limits what requests with a key this node does not know can
// cost. A follower sends such a request to the leader only while it may
// simply not have applied the key yet: when it is behind the leader's
// commit index, or within a small cluster-wide budget (a key created a
// moment ago, used at once on a follower that has not heard the commit).
// Past the budget it answers 401 itself, and a client that keeps sending
// unknown keys is answered 429 before any lookup.
type unknownKeys struct {
	forward *rate.Limiter // forwards of unknown keys to the leader, per node

	mu      sync.Mutex
	clients map[string]*clientBucket // by remote IP
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	unknownForwardRate  = 50 // per second, per node
	unknownForwardBurst = 50
	unknownPerClient    = 50 // unknown keys per second per client IP
	unknownClientBurst  = 200
	unknownClientsMax   = 4096 // client buckets kept; idle ones are swept
)

func newUnknownKeys() *unknownKeys {
	return &unknownKeys{
		forward: rate.NewLimiter(unknownForwardRate, unknownForwardBurst),
		clients: map[string]*clientBucket{},
	}
}

// clientOK spends one of the client's unknown-key tokens.
func (u *unknownKeys) clientOK(ip string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.clients) >= unknownClientsMax || now.Sub(u.swept) > time.Minute {
		for k, b := range u.clients {
			if now.Sub(b.seen) > time.Minute {
				delete(u.clients, k)
			}
		}
		u.swept = now
		if len(u.clients) >= unknownClientsMax {
			return false // a flood from many addresses: no new buckets
		}
	}
	b, ok := u.clients[ip]
	if !ok {
		b = &clientBucket{lim: rate.NewLimiter(unknownPerClient, unknownClientBurst)}
		u.clients[ip] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// problemTooMany: a client sends too many requests of a kind that costs
// the node without serving anyone (unknown keys).
const problemTooMany = "/problems/too-many-requests"

// tooManyUnknownKeys is the 429 for a client sending unknown keys fast.
func tooManyUnknownKeys(c *fiber.Ctx) error {
	return &Problem{Type: problemTooMany, Title: "Too many unknown API keys", Status: http.StatusTooManyRequests,
		Detail: "this client sent too many requests with unknown or revoked API keys; wait and use a valid key", retryAfter: 1}
}
