package cluster

import (
	"encoding/json"
	"fmt"
)

// Results that name a resource.
//
// Most commands answer with the resource they wrote: an attendance, as the
// API shows it, after each answer of a triage. Until logic version 12 every
// node built those bytes and kept them in the command's idempotency record,
// so that a retry got them back. An attendance late in a triage is many
// kilobytes, so every answer wrote its whole attendance again, on every
// node, into Badger's value log, although only the node that proposed the
// command has a caller waiting for it.
//
// From logic version 12 (resourceRefSince) a command whose result is a
// stored resource that it can read again returns a *Resource: the resource's
// id and how to build its bytes. The engine keeps only the resource's name
// (Result.Ref: the command kind and the id) in the idempotency record, and
// builds the bytes only on the node whose Propose waits for them (the
// checked table marks its proposals: fsm.applyEntry). Every node stores the
// same records, so state and state hashes stay identical.
//
// A retry with the same key gets the resource as it is now, read again with
// the command's Reread: the same bytes as the first answer while nothing
// has changed it since, the newer state when something has (a retry never
// sees a state older than the one its request made). A resource removed
// since (a retention purge) answers not_found.
const resourceRefSince = 12

// Resource is what Apply returns when its result is a stored resource that
// the command's Reread can read again by ID.
type Resource struct {
	ID string
	// Build returns the resource's bytes as the command left them. The
	// engine calls it at most once, right after Apply returns and before
	// anything else changes the state.
	Build func() (json.RawMessage, error)
}

// ResourceRef names the resource of a Result.
type ResourceRef struct {
	Kind Kind   `json:"kind"` // the command that returned it: its Reread reads it again
	ID   string `json:"id"`
}

// resourceResult sets r's Value, or its Ref, from the *Resource res that
// a command of kind c returned under logic version lv. want says whether
// anyone waits for the bytes (the node proposed the command). Below
// resourceRefSince, or for a command without Reread, the bytes are built
// and kept as before.
func resourceResult(r *Result, c Command, lv int, res *Resource, want bool) error {
	if lv >= resourceRefSince && c.Reread != nil {
		r.Ref = &ResourceRef{Kind: c.Kind, ID: res.ID}
		if !want {
			return nil
		}
	}
	b, err := res.Build()
	if err != nil {
		return fmt.Errorf("build result %s: %w", res.ID, err)
	}
	r.Value = b
	return nil
}

// reread fills the Value of a Result that names its resource but does not
// hold it (a replayed one, or one applied where it was not proposed), by
// reading the resource as it is in r. A resource that is gone turns the
// Result into a not_found failure.
func (t commandTable) reread(r Reader, res *Result) error {
	if res == nil || res.Ref == nil || res.Value != nil || res.Err != nil {
		return nil
	}
	c, ok := t[res.Ref.Kind]
	if !ok || c.Reread == nil {
		return fmt.Errorf("result names a %s resource: %w", res.Ref.Kind, errUnknownKind)
	}
	v, found, err := c.Reread(r, res.Ref.ID)
	if err != nil {
		return fmt.Errorf("read again %s %s: %w", res.Ref.Kind, res.Ref.ID, err)
	}
	if !found {
		res.Err = &CommandError{Code: CodeNotFound, Message: "what this request wrote has since been removed"}
		return nil
	}
	res.Value = v
	return nil
}
