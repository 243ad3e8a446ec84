package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// Access control. New registers every row of the route table (routes.go)
// with the row's check in front of its handler: no key -> 401, a key whose role the row
// does not list -> 403, admin -> always allowed. The caller's key becomes
// the actor of every command the request proposes (actor.go), so audit
// events name the key's holder and role.

// problemUnauthorized: no API key, or one the cluster does not know.
const problemUnauthorized = "/problems/unauthorized"

func unauthorized(detail string) *Problem {
	return &Problem{Type: problemUnauthorized, Title: "API key required", Status: http.StatusUnauthorized, Detail: detail}
}

func forbiddenRole(role string, row *routeRow) *Problem {
	allowed := append(append([]string{}, row.Roles...), access.RoleAdmin)
	return &Problem{Type: problemForbidden, Title: "Role not allowed", Status: http.StatusForbidden,
		Detail: fmt.Sprintf("role %s may not call %s %s; allowed: %s", role, row.Method, row.Path, strings.Join(allowed, ", "))}
}

// localActor is the fiber Locals key of the authenticated caller.
const localActor = "frontdoor.actor"

// authorize is the access check in front of one route's handler.
// It also records the row in the request's Locals (routeOf), for propose.
func (s *server) authorize(row *routeRow) fiber.Handler {
	if row.Access != accessKey {
		return func(c *fiber.Ctx) error {
			c.Locals(localRow, row)
			return c.Next()
		}
	}
	return func(c *fiber.Ctx) error {
		actor, found, err := s.keyHolder(c)
		if err != nil {
			return err
		}
		if !found {
			// The forwarded mark counts only from a member (a client could
			// set it to skip the limit below).
			forwarded := c.Get(headerForwarded) != "" && (!s.peerOnly || fromPeer(c))
			now := time.Now()
			if !forwarded && !s.unknown.clientOK(c.IP(), now) {
				return tooManyUnknownKeys(c)
			}
			// A follower may not have applied a key created a moment ago:
			// the leader, which acknowledged its creation, decides. Only
			// while this node is behind, or within a small budget: a flood
			// of made-up keys is answered here (keyflood.go).
			if !s.store.IsLeader() && !forwarded {
				behind := s.store.AppliedIndex() < s.store.CommitIndex()
				if behind || s.unknown.forward.AllowN(now, 1) {
					return s.forward(c, c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead)
				}
			}
			return unknownKey(c)
		}
		if !row.allows(actor.Role) {
			return forbiddenRole(actor.Role, row)
		}
		c.Locals(localRow, row)
		c.Locals(localActor, actor)
		return c.Next()
	}
}

// keyHolder is the holder of the request's bearer key by this node's
// state: found false for a key it does not know (or a revoked one), a 401
// problem for a request without one.
func (s *server) keyHolder(c *fiber.Ctx) (actor cluster.Actor, found bool, err error) {
	secret, ok := bearer(c)
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="frontdoor"`)
		return cluster.Actor{}, false, unauthorized("send an API key as Authorization: Bearer <key>")
	}
	return s.keys.lookup(c.UserContext(), access.HashKey(secret))
}

// unknownKey is the answer to a key the cluster does not know, or revoked.
func unknownKey(c *fiber.Ctx) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="frontdoor", error="invalid_token"`)
	return unauthorized("unknown or revoked API key")
}

// localRow is the fiber Locals key of the route table row being served.
const localRow = "frontdoor.route"

// routeOf is the route table row the request is served by (nil outside
// the registered routes).
func routeOf(c *fiber.Ctx) *routeRow {
	row, _ := c.Locals(localRow).(*routeRow)
	return row
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(c *fiber.Ctx) (string, bool) {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > 512 {
		return "", false
	}
	return strings.Clone(tok), true
}

// keyCache answers "which active key has this hash" from local state
// without a raft round trip. It holds a map of every active key, built
// from a local (stale) read, tagged with the access generation (the raft
// index of the last key change). When the node has applied anything since
// the cache was checked, one point read of the generation decides whether
// the map is still current; only a key change rebuilds it.
type keyCache struct {
	store Store
	mu    sync.Mutex // serialises refreshes
	cur   atomic.Pointer[keySnapshot]
}

type keySnapshot struct {
	applied uint64 // the applied index of the view it was last checked against
	gen     uint64
	byHash  map[string]cluster.Actor
}

func newKeyCache(st Store) *keyCache { return &keyCache{store: st} }

func (kc *keyCache) lookup(ctx context.Context, hash string) (cluster.Actor, bool, error) {
	snap := kc.cur.Load()
	if snap == nil || snap.applied != kc.store.AppliedIndex() {
		var err error
		if snap, err = kc.refresh(ctx, snap); err != nil {
			return cluster.Actor{}, false, err
		}
	}
	a, ok := snap.byHash[hash]
	return a, ok, nil
}

// refresh re-checks the access generation against old (nil: none yet).
// The check is one point read and runs without a lock, so concurrent
// requests never queue behind each other; only a key change rebuilds the
// map, under the mutex.
func (kc *keyCache) refresh(ctx context.Context, old *keySnapshot) (*keySnapshot, error) {
	var applied, gen uint64
	err := kc.store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		if applied, err = v.AppliedIndex(); err != nil {
			return err
		}
		gen, err = access.In(v).AccessGeneration()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	if old != nil && old.gen == gen {
		next := &keySnapshot{applied: applied, gen: gen, byHash: old.byHash}
		kc.cur.CompareAndSwap(old, next)
		return next, nil
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if cur := kc.cur.Load(); cur != nil && cur.gen == gen {
		return cur, nil // another request rebuilt it meanwhile
	}
	var next *keySnapshot
	err = kc.store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
		applied, err := v.AppliedIndex()
		if err != nil {
			return err
		}
		gen, err := access.In(v).AccessGeneration()
		if err != nil {
			return err
		}
		keys, err := access.In(v).APIKeys()
		if err != nil {
			return err
		}
		m := make(map[string]cluster.Actor, len(keys))
		for _, k := range keys {
			if !k.Revoked {
				m[k.Hash] = k.Actor()
			}
		}
		next = &keySnapshot{applied: applied, gen: gen, byHash: m}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	kc.cur.Store(next)
	return next, nil
}
