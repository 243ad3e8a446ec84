package cluster

import (
	"strings"
	"sync"
)

// derivedCache holds values that domain packages derive from whole key
// ranges of the state (the service directory, read from every service
// record), for the FSM's own transactions (Tx.Derived): a value is built
// once and handed to every later command until a write under one of its
// key prefixes, a part that does not commit, or a restore drops it. It
// lives in memory only; a value is exactly what building it afresh from
// the same state gives, so replicas decide alike whether or not it was
// cached.
type derivedCache struct {
	mu      sync.Mutex
	entries map[string]*derivedEntry
}

type derivedEntry struct {
	prefixes []string
	v        any
}

func newDerivedCache() *derivedCache { return &derivedCache{entries: map[string]*derivedEntry{}} }

// touch drops every value derived from a range holding key (a write).
func (c *derivedCache) touch(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, e := range c.entries {
		if underAny(key, e.prefixes) {
			delete(c.entries, name)
		}
	}
}

// reset drops every value (a part discarded, a snapshot restored).
func (c *derivedCache) reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *derivedCache) get(name string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok {
		return nil, false
	}
	return e.v, true
}

// derivedMax bounds the values held (names can carry a time bucket).
const derivedMax = 16

func (c *derivedCache) put(name string, prefixes []string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= derivedMax {
		clear(c.entries)
	}
	c.entries[name] = &derivedEntry{prefixes: prefixes, v: v}
}

func underAny(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Derived returns what build derives from the state under prefixes (keys
// starting with any of them), as this command sees it. Inside Apply the
// value is built once and reused by later commands, on this node, until
// something writes under one of the prefixes; name identifies it and must
// always come with the same prefixes. build must read nothing outside the
// prefixes, and the value is shared: callers must not modify it. A
// command that has itself written under the prefixes gets a fresh value,
// not kept.
func (tx *Tx) Derived(name string, prefixes []string, build func() (any, error)) (any, error) {
	c := tx.part.derived
	if c == nil {
		return build()
	}
	for _, k := range tx.order {
		if underAny(k, prefixes) {
			return build()
		}
	}
	if v, ok := c.get(name); ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	c.put(name, prefixes, v)
	return v, nil
}
