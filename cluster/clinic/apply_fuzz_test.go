package clinic_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
)

// applyBase is the state FuzzApplyCommand applies to: the golden data
// dir's (testdata/golden-logic4.tar.gz: a loadtest's walk-ins, answers,
// observations, registrations, referrals, dispatches, keys, directory and
// protocols), and what its log tells about it.
type applyBase struct {
	fsmDir  string // the state, copied for every run
	applied uint64
	clock   time.Time // the newest proposer time in the log
	actors  []cluster.Actor
	kinds   map[cluster.Kind]bool
	envs    []cluster.Envelope // every command of the log
}

func extractGolden(tb testing.TB, dir string) {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden-logic4.tar.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			tb.Fatalf("archive entry %q leaves the folder", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
				var out *os.File
				if out, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
					_, err = io.Copy(out, tr)
					if cerr := out.Close(); err == nil {
						err = cerr
					}
				}
			}
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func loadApplyBase(tb testing.TB) *applyBase {
	tb.Helper()
	dir := tb.TempDir()
	extractGolden(tb, dir)
	b := &applyBase{fsmDir: filepath.Join(dir, "fsm"), kinds: map[cluster.Kind]bool{
		cluster.KindClusterInit: true, cluster.KindNodeRegister: true, cluster.KindNodeRemove: true}}
	for _, c := range clinic.Commands() {
		b.kinds[c.Kind] = true
	}
	r, err := cluster.OpenReplica(b.fsmDir, clinic.Commands(), fsmtest.Logger())
	if err != nil {
		tb.Fatal(err)
	}
	b.applied = r.AppliedIndex()
	if err := r.Close(); err != nil {
		tb.Fatal(err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft", "raft.db")})
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[cluster.Actor]bool{cluster.SystemActor: true}
	b.actors = []cluster.Actor{cluster.SystemActor}
	for i := uint64(1); i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			tb.Fatalf("log %d: %v", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		envs, err := cluster.DecodeEntry(l.Data)
		if err != nil {
			tb.Fatalf("log %d: %v", i, err)
		}
		for _, e := range envs {
			b.envs = append(b.envs, e)
			if e.Time.After(b.clock) {
				b.clock = e.Time
			}
			if !seen[e.Actor] {
				seen[e.Actor] = true
				b.actors = append(b.actors, e.Actor)
			}
		}
	}
	sort.SliceStable(b.actors[1:], func(i, j int) bool { return b.actors[1+i].ID < b.actors[1+j].ID })
	return b
}

// fuzzIDs are proposer ids no record of the golden state has.
var fuzzIDs = []string{"01KZZZZZZZFUZZ000000000001", "01KZZZZZZZFUZZ000000000002", "01KZZZZZZZFUZZ000000000003", "01KZZZZZZZFUZZ000000000004"}

// envelope builds the envelope a leader would propose: this binary's logic
// version, the leader's clock after the log's, fresh ids, the actor the
// caller's key names.
func (b *applyBase) envelope(kind cluster.Kind, actor cluster.Actor, payload []byte, idemKey string, n int) ([]byte, error) {
	env := cluster.Envelope{Kind: kind, LogicVersion: cluster.LogicVersion, Time: b.clock.Add(time.Minute + time.Duration(n)*time.Millisecond),
		Actor: actor, IDs: fuzzIDs[2*n : 2*n+2], Payload: payload}
	if idemKey != "" {
		sum := sha256.Sum256(payload)
		env.Idempotency = &cluster.Idempotency{Key: idemKey, Route: "POST /v1/fuzz", BodyHash: hex.EncodeToString(sum[:])}
	}
	return json.Marshal(&env)
}

// applied is one replica's answer to the fuzzed entry.
type appliedEntry struct {
	results []*cluster.Result
	fatal   []error
	hash    string
	index   uint64
}

func (b *applyBase) apply(t *testing.T, data []byte) appliedEntry {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(b.fsmDir)); err != nil {
		t.Fatal(err)
	}
	r, err := cluster.OpenReplica(dir, clinic.Commands(), fsmtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := r.ApplyBatch([]*raft.Log{{Index: b.applied + 1, Term: 99, Type: raft.LogCommand, Data: data}})
	var out appliedEntry
	if rs, ok := res[0].([]*cluster.Result); ok {
		out.results = rs
	} else {
		// The fatal error reaches Fatals from a goroutine.
		for i := 0; i < 200 && len(out.fatal) == 0; i++ {
			if out.fatal = r.Fatals(); len(out.fatal) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if len(out.fatal) == 0 {
			out.fatal = []error{errors.New("entry refused, no fatal error recorded")}
		}
		return out
	}
	if out.hash, out.index, err = r.StateHash(); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzApplyCommand is the state machine's decoding and applying of a
// command entry, with every command kind this binary has, over the golden
// data dir's state. The fuzzer picks the kind, the actor (the system or one
// of the log's keys), the payload (seeded with every payload of the golden
// log), an Idempotency-Key, and a mode: bit 0 puts the command in the entry
// twice (a batch: the second sees the first's writes), bit 1 applies the
// entry on a second copy of the state. The envelope is what a leader builds
// from them (this logic version, its clock, fresh ids).
//
// Properties: no panic (Apply has no recover: a panic would take every
// node down on the same entry); a well-formed command of a known kind
// never stops the state machine: whatever its payload, it gets a Result,
// its refusal a CommandError with a code and a message (the same on every
// node); the entry is applied (the applied index moves) with one Result
// per command at its index, and a written value is JSON; two copies of the
// state applying the same entry get the same Results and the same state
// hash.
func FuzzApplyCommand(f *testing.F) {
	b := loadApplyBase(f)
	actorOf := map[cluster.Actor]uint8{}
	for i, a := range b.actors {
		actorOf[a] = uint8(i)
	}
	perKind := map[cluster.Kind]int{}
	for i, e := range b.envs {
		if len(e.Payload) > 64<<10 || perKind[e.Kind] >= 8 {
			continue // protocols.load: the embedded set, loaded already
		}
		perKind[e.Kind]++
		f.Add(string(e.Kind), actorOf[e.Actor], []byte(e.Payload), "", uint8(i%4))
	}
	for k := range b.kinds {
		f.Add(string(k), uint8(0), []byte(`{}`), "", uint8(0))
		f.Add(string(k), uint8(1), []byte(`{"id":"01KZZZZZZZFUZZ000000000009"}`), "idem-1", uint8(2))
	}
	f.Add("protocols.load", uint8(1), []byte(`{"files":[{"name":"a.yaml","content":"id: a\nversion: 1\n"}]}`), "", uint8(0))
	f.Add("protocol.upload", uint8(1), []byte(`{"content":"id: chest-pain\nversion: 99\n"}`), "", uint8(0))
	f.Add("attendance.create", uint8(2), []byte(`{"complaint":"chest pain","context":{"age_years":64}}`), "k1", uint8(3))
	f.Add("attendance.create", uint8(2), []byte(`{"complaint":"fever","context":{"age_days":10}}`), "", uint8(1))
	f.Add("attendance.answer", uint8(2), []byte(`{"attendance_id":"x","answers":[{"question":"q","value":"yes"}]}`), "", uint8(0))
	f.Add("attendance.observe", uint8(2), []byte(`{"attendance_id":"x","observations":{"spo2":80,"pulse":140}}`), "", uint8(0))
	f.Add("dispatch.accept", uint8(0), []byte(`{"dispatch_id":"x","eta":"2026-12-05T15:00:00Z"}`), "", uint8(0))
	f.Add("cluster.node_register", uint8(0), []byte(`{"id":"n9","raft_addr":"10.0.0.9:7000","http_addr":"10.0.0.9:8080"}`), "", uint8(0))
	f.Add("no.such.kind", uint8(0), []byte(`{}`), "", uint8(0))
	f.Fuzz(func(t *testing.T, kind string, actor uint8, payload []byte, idemKey string, mode uint8) {
		if !b.kinds[cluster.Kind(kind)] || !json.Valid(payload) || len(payload) > 1<<20 || len(idemKey) > 255 {
			// A leader proposes neither an unknown kind nor a payload
			// that is not JSON, nor a key the HTTP layer refuses.
			return
		}
		a := b.actors[int(actor)%len(b.actors)]
		n := 1
		if mode&1 != 0 {
			n = 2
		}
		var envs [][]byte
		for i := 0; i < n; i++ {
			e, err := b.envelope(cluster.Kind(kind), a, payload, idemKey, i)
			if err != nil {
				t.Fatalf("envelope: %v", err)
			}
			envs = append(envs, e)
		}
		data := cluster.EncodeEntry(envs...)
		got := b.apply(t, data)
		if got.fatal != nil {
			t.Fatalf("%s by %s %s: a well-formed command stopped the state machine: %v", kind, a.Role, payload, got.fatal)
		}
		if len(got.results) != n || got.index != b.applied+1 {
			t.Fatalf("%s: %d results for %d commands, applied index %d after %d", kind, len(got.results), n, got.index, b.applied)
		}
		for _, r := range got.results {
			if r == nil || r.Index != b.applied+1 {
				t.Fatalf("%s: result %+v is not at index %d", kind, r, b.applied+1)
			}
			if r.Err != nil && (r.Err.Code == "" || r.Err.Message == "") {
				t.Fatalf("%s: refusal without code or message: %+v", kind, r.Err)
			}
			if r.Err == nil && r.Value != nil && !json.Valid(r.Value) {
				t.Fatalf("%s: written value is not JSON: %q", kind, r.Value)
			}
		}
		if mode&2 != 0 {
			other := b.apply(t, data)
			if !reflect.DeepEqual(got, other) {
				t.Fatalf("%s by %s %s: two copies of the state disagree:\n%+v\n%+v", kind, a.Role, payload, got, other)
			}
		}
	})
}
