// Package fsmtest drives a cluster.Replica (the state machine without raft)
// in tests, with logs built as a leader builds them: the engine's tests and
// the domain packages' share it.
package fsmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// Logger discards, unless FRONTDOOR_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("FRONTDOOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// FSM is a replica in a temporary folder, closed when the test ends.
type FSM struct {
	*cluster.Replica
}

// Open opens an empty replica applying cmds (and the engine's own).
func Open(t testing.TB, cmds []cluster.Command) *FSM {
	t.Helper()
	r, err := cluster.OpenReplica(t.TempDir(), cmds, Logger())
	if err != nil {
		t.Fatalf("open replica: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return &FSM{Replica: r}
}

// FatalCount is how many errors stopped the state machine.
func (f *FSM) FatalCount() int { return len(f.Fatals()) }

// ReadState runs fn on a consistent view; an error fails the test.
func (f *FSM) ReadState(t testing.TB, fn func(v *cluster.View) error) {
	t.Helper()
	if err := f.Read(fn); err != nil {
		t.Fatal(err)
	}
}

// OpenView is a view of the state valid until the test ends.
func (f *FSM) OpenView(t testing.TB) *cluster.View {
	t.Helper()
	v, done, err := f.View()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	return v
}

// Epoch is the proposers' clock at the start of every test log.
var Epoch = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// AttendanceEnv builds the n-th attendance.create envelope as a leader
// would.
func AttendanceEnv(t testing.TB, n int, body string, idem *cluster.Idempotency) []byte {
	t.Helper()
	env := cluster.Envelope{
		Kind:         "attendance.create",
		LogicVersion: cluster.LogicVersion,
		// Some proposer clocks go backwards: the FSM clock must not.
		Time:        Epoch.Add(time.Duration(n%7) * time.Second).Add(time.Duration(n) * time.Millisecond),
		Actor:       cluster.Actor{ID: "r1", Name: "Reception One", Role: "reception"},
		IDs:         []string{fmt.Sprintf("ATT%06d", n)},
		Idempotency: idem,
		Payload:     json.RawMessage(body),
	}
	b, err := json.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AttendanceBody is the n-th walk-in's attendance.create payload.
func AttendanceBody(n int) string {
	return fmt.Sprintf(`{"patient":{"given_name":"Ada%d","family_name":"Lovelace","date_of_birth":"1990-12-10","nhs_number":"9434765919","postcode":"DY1 1AA"},"complaint":"sore throat %d"}`, n, n)
}

// Entry is a command entry at index carrying envs.
func Entry(index uint64, envs ...[]byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: cluster.EncodeEntry(envs...)}
}

// AttendanceLog is a deterministic log of entries, each carrying 1..4
// attendance.create commands.
func AttendanceLog(t testing.TB, entries int) []*raft.Log {
	var logs []*raft.Log
	n := 0
	for i := 1; i <= entries; i++ {
		var envs [][]byte
		for j := 0; j <= i%4; j++ {
			envs = append(envs, AttendanceEnv(t, n, AttendanceBody(n), nil))
			n++
		}
		logs = append(logs, Entry(uint64(i), envs...))
	}
	return logs
}

// ApplyInBatches feeds logs to f in batches of size (as raft would).
func ApplyInBatches(f *FSM, logs []*raft.Log, size int) [][]any {
	var out [][]any
	for i := 0; i < len(logs); i += size {
		end := min(i+size, len(logs))
		out = append(out, f.ApplyBatch(logs[i:end]))
	}
	return out
}

// ApplyOne applies one entry carrying env at index and returns its Result.
func ApplyOne(t testing.TB, f *FSM, index uint64, env []byte) *cluster.Result {
	t.Helper()
	res, ok := f.ApplyBatch([]*raft.Log{Entry(index, env)})[0].([]*cluster.Result)
	if !ok || len(res) != 1 {
		t.Fatalf("entry %d: %#v", index, res)
	}
	return res[0]
}

// MustHash is the replica's state hash and applied index.
func MustHash(t testing.TB, f *FSM) (string, uint64) {
	t.Helper()
	h, idx, err := f.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h, idx
}

// DataHash hashes every key except the m/ metadata (applied index, clock).
func DataHash(t testing.TB, f *FSM) string {
	t.Helper()
	sum := sha256.New()
	f.ReadState(t, func(v *cluster.View) error {
		return v.Scan("", "", func(k string, val []byte) error {
			if strings.HasPrefix(k, "m/") {
				return nil
			}
			fmt.Fprintf(sum, "%d:%s=%d:%s;", len(k), k, len(val), val)
			return nil
		})
	})
	return hex.EncodeToString(sum.Sum(nil))
}

// KindEnv builds the n-th envelope of any kind as a leader would.
func KindEnv(t testing.TB, kind cluster.Kind, n int, actor cluster.Actor, payload any, ids ...string) []byte {
	t.Helper()
	return KindEnvAt(t, cluster.LogicVersion, kind, n, actor, payload, ids...)
}

// KindEnvAt is KindEnv proposed under logic version lv (a leader whose
// cluster still has a node of an older binary, or an entry replayed from
// an older log).
func KindEnvAt(t testing.TB, lv int, kind cluster.Kind, n int, actor cluster.Actor, payload any, ids ...string) []byte {
	t.Helper()
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&cluster.Envelope{Kind: kind, LogicVersion: lv, Time: Epoch.Add(time.Duration(n) * time.Second),
		Actor: actor, IDs: ids, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ResultValue is the only Result of one applied entry.
func ResultValue(t testing.TB, r any) *cluster.Result {
	t.Helper()
	rs, ok := r.([]*cluster.Result)
	if !ok || len(rs) != 1 {
		t.Fatalf("apply result %#v", r)
	}
	return rs[0]
}
