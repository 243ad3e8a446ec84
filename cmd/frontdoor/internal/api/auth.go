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
		actor, found, gen, err := s.keyHolder(c)
		if err != nil {
			return err
		}
		if found && !s.lease.trusts(gen) {
			// This node's key state is not confirmed by the leader
			// (keylease.go): the key may have been revoked since.
			if actor, found, handled, err := s.keyHolderConfirmed(c); handled || err != nil {
				return err
			} else if !found {
				return unknownKey(c)
			} else {
				return s.allowed(c, row, actor)
			}
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
		return s.allowed(c, row, actor)
	}
}

// allowed lets actor through to row's handler when its role may call it.
func (s *server) allowed(c *fiber.Ctx, row *routeRow, actor cluster.Actor) error {
	if !row.allows(actor.Role) {
		return forbiddenRole(actor.Role, row)
	}
	c.Locals(localRow, row)
	c.Locals(localActor, actor)
	return c.Next()
}

// keyHolderConfirmed looks the request's key up again once this node's
// lease is renewed; when the lease has time left but this node's key state
// is behind the leader's (a revocation not yet applied here), or no lease
// can be had, the leader decides: the request is forwarded there (handled)
// or, on the leader or a request already forwarded, refused with a 503.
func (s *server) keyHolderConfirmed(c *fiber.Ctx) (actor cluster.Actor, found, handled bool, err error) {
	if !s.lease.current() {
		ctx, cancel := context.WithTimeout(c.UserContext(), s.lease.dur/2)
		rerr := s.lease.refresh(ctx)
		cancel()
		if rerr == nil {
			var gen uint64
			actor, found, gen, err = s.keyHolder(c)
			if err != nil || !found || s.lease.trusts(gen) {
				return actor, found, false, err
			}
		} else {
			s.log.Debug("key lease", "err", rerr)
		}
	}
	if gen, ok := s.lease.granted(); ok {
		// Behind the leader's generation: usually by a moment (a key made
		// or revoked just now), so wait a little for this node to apply it.
		if w, isWaiter := s.store.(applyWaiter); isWaiter {
			ctx, cancel := context.WithTimeout(c.UserContext(), keyCatchUpWait)
			werr := w.WaitApplied(ctx, gen)
			cancel()
			if werr == nil {
				var g uint64
				actor, found, g, err = s.keyHolder(c)
				if err != nil || !found || s.lease.trusts(g) {
					return actor, found, false, err
				}
			}
		}
	}
	forwarded := c.Get(headerForwarded) != "" && (!s.peerOnly || fromPeer(c))
	if s.store.IsLeader() || forwarded {
		return cluster.Actor{}, false, true, keyStateStale()
	}
	return cluster.Actor{}, false, true, s.forward(c, c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead)
}

// keyStillValid is what a stream asks before each batch: false once the
// request's key is revoked in this node's state, or once this node has
// gone a lease's length without the leader confirming its key state (the
// client reconnects, and its new request is checked like any other).
func (s *server) keyStillValid(c *fiber.Ctx) func() bool {
	secret, ok := bearer(c)
	if !ok {
		return func() bool { return true } // an open route: nothing to revoke
	}
	hash := access.HashKey(secret)
	var untrustedSince time.Time
	return func() bool {
		_, found, gen, err := s.keys.lookup(context.Background(), hash)
		if err != nil || !found {
			return false
		}
		if s.lease.trusts(gen) {
			untrustedSince = time.Time{}
			return true
		}
		if untrustedSince.IsZero() {
			untrustedSince = time.Now()
		}
		return time.Since(untrustedSince) < s.lease.dur
	}
}

// keyHolder is the holder of the request's bearer key by this node's
// state: found false for a key it does not know (or a revoked one), a 401
// problem for a request without one.
func (s *server) keyHolder(c *fiber.Ctx) (actor cluster.Actor, found bool, gen uint64, err error) {
	secret, ok := bearer(c)
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="frontdoor"`)
		return cluster.Actor{}, false, 0, unauthorized("send an API key as Authorization: Bearer <key>")
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

// lookup returns the active key of that hash and the access generation of
// the state it was found in (keylease.go decides whether to trust it).
func (kc *keyCache) lookup(ctx context.Context, hash string) (cluster.Actor, bool, uint64, error) {
	snap := kc.cur.Load()
	if snap == nil || snap.applied != kc.store.AppliedIndex() {
		var err error
		if snap, err = kc.refresh(ctx, snap); err != nil {
			return cluster.Actor{}, false, 0, err
		}
	}
	a, ok := snap.byHash[hash]
	return a, ok, snap.gen, nil
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
