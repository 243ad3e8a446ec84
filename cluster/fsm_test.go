package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

func testLogger() *slog.Logger {
	if os.Getenv("FRONTDOOR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testFSM struct {
	*fsm
	mu     sync.Mutex
	fatals []error
}

func newTestFSM(t testing.TB) *testFSM { return newTestFSMWith(t, testCommands()) }

// newTestFSMWith is newTestFSM with the test's own commands.
func newTestFSMWith(t testing.TB, cmds []Command) *testFSM {
	t.Helper()
	tf := &testFSM{}
	f, err := openFSM(t.TempDir(), nil, mustCommandTable(cmds), testLogger(), nil, func(err error) {
		tf.mu.Lock()
		tf.fatals = append(tf.fatals, err)
		tf.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("open fsm: %v", err)
	}
	tf.fsm = f
	t.Cleanup(func() { _ = f.close() })
	return tf
}

func (tf *testFSM) fatalCount() int {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return len(tf.fatals)
}

var testEpoch = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// testEnv builds an attendance.create Envelope as a leader would.
func testEnv(t testing.TB, n int, body string, idem *Idempotency) []byte {
	t.Helper()
	env := Envelope{
		Kind:         kindTestCreate,
		LogicVersion: LogicVersion,
		// Some proposer clocks go backwards: the FSM clock must not.
		Time:        testEpoch.Add(time.Duration(n%7) * time.Second).Add(time.Duration(n) * time.Millisecond),
		Actor:       Actor{ID: "r1", Name: "Reception One", Role: "reception"},
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

func attendanceBody(n int) string {
	return fmt.Sprintf(`{"patient":{"given_name":"Ada%d","family_name":"Lovelace","date_of_birth":"1990-12-10","nhs_number":"9434765919","postcode":"DY1 1AA"},"complaint":"sore throat %d"}`, n, n)
}

func cmdLog(index uint64, envs ...[]byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: encodeEntry(envs)}
}

// testLog is a deterministic log of entries: each entry carries 1..4 commands.
func testLog(t testing.TB, entries int) []*raft.Log {
	var logs []*raft.Log
	n := 0
	for i := 1; i <= entries; i++ {
		var envs [][]byte
		for j := 0; j <= i%4; j++ {
			envs = append(envs, testEnv(t, n, attendanceBody(n), nil))
			n++
		}
		logs = append(logs, cmdLog(uint64(i), envs...))
	}
	return logs
}

// applyInBatches feeds logs to f in batches of size (as raft would).
func applyInBatches(f *testFSM, logs []*raft.Log, size int) [][]any {
	var out [][]any
	for i := 0; i < len(logs); i += size {
		end := min(i+size, len(logs))
		out = append(out, f.ApplyBatch(logs[i:end]))
	}
	return out
}

func mustHash(t testing.TB, f *testFSM) (string, uint64) {
	t.Helper()
	h, idx, err := f.stateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h, idx
}

// dataHash hashes every key except the m/ metadata (applied index, clock).
func dataHash(t testing.TB, f *testFSM) string {
	t.Helper()
	h, err := f.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	sum := sha256.New()
	err = h.db.View(func(txn *badger.Txn) error {
		return scanTxn(txn, "", "", func(k string, v []byte) error {
			if strings.HasPrefix(k, "m/") {
				return nil
			}
			fmt.Fprintf(sum, "%d:%s=%d:%s;", len(k), k, len(v), v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

func TestApplySameEntriesTwiceChangesNothing(t *testing.T) {
	f := newTestFSM(t)
	logs := testLog(t, 30)
	applyInBatches(f, logs, 7)
	h1, idx1 := mustHash(t, f)
	count := f.applyCount.Load()
	if idx1 != 30 || count != 75 {
		t.Fatalf("after first pass: applied %d, commands %d", idx1, count)
	}
	for _, size := range []int{1, 30} {
		res := applyInBatches(f, logs, size)
		for _, batch := range res {
			for _, r := range batch {
				if r != nil {
					t.Fatalf("re-applied entry returned %v, want nil (skipped)", r)
				}
			}
		}
	}
	h2, idx2 := mustHash(t, f)
	if h1 != h2 || idx2 != idx1 || f.applyCount.Load() != count {
		t.Fatalf("second pass changed state: %s@%d -> %s@%d, commands %d -> %d", h1, idx1, h2, idx2, count, f.applyCount.Load())
	}
}

func TestTwoFSMsSameLogSameState(t *testing.T) {
	logs := testLog(t, 40)
	a, b := newTestFSM(t), newTestFSM(t)
	ra := applyInBatches(a, logs, 40) // one batch
	rb := applyInBatches(b, logs, 1)  // one entry per batch
	ha, ia := mustHash(t, a)
	hb, ib := mustHash(t, b)
	if ha != hb || ia != ib {
		t.Fatalf("replicas differ: %s@%d vs %s@%d", ha, ia, hb, ib)
	}
	// Results are identical too.
	var flatA, flatB []any
	for _, r := range ra {
		flatA = append(flatA, r...)
	}
	for _, r := range rb {
		flatB = append(flatB, r...)
	}
	if !reflect.DeepEqual(flatA, flatB) {
		t.Fatal("replicas returned different results")
	}
}

func TestFSMClockIsMonotonic(t *testing.T) {
	f := newTestFSM(t)
	res := applyInBatches(f, testLog(t, 20), 3)
	var last time.Time
	for _, batch := range res {
		for _, r := range batch {
			for _, cr := range r.([]*Result) {
				var a testRecord
				if err := json.Unmarshal(cr.Value, &a); err != nil {
					t.Fatal(err)
				}
				if a.ArrivedAt.Before(last) {
					t.Fatalf("clock went back: %v after %v", a.ArrivedAt, last)
				}
				last = a.ArrivedAt
			}
		}
	}
	if !f.clock().Equal(last) {
		t.Fatalf("fsm clock %v, last arrival %v", f.clock(), last)
	}
}

// memSink is an in-memory raft.SnapshotSink.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func snapshotBytes(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	snap.Release()
	return sink.Bytes()
}

func TestSnapshotRestoreIntoEmptyFSM(t *testing.T) {
	a := newTestFSM(t)
	applyInBatches(a, testLog(t, 25), 5)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	data := snapshotBytes(t, snap)
	b := newTestFSM(t)
	if err := b.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	ha, ia := mustHash(t, a)
	hb, ib := mustHash(t, b)
	if ha != hb || ia != ib || ib != 25 {
		t.Fatalf("restored %s@%d, want %s@%d", hb, ib, ha, ia)
	}
	if !b.clock().Equal(a.clock()) {
		t.Fatalf("restored clock %v, want %v", b.clock(), a.clock())
	}
	// The restored FSM carries on: applying the next entries works and
	// skips what the snapshot covers.
	more := testLog(t, 30)
	applyInBatches(a, more, 30)
	applyInBatches(b, more, 30)
	ha, _ = mustHash(t, a)
	hb, _ = mustHash(t, b)
	if ha != hb {
		t.Fatal("replicas differ after continuing from a restored snapshot")
	}
}

// TestOlderSnapshotDoesNotTakeStateBack: hashicorp/raft installs any
// snapshot a leader sends, and a leader behind on a follower's progress
// sends one older than what the follower has applied. The follower keeps its
// newer state (its stale reads never go back in time) and skips the entries
// raft then re-sends; a snapshot past its state is still loaded.
func TestOlderSnapshotDoesNotTakeStateBack(t *testing.T) {
	logs := testLog(t, 30)
	leader := newTestFSM(t)
	applyInBatches(leader, logs[:10], 5)
	snap, err := leader.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	older := snapshotBytes(t, snap)

	follower := newTestFSM(t)
	applyInBatches(follower, logs[:20], 5)
	before, at := mustHash(t, follower)
	if err := follower.Restore(io.NopCloser(bytes.NewReader(older))); err != nil {
		t.Fatalf("restore an older snapshot: %v", err)
	}
	if h, i := mustHash(t, follower); h != before || i != at || at != 20 {
		t.Fatalf("state after an older snapshot: %s@%d, want %s@%d", h, i, before, at)
	}
	if n := follower.restores.Load(); n != 0 {
		t.Fatalf("%d restores counted for a snapshot that was not loaded", n)
	}
	// raft re-sends the entries after the snapshot's index: skipped or applied once.
	applyInBatches(leader, logs[10:], 7)
	applyInBatches(follower, logs[10:], 7)
	hl, il := mustHash(t, leader)
	hf, iff := mustHash(t, follower)
	if hl != hf || il != iff || il != 30 {
		t.Fatalf("follower %s@%d, leader %s@%d", hf, iff, hl, il)
	}

	// A snapshot past the follower's state replaces it.
	more := testLog(t, 40)
	applyInBatches(leader, more[30:], 5)
	snap, err = leader.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, snap)))); err != nil {
		t.Fatal(err)
	}
	hl, il = mustHash(t, leader)
	hf, iff = mustHash(t, follower)
	if hl != hf || il != iff || iff != 40 || follower.restores.Load() != 1 {
		t.Fatalf("after a newer snapshot: follower %s@%d, leader %s@%d", hf, iff, hl, il)
	}
}

func TestSnapshotWhileWritesContinueRestoresToItsIndex(t *testing.T) {
	logs := testLog(t, 60)
	a := newTestFSM(t)
	applyInBatches(a, logs[:20], 4)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes continue while Persist streams the snapshot.
	done := make(chan struct{})
	go func() {
		defer close(done)
		applyInBatches(a, logs[20:], 2)
	}()
	data := snapshotBytes(t, snap)
	<-done

	restored := newTestFSM(t)
	if err := restored.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	reference := newTestFSM(t)
	applyInBatches(reference, logs[:20], 20)
	hr, ir := mustHash(t, restored)
	hw, iw := mustHash(t, reference)
	if ir != 20 || hr != hw || ir != iw {
		t.Fatalf("snapshot restored to %s@%d, want exactly index 20 %s@%d", hr, ir, hw, iw)
	}
	if _, ia := mustHash(t, a); ia != 60 {
		t.Fatalf("writer reached %d, want 60", ia)
	}
}

// TestInvalidCommandSameErrorEverywhereNoChange: a command its handler
// refuses gets the same error on every replica and changes nothing but the
// applied index (the clinic's own refusals: care's test of the same name).
func TestInvalidCommandSameErrorEverywhereNoChange(t *testing.T) {
	cases := []struct {
		name, body, field string
	}{
		{"missing complaint", `{"patient":{}}`, "complaint"},
		{"blank complaint", `{"complaint":"  "}`, "complaint"},
		{"not an object", `[1,2]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := testLog(t, 3)
			bad := cmdLog(4, testEnv(t, 99, tc.body, nil))
			var results []*Result
			var hashes []string
			for i := 0; i < 2; i++ {
				f := newTestFSM(t)
				applyInBatches(f, base, 3)
				before := dataHash(t, f)
				res := f.ApplyBatch([]*raft.Log{bad})
				r := res[0].([]*Result)[0]
				if r.Err == nil {
					t.Fatalf("want a command error, got %+v", r)
				}
				if tc.field != "" && r.Err.Fields[tc.field] == "" {
					t.Fatalf("error %v lacks field %s", r.Err, tc.field)
				}
				if after := dataHash(t, f); after != before {
					t.Fatal("an invalid command changed state")
				}
				if f.appliedIndex() != 4 || f.fatalCount() != 0 {
					t.Fatalf("applied %d, fatals %d", f.appliedIndex(), f.fatalCount())
				}
				results = append(results, r)
				h, _ := mustHash(t, f)
				hashes = append(hashes, h)
			}
			if !reflect.DeepEqual(results[0], results[1]) || hashes[0] != hashes[1] {
				t.Fatalf("nodes disagree: %+v vs %+v", results[0].Err, results[1].Err)
			}
		})
	}
}

func TestFailedCommandInBatchKeepsEarlierWrites(t *testing.T) {
	f := newTestFSM(t)
	good := testEnv(t, 1, attendanceBody(1), nil)
	bad := testEnv(t, 2, `{"complaint":""}`, nil)
	good2 := testEnv(t, 3, attendanceBody(3), nil)
	res := f.ApplyBatch([]*raft.Log{cmdLog(1, good, bad, good2)})
	rs := res[0].([]*Result)
	if rs[0].Err != nil || rs[1].Err == nil || rs[2].Err != nil {
		t.Fatalf("results: %+v %+v %+v", rs[0], rs[1], rs[2])
	}
	h, err := f.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	err = h.db.View(func(txn *badger.Txn) error {
		list, err := testRecords(&View{txn: txn})
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].ID != "ATT000001" || list[1].ID != "ATT000003" {
			t.Errorf("attendances %v", list)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnknownEntryStopsTheNode(t *testing.T) {
	unknownKind := func(t testing.TB) []byte {
		b, _ := json.Marshal(Envelope{Kind: "triage.from_the_future", LogicVersion: 1, Time: testEpoch})
		return b
	}
	newerLogic := func(t testing.TB) []byte {
		b, _ := json.Marshal(Envelope{Kind: kindTestCreate, LogicVersion: LogicVersion + 1, Time: testEpoch,
			IDs: []string{"X"}, Payload: json.RawMessage(attendanceBody(1))})
		return b
	}
	cases := []struct {
		name  string
		entry func(t testing.TB) *raft.Log
		want  error
	}{
		{"unknown kind", func(t testing.TB) *raft.Log { return cmdLog(4, unknownKind(t)) }, errUnknownKind},
		{"newer logic version", func(t testing.TB) *raft.Log { return cmdLog(4, newerLogic(t)) }, errNewerVersion},
		{"unknown kind after a good command in the same entry", func(t testing.TB) *raft.Log {
			return cmdLog(4, testEnv(t, 50, attendanceBody(50), nil), unknownKind(t))
		}, errUnknownKind},
		{"undecodable entry", func(t testing.TB) *raft.Log {
			return &raft.Log{Index: 4, Type: raft.LogCommand, Data: []byte{9, 9, 9}}
		}, errBadEntry},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t)
			applyInBatches(f, testLog(t, 3), 3)
			before, _ := mustHash(t, f)
			next := cmdLog(5, testEnv(t, 60, attendanceBody(60), nil))
			res := f.ApplyBatch([]*raft.Log{cmdLog(3, testEnv(t, 1, attendanceBody(1), nil)), tc.entry(t), next})
			for i, r := range res[1:] {
				fr, ok := r.(*fatalResult)
				if !ok || !errors.Is(fr.err, tc.want) {
					t.Fatalf("result %d = %#v, want fatal %v", i+1, r, tc.want)
				}
			}
			if after, idx := mustHash(t, f); after != before || idx != 3 {
				t.Fatalf("applied index moved to %d or state changed", idx)
			}
			// Later batches are refused too, and so is a snapshot.
			if r := f.ApplyBatch([]*raft.Log{cmdLog(6, testEnv(t, 61, attendanceBody(61), nil))}); !isFatal(r[0]) {
				t.Fatalf("later entry applied: %#v", r[0])
			}
			if _, err := f.Snapshot(); !errors.Is(err, errSnapshotFatal) {
				t.Fatalf("snapshot err = %v", err)
			}
			if f.appliedIndex() != 3 {
				t.Fatalf("applied index %d, want 3", f.appliedIndex())
			}
			deadline := time.Now().Add(5 * time.Second)
			for f.fatalCount() != 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if f.fatalCount() != 1 {
				t.Fatalf("OnFatal called %d times, want 1", f.fatalCount())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := f.waitApplied(ctx, 4); !errors.Is(err, ErrFatal) {
				t.Fatalf("waitApplied err = %v, want ErrFatal", err)
			}
		})
	}
}

func isFatal(r any) bool { _, ok := r.(*fatalResult); return ok }

func TestConfigurationEntryIsNotDecoded(t *testing.T) {
	f := newTestFSM(t)
	conf := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: "127.0.0.1:1"}}})
	logs := []*raft.Log{
		cmdLog(1, testEnv(t, 1, attendanceBody(1), nil)),
		{Index: 2, Term: 1, Type: raft.LogConfiguration, Data: conf},
		// Bytes that would be a fatal command entry if decoded.
		{Index: 3, Term: 1, Type: raft.LogConfiguration, Data: []byte{entryFormatBatchV1, 1, 2, '{', '}'}},
		cmdLog(4, testEnv(t, 2, attendanceBody(2), nil)),
	}
	res := f.ApplyBatch(logs)
	if res[1] != nil || res[2] != nil {
		t.Fatalf("configuration entries returned %v %v", res[1], res[2])
	}
	if f.fatalCount() != 0 || f.appliedIndex() != 4 || f.applyCount.Load() != 2 {
		t.Fatalf("fatal %d applied %d commands %d", f.fatalCount(), f.appliedIndex(), f.applyCount.Load())
	}
}

func TestIdempotencyInFSM(t *testing.T) {
	f := newTestFSM(t)
	idem := &Idempotency{Key: "k1", Route: "POST /v1/attendances", BodyHash: "h1"}
	first := f.ApplyBatch([]*raft.Log{cmdLog(1, testEnv(t, 1, attendanceBody(1), idem))})[0].([]*Result)[0]
	// Same key and hash, later entry with fresh IDs: the first result again.
	again := f.ApplyBatch([]*raft.Log{cmdLog(2, testEnv(t, 2, attendanceBody(1), idem))})[0].([]*Result)[0]
	if !again.Replayed || again.Index != first.Index || !bytes.Equal(again.Value, first.Value) || again.Err != nil {
		t.Fatalf("replay = %+v, first = %+v", again, first)
	}
	// Same key, another body: mismatch, nothing written.
	before := dataHash(t, f)
	other := &Idempotency{Key: "k1", Route: "POST /v1/attendances", BodyHash: "h2"}
	mis := f.ApplyBatch([]*raft.Log{cmdLog(3, testEnv(t, 3, attendanceBody(3), other))})[0].([]*Result)[0]
	if mis.Err == nil || mis.Err.Code != CodeIdempotencyMismatch {
		t.Fatalf("mismatch = %+v", mis)
	}
	if dataHash(t, f) != before {
		t.Fatal("replay or mismatch changed state")
	}
	// Within one entry too: a later command sees the earlier one's key.
	res := f.ApplyBatch([]*raft.Log{cmdLog(4,
		testEnv(t, 4, attendanceBody(4), &Idempotency{Key: "k2", Route: "r", BodyHash: "h"}),
		testEnv(t, 5, attendanceBody(4), &Idempotency{Key: "k2", Route: "r", BodyHash: "h"}))})[0].([]*Result)
	if res[0].Replayed || !res[1].Replayed || !bytes.Equal(res[0].Value, res[1].Value) {
		t.Fatalf("same-entry replay: %+v %+v", res[0], res[1])
	}
}

func TestLargeBatchSplitsOnTxnTooBig(t *testing.T) {
	// 3,000 commands of ~1.2 KB of writes each overflow one Badger
	// transaction (its limit follows the memtable size; values over the
	// value threshold count as pointers, the rest in full).
	var logs []*raft.Log
	n := 0
	long := strings.Repeat("x", 300)
	for i := 1; i <= 30; i++ {
		var envs [][]byte
		for j := 0; j < 100; j++ {
			envs = append(envs, testEnv(t, n, fmt.Sprintf(`{"patient":{"given_name":%q},"complaint":%q}`, long, long), nil))
			n++
		}
		logs = append(logs, cmdLog(uint64(i), envs...))
	}
	a, b := newTestFSM(t), newTestFSM(t)
	res := a.ApplyBatch(logs)
	for i, r := range res {
		if _, ok := r.([]*Result); !ok {
			t.Fatalf("entry %d: %#v", i, r)
		}
	}
	if a.commits.Load() < 2 {
		t.Fatalf("batch committed in %d transaction(s); the test did not force a split", a.commits.Load())
	}
	applyInBatches(b, logs, 1)
	ha, ia := mustHash(t, a)
	hb, ib := mustHash(t, b)
	if ha != hb || ia != 30 || ib != 30 || a.applyCount.Load() != 3000 {
		t.Fatalf("split batch: %s@%d vs %s@%d, commands %d", ha, ia, hb, ib, a.applyCount.Load())
	}
}

func BenchmarkFSMApplyCommand(b *testing.B) {
	f := newTestFSM(b)
	envs := make([][]byte, 1024)
	for i := range envs {
		envs[i] = testEnv(b, i, attendanceBody(i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), envs[i%len(envs)])})
	}
}

func BenchmarkFSMApplyBatch(b *testing.B) {
	const entries, perEntry = 16, 16
	f := newTestFSM(b)
	envs := make([][]byte, perEntry)
	for i := range envs {
		envs[i] = testEnv(b, i, attendanceBody(i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	idx := uint64(0)
	for i := 0; i < b.N; i++ {
		logs := make([]*raft.Log, entries)
		for j := range logs {
			idx++
			logs[j] = cmdLog(idx, envs...)
		}
		f.ApplyBatch(logs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries*perEntry), "ns/command")
}

func mustCommandTable(cmds []Command) commandTable {
	t, err := newCommandTable(append(membershipCommands(), cmds...))
	if err != nil {
		panic(err)
	}
	return t
}
