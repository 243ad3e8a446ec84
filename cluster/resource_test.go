package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Commands whose result is a stored resource (resource.go): a record t/<id>
// created, changed and deleted.
const (
	kindResCreate Kind = "test.resource.create"
	kindResTouch  Kind = "test.resource.touch"
	kindResDelete Kind = "test.resource.delete"
)

func resourceCommands() []Command {
	reread := func(r Reader, id string) (json.RawMessage, bool, error) {
		b, ok, err := r.GetRaw("t/" + id)
		return b, ok, err
	}
	resource := func(tx *Tx, id string, built *int) *Resource {
		return &Resource{ID: id, Build: func() (json.RawMessage, error) {
			*built++
			b, _, err := tx.GetRaw("t/" + id)
			return b, err
		}}
	}
	var built int
	return []Command{
		{Kind: kindResCreate, Since: 1, IDs: 1, Reread: reread, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
			id, err := tx.NewID()
			if err != nil {
				return nil, err
			}
			// Large, as an attendance late in a triage is.
			if _, err := tx.PutJSON("t/"+id, map[string]any{"id": id, "n": 0, "pad": strings.Repeat("x", 4096)}); err != nil {
				return nil, err
			}
			return resource(tx, id, &built), nil
		}},
		{Kind: kindResTouch, Since: 1, Reread: reread, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
			var id string
			if err := json.Unmarshal(raw, &id); err != nil {
				return nil, PayloadError(err)
			}
			if _, err := tx.PutJSON("t/"+id, map[string]any{"id": id, "n": tx.Index(), "pad": strings.Repeat("y", 4096)}); err != nil {
				return nil, err
			}
			return resource(tx, id, &built), nil
		}},
		{Kind: kindResDelete, Since: 1, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
			var id string
			if err := json.Unmarshal(raw, &id); err != nil {
				return nil, PayloadError(err)
			}
			tx.Delete("t/" + id)
			return nil, nil
		}},
	}
}

func resourceEnv(t testing.TB, kind Kind, lv, n int, payload string, key string) []byte {
	t.Helper()
	env := Envelope{Kind: kind, LogicVersion: lv, Time: testEpoch.Add(time.Duration(n) * time.Second),
		Actor: Actor{ID: "r1", Role: "reception"}, Payload: json.RawMessage(payload)}
	if kind == kindResCreate {
		env.IDs = []string{fmt.Sprintf("RES%06d", n)}
	}
	if key != "" {
		env.Idempotency = &Idempotency{Key: key, Route: "POST /" + string(kind), BodyHash: "h-" + payload}
	}
	b, err := json.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestResultNamesItsResource: from logic version 12 a command whose result
// is a stored resource keeps the resource's name in its idempotency record,
// not its bytes, and builds the bytes only where it was proposed; the state
// is the same on the node that proposed it and on one that did not. Before
// 12 every node keeps the bytes, as older binaries did.
func TestResultNamesItsResource(t *testing.T) {
	for _, lv := range []int{resourceRefSince - 1, resourceRefSince} {
		t.Run(fmt.Sprintf("logic version %d", lv), func(t *testing.T) {
			leader, follower := newTestFSMWith(t, resourceCommands()), newTestFSMWith(t, resourceCommands())
			for _, f := range []*testFSM{leader, follower} {
				f.proposerValuesOnly = true
				f.checked = newCheckedTable()
			}
			env := resourceEnv(t, kindResCreate, lv, 1, `"a"`, "k1")
			leader.checked.put(env, nil) // proposed on the leader
			got := map[string]*Result{"leader": applyOne(t, leader, 1, env), "follower": applyOne(t, follower, 1, env)}

			var stored []byte
			if err := leader.view(func(v *View) error {
				b, _, err := v.GetRaw("t/RES000001")
				stored = b
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got["leader"].Value, stored) {
				t.Fatalf("leader's result %.80s, want the stored record", got["leader"].Value)
			}
			idem := map[string][]byte{}
			for name, f := range map[string]*testFSM{"leader": leader, "follower": follower} {
				if err := f.view(func(v *View) error {
					b, _, err := v.GetRaw(keyIdem("k1"))
					idem[name] = b
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(idem["leader"], idem["follower"]) {
				t.Fatalf("idempotency records differ:\n%s\n%s", idem["leader"], idem["follower"])
			}
			if dataHash(t, leader) != dataHash(t, follower) {
				t.Fatal("state differs between the node that proposed and one that did not")
			}
			if lv < resourceRefSince {
				if got["follower"].Value == nil || got["leader"].Ref != nil || !bytes.Contains(idem["leader"], stored) {
					t.Fatalf("before %d: follower value %d bytes, ref %v, record %d bytes", resourceRefSince,
						len(got["follower"].Value), got["leader"].Ref, len(idem["leader"]))
				}
				return
			}
			if got["follower"].Value != nil {
				t.Fatalf("follower built the result (%d bytes) nobody waits for", len(got["follower"].Value))
			}
			for name, r := range got {
				if r.Ref == nil || r.Ref.ID != "RES000001" || r.Ref.Kind != kindResCreate {
					t.Fatalf("%s: ref %+v", name, r.Ref)
				}
			}
			if len(idem["leader"]) > 512 || bytes.Contains(idem["leader"], []byte("xxxx")) {
				t.Fatalf("idempotency record holds the resource (%d bytes): %.200s", len(idem["leader"]), idem["leader"])
			}
		})
	}
}

// TestRetryReadsTheResourceAgain: a retry of a command whose record names
// its resource gets the resource as it is now, in Apply and in the leader's
// pre-check alike: the first answer's bytes while nothing changed it, the
// newer state after a change, not_found once it is gone.
func TestRetryReadsTheResourceAgain(t *testing.T) {
	f := newTestFSMWith(t, resourceCommands())
	f.proposerValuesOnly = true
	f.checked = newCheckedTable()
	index := uint64(0)
	apply := func(env []byte) *Result {
		index++
		f.checked.put(env, nil)
		return applyOne(t, f, index, env)
	}
	// replays is the retry of k1 applied, and as the pre-check answers it.
	replays := func(n int) (*Result, *Result) {
		t.Helper()
		applied := apply(resourceEnv(t, kindResCreate, LogicVersion, n, `"a"`, "k1"))
		var pre *Result
		if err := f.view(func(v *View) error {
			var rec idemRecord
			if _, err := v.Get(keyIdem("k1"), &rec); err != nil {
				return err
			}
			pre = idemAnswer(&rec, &Idempotency{Key: "k1", Route: "POST /" + string(kindResCreate), BodyHash: `h-"a"`}, 0)
			return f.cmds.reread(v, pre)
		}); err != nil {
			t.Fatal(err)
		}
		if !applied.Replayed || !pre.Replayed {
			t.Fatalf("retry not replayed: applied %+v, pre-check %+v", applied, pre)
		}
		return applied, pre
	}

	first := apply(resourceEnv(t, kindResCreate, LogicVersion, 1, `"a"`, "k1"))
	if first.Value == nil || first.Replayed {
		t.Fatalf("first: %+v", first)
	}
	for _, r := range func() []*Result { a, p := replays(2); return []*Result{a, p} }() {
		if !bytes.Equal(r.Value, first.Value) || r.Index != first.Index {
			t.Fatalf("unchanged: retry got index %d %.60s, want index %d %.60s", r.Index, r.Value, first.Index, first.Value)
		}
	}

	touched := apply(resourceEnv(t, kindResTouch, LogicVersion, 3, `"RES000001"`, ""))
	for _, r := range func() []*Result { a, p := replays(4); return []*Result{a, p} }() {
		if !bytes.Equal(r.Value, touched.Value) || bytes.Equal(r.Value, first.Value) {
			t.Fatalf("after a change: retry got %.60s, want the changed record %.60s", r.Value, touched.Value)
		}
		if r.Index != first.Index {
			t.Fatalf("retry index %d, want the first command's %d", r.Index, first.Index)
		}
	}

	apply(resourceEnv(t, kindResDelete, LogicVersion, 5, `"RES000001"`, ""))
	for _, r := range func() []*Result { a, p := replays(6); return []*Result{a, p} }() {
		if r.Err == nil || r.Err.Code != CodeNotFound || r.Value != nil {
			t.Fatalf("after deletion: retry got %+v, want not_found", r)
		}
	}
}

// TestProposerGetsTheResource: on a Store, a command proposed through
// Propose answers with the resource's bytes; one that reached the FSM
// without this node's Propose (as from an earlier leader) is applied
// without them, and withValue, Propose's fallback, reads them again.
func TestProposerGetsTheResource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := soloStore(ctx, t, resourceCommands(), nil)
	res, err := s.Propose(ctx, Proposal{Kind: kindResCreate, Actor: Actor{ID: "r1"}, Payload: []byte(`"a"`)})
	if err != nil || res.Err != nil || res.Ref == nil {
		t.Fatalf("propose: %v %+v", err, res)
	}
	if !bytes.Contains(res.Value, []byte(`"id":"`+res.Ref.ID+`"`)) {
		t.Fatalf("proposer's result %.80s", res.Value)
	}

	env := resourceEnv(t, kindResCreate, LogicVersion, 7, `"b"`, "")
	f := s.raft.Apply(encodeEntry([][]byte{env}), 5*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	rs, ok := f.Response().([]*Result)
	if !ok || len(rs) != 1 {
		t.Fatalf("response %#v", f.Response())
	}
	other := rs[0]
	if other.Ref == nil || other.Ref.ID != "RES000007" || other.Value != nil {
		t.Fatalf("applied without a local proposal: ref %+v, value %d bytes", other.Ref, len(other.Value))
	}
	if err := s.withValue(ctx, other); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(other.Value, []byte(`"id":"RES000007"`)) {
		t.Fatalf("read again: %.80s", other.Value)
	}
}
