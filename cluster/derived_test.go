package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// derivedFSM is an FSM whose commands put values under c/ or f/ and read
// the join of every value under c/ through Tx.Derived, counting builds.
type derivedFSM struct {
	*testFSM
	builds int
}

const (
	kindDerivedPut     Kind = "test.derived.put"
	kindDerivedRead    Kind = "test.derived.read"
	kindDerivedPutRead Kind = "test.derived.putread"
)

type derivedPut struct {
	Key string `json:"key"`
	Val string `json:"val"`
}

func newDerivedFSM(t testing.TB) *derivedFSM {
	t.Helper()
	d := &derivedFSM{}
	read := func(tx *Tx) (any, error) {
		v, err := tx.Derived("joined", []string{"c/"}, func() (any, error) {
			d.builds++
			var vals []string
			err := tx.Scan("c/", "", func(_ string, v []byte) error {
				vals = append(vals, string(v))
				return nil
			})
			if err != nil {
				return nil, err
			}
			// A scan sees the earlier commands' writes, a get the
			// command's own as well.
			last, _, err := tx.GetRaw("c/3")
			return strings.Join(vals, ",") + "|" + string(last), err
		})
		return v, err
	}
	put := func(tx *Tx, raw json.RawMessage) error {
		var in derivedPut
		if err := json.Unmarshal(raw, &in); err != nil {
			return PayloadError(err)
		}
		tx.PutRaw(in.Key, []byte(in.Val))
		return nil
	}
	cmds := []Command{
		{Kind: kindDerivedPut, Since: 1, Apply: func(tx *Tx, raw json.RawMessage) (any, error) { return nil, put(tx, raw) }},
		{Kind: kindDerivedRead, Since: 1, Apply: func(tx *Tx, _ json.RawMessage) (any, error) { return read(tx) }},
		{Kind: kindDerivedPutRead, Since: 1, Apply: func(tx *Tx, raw json.RawMessage) (any, error) {
			if err := put(tx, raw); err != nil {
				return nil, err
			}
			return read(tx)
		}},
	}
	d.testFSM = newTestFSMWith(t, cmds)
	return d
}

func derivedEnv(t testing.TB, kind Kind, key, val string) []byte {
	t.Helper()
	p, _ := json.Marshal(derivedPut{Key: key, Val: val})
	b, err := json.Marshal(&Envelope{Kind: kind, LogicVersion: LogicVersion, Time: testEpoch,
		Actor: Actor{ID: "r1", Role: "reception"}, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readResults returns what each read command of res answered.
func readResults(t testing.TB, res []any) []string {
	t.Helper()
	var out []string
	for i, r := range res {
		rs, ok := r.([]*Result)
		if !ok {
			t.Fatalf("entry %d: %#v", i, r)
		}
		for _, x := range rs {
			if x.Err != nil {
				t.Fatalf("entry %d: %v", i, x.Err)
			}
			if len(x.Value) > 0 && string(x.Value) != "null" {
				var s string
				if err := json.Unmarshal(x.Value, &s); err != nil {
					t.Fatal(err)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestDerivedIsReusedUntilItsRangeChanges: a derived value is built once
// and reused by later commands, in one batch and across batches, until a
// command writes under its prefix; a write elsewhere keeps it; a command
// that wrote under the prefix itself sees its write; a restored snapshot
// drops it.
func TestDerivedIsReusedUntilItsRangeChanges(t *testing.T) {
	d := newDerivedFSM(t)
	idx := uint64(0)
	apply := func(envs ...[]byte) []string {
		var logs []*raft.Log
		for _, e := range envs {
			idx++
			logs = append(logs, cmdLog(idx, e))
		}
		return readResults(t, d.ApplyBatch(logs))
	}
	put := func(k, v string) []byte { return derivedEnv(t, kindDerivedPut, k, v) }
	read := derivedEnv(t, kindDerivedRead, "", "")

	steps := []struct {
		name   string
		envs   [][]byte
		want   []string
		builds int // builds so far
	}{
		{"first read builds", [][]byte{put("c/1", "a"), read}, []string{"a|"}, 1},
		{"later reads reuse, in the batch and after", [][]byte{read, read}, []string{"a|", "a|"}, 1},
		{"a write elsewhere keeps it", [][]byte{put("f/1", "x"), read}, []string{"a|"}, 1},
		{"a write under the prefix drops it", [][]byte{put("c/2", "b"), read, read}, []string{"a,b|", "a,b|"}, 2},
		{"a command sees its own write, not kept", [][]byte{derivedEnv(t, kindDerivedPutRead, "c/3", "c")}, []string{"a,b|c"}, 3},
		{"the next command builds again", [][]byte{read}, []string{"a,b,c|c"}, 4},
		{"a delete-by-overwrite in the range drops it", [][]byte{put("c/1", "z"), read}, []string{"z,b,c|c"}, 5},
	}
	for _, s := range steps {
		got := apply(s.envs...)
		if fmt.Sprint(got) != fmt.Sprint(s.want) || d.builds != s.builds {
			t.Fatalf("%s: read %v after %d builds, want %v after %d", s.name, got, d.builds, s.want, s.builds)
		}
	}

	// A snapshot of this state, more writes, then the snapshot restored
	// into a fresh FSM that has a stale value cached: the restore drops it.
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	data := snapshotBytes(t, snap)
	e := newDerivedFSM(t)
	eidx := uint64(0)
	for _, env := range [][]byte{put("c/9", "other"), read} {
		eidx++
		e.ApplyBatch([]*raft.Log{cmdLog(eidx, env)})
	}
	if e.builds != 1 {
		t.Fatalf("setup: %d builds", e.builds)
	}
	if err := e.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	idx++
	if got := readResults(t, e.ApplyBatch([]*raft.Log{cmdLog(idx, read)})); fmt.Sprint(got) != "[z,b,c|c]" || e.builds != 2 {
		t.Fatalf("after restore: read %v after %d builds, want [z,b,c|c] after 2", got, e.builds)
	}
}

// TestDerivedAfterASplitBatch: a batch too big for one Badger transaction
// is applied again in smaller parts. What a read derived in the first,
// discarded attempt — after a write the retried part does not reach —
// must not answer a read in the retried part: each read answers as it
// does when every entry is applied on its own.
func TestDerivedAfterASplitBatch(t *testing.T) {
	long := strings.Repeat("x", 300)
	var logs []*raft.Log
	idx := uint64(0)
	add := func(envs ...[]byte) {
		idx++
		logs = append(logs, cmdLog(idx, envs...))
	}
	read := derivedEnv(t, kindDerivedRead, "", "")
	first := cmdLog(1, derivedEnv(t, kindDerivedPut, "c/1", "a"))
	idx = 1
	add(read)
	for i := range 30 {
		var envs [][]byte
		for j := range 100 {
			envs = append(envs, derivedEnv(t, kindDerivedPut, fmt.Sprintf("f/%03d/%03d", i, j), long))
		}
		add(envs...)
		add(read)
	}
	add(derivedEnv(t, kindDerivedPut, "c/2", "b"))
	add(read)

	a, b := newDerivedFSM(t), newDerivedFSM(t)
	a.ApplyBatch([]*raft.Log{first})
	b.ApplyBatch([]*raft.Log{first})
	gotA := readResults(t, a.ApplyBatch(logs))
	if a.commits.Load() < 3 {
		t.Fatalf("batch committed in %d transaction(s); the test did not force a split", a.commits.Load())
	}
	var gotB []string
	for _, l := range logs {
		gotB = append(gotB, readResults(t, b.ApplyBatch([]*raft.Log{l}))...)
	}
	if fmt.Sprint(gotA) != fmt.Sprint(gotB) {
		t.Fatalf("split batch read %v\none at a time read %v", gotA, gotB)
	}
	if last := gotA[len(gotA)-1]; last != "a,b|" || gotA[0] != "a|" {
		t.Fatalf("reads %v: want a first and a,b last", gotA)
	}
	ha, _ := mustHash(t, a.testFSM)
	hb, _ := mustHash(t, b.testFSM)
	if ha != hb {
		t.Fatal("split batch and one-at-a-time differ in state")
	}
}
