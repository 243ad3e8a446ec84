package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// idemEnv is an attendance.create proposed at exactly at, with key (none when
// empty), under logic version lv.
func idemEnv(t testing.TB, n int, at time.Time, key string, lv int) []byte {
	t.Helper()
	env := Envelope{
		Kind: kindTestCreate, LogicVersion: lv, Time: at,
		Actor:   Actor{ID: "r1", Name: "Reception One", Role: "reception"},
		IDs:     []string{fmt.Sprintf("ATT%06d", n)},
		Payload: json.RawMessage(attendanceBody(n)),
	}
	if key != "" {
		env.Idempotency = &Idempotency{Key: key, Route: "POST /v1/attendances", BodyHash: "h-" + key}
	}
	b, err := json.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keysUnder lists the keys with prefix in order.
func keysUnder(t testing.TB, f *testFSM, prefix string) []string {
	t.Helper()
	h, err := f.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	var keys []string
	err = h.db.View(func(txn *badger.Txn) error {
		return scanTxn(txn, prefix, "", func(k string, _ []byte) error { keys = append(keys, k); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func applyOne(t testing.TB, f *testFSM, index uint64, env []byte) *Result {
	t.Helper()
	res, ok := f.ApplyBatch([]*raft.Log{cmdLog(index, env)})[0].([]*Result)
	if !ok || len(res) != 1 {
		t.Fatalf("entry %d: %#v", index, res)
	}
	return res[0]
}

func TestIdempotencyRecordsExpireAfter24h(t *testing.T) {
	t0 := testEpoch
	cases := []struct {
		name      string
		stored    int           // records k0..k<stored-1>, 1 ms apart from t0
		later     time.Duration // FSM time of the next command, after t0
		laterKey  string        // its Idempotency-Key ("" = none)
		wantIdem  int           // i/ records left
		wantIndex int           // ix/ keys left
		replayed  bool          // the later command replays the first result
	}{
		{"younger than 24 h stays", 1, 23*time.Hour + 59*time.Minute, "", 1, 1, false},
		{"retry inside the window returns the first result", 1, 23 * time.Hour, "k0", 1, 1, true},
		{"24 h old is removed with its index", 1, 24*time.Hour + time.Millisecond, "", 0, 0, false},
		{"retry after expiry is a new request", 1, 25 * time.Hour, "k0", 1, 1, false},
		{"at most 16 per command, oldest first", 40, 48 * time.Hour, "", 40 - idemPruneMax, 40 - idemPruneMax, false},
		{"only the expired ones", 3, 24*time.Hour + time.Millisecond/2, "", 2, 2, false},
		{"exactly 24 h old has expired", 3, 24*time.Hour + time.Millisecond, "", 1, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t)
			idx := uint64(0)
			var first *Result
			for i := 0; i < tc.stored; i++ {
				idx++
				r := applyOne(t, f, idx, idemEnv(t, i, t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("k%d", i), LogicVersion))
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				if i == 0 {
					first = r
				}
			}
			if got := len(keysUnder(t, f, prefixIdemByTime)); got != tc.stored {
				t.Fatalf("index keys after storing: %d, want %d", got, tc.stored)
			}
			idx++
			r := applyOne(t, f, idx, idemEnv(t, 1000, t0.Add(tc.later), tc.laterKey, LogicVersion))
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Replayed != tc.replayed {
				t.Fatalf("replayed = %v, want %v", r.Replayed, tc.replayed)
			}
			if tc.replayed && (r.Index != first.Index || string(r.Value) != string(first.Value)) {
				t.Fatalf("replay = %+v, first = %+v", r, first)
			}
			idemKeys, ixKeys := keysUnder(t, f, prefixIdem), keysUnder(t, f, prefixIdemByTime)
			if len(idemKeys) != tc.wantIdem || len(ixKeys) != tc.wantIndex {
				t.Fatalf("left %d records %v and %d index keys %v, want %d and %d",
					len(idemKeys), idemKeys, len(ixKeys), ixKeys, tc.wantIdem, tc.wantIndex)
			}
			// Every index key names a record stored at that time; the
			// oldest go first.
			for _, k := range ixKeys {
				at, key, ok := parseIdemByTime(k)
				var rec idemRecord
				found, err := getRecord(f, keyIdem(key), &rec)
				if !ok || err != nil || !found || SortableTime(rec.At) != at {
					t.Fatalf("index key %s: record found=%v at=%v err=%v", k, found, rec.At, err)
				}
			}
			if tc.stored > idemPruneMax && ixKeys[0] != keyIdemByTime(t0.Add(idemPruneMax*time.Millisecond), fmt.Sprintf("k%d", idemPruneMax)) {
				t.Fatalf("oldest left %s: not pruned oldest first", ixKeys[0])
			}
			if tc.laterKey != "" && !tc.replayed {
				var rec idemRecord
				if found, err := getRecord(f, keyIdem(tc.laterKey), &rec); err != nil || !found || rec.Result.Index != idx || !rec.At.Equal(t0.Add(tc.later)) {
					t.Fatalf("reused key's record = %+v (found %v, %v), want the new result at %d", rec, found, err, idx)
				}
			}
		})
	}
}

func getRecord(f *testFSM, key string, v any) (bool, error) {
	h, err := f.acquire()
	if err != nil {
		return false, err
	}
	defer h.release()
	var found bool
	err = h.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err == badger.ErrKeyNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	})
	return found, err
}

func TestIdempotencyPruningDrainsInBoundedSteps(t *testing.T) {
	f := newTestFSM(t)
	idx := uint64(0)
	for i := 0; i < 40; i++ {
		idx++
		applyOne(t, f, idx, idemEnv(t, i, testEpoch.Add(time.Duration(i)*time.Second), fmt.Sprintf("k%d", i), LogicVersion))
	}
	later := testEpoch.Add(30 * time.Hour)
	// The bound is 16 per command of the entry, applied once per entry.
	for _, step := range []struct{ commands, want int }{{1, 24}, {1, 8}, {2, 0}, {1, 0}} {
		idx++
		var envs [][]byte
		for c := 0; c < step.commands; c++ {
			envs = append(envs, idemEnv(t, int(idx)*10+c, later, "", LogicVersion))
		}
		f.ApplyBatch([]*raft.Log{cmdLog(idx, envs...)})
		if got := len(keysUnder(t, f, prefixIdem)); got != step.want {
			t.Fatalf("after entry %d: %d records, want %d", idx, got, step.want)
		}
	}
	g := newTestFSM(t)
	for i := 0; i < 40; i++ {
		applyOne(t, g, uint64(i+1), idemEnv(t, i, testEpoch.Add(time.Duration(i)*time.Second), fmt.Sprintf("k%d", i), LogicVersion))
	}
	g.ApplyBatch([]*raft.Log{cmdLog(41, idemEnv(t, 100, later, "", LogicVersion), idemEnv(t, 101, later, "", LogicVersion))})
	if got := len(keysUnder(t, g, prefixIdem)); got != 40-2*idemPruneMax {
		t.Fatalf("entry of two commands left %d records, want %d", got, 40-2*idemPruneMax)
	}
}

func TestIdempotencyRecordsWithoutTimeStay(t *testing.T) {
	f := newTestFSM(t)
	// Logic version 1 (before expiry): no time, no index key, never pruned.
	first := applyOne(t, f, 1, idemEnv(t, 1, testEpoch, "old", 1))
	applyOne(t, f, 2, idemEnv(t, 2, testEpoch.Add(72*time.Hour), "", LogicVersion))
	if ix := keysUnder(t, f, prefixIdemByTime); len(ix) != 0 {
		t.Fatalf("logic version 1 wrote index keys %v", ix)
	}
	again := applyOne(t, f, 3, idemEnv(t, 3, testEpoch.Add(73*time.Hour), "old", LogicVersion))
	if !again.Replayed || again.Index != first.Index {
		t.Fatalf("record from before expiry: retry = %+v, want replay of %d", again, first.Index)
	}
	// Logic version 1 commands never prune, even past the retention.
	g := newTestFSM(t)
	applyOne(t, g, 1, idemEnv(t, 1, testEpoch, "k", LogicVersion))
	applyOne(t, g, 2, idemEnv(t, 2, testEpoch.Add(48*time.Hour), "", 1))
	if got := len(keysUnder(t, g, prefixIdem)); got != 1 {
		t.Fatalf("a logic version 1 command pruned: %d records left", got)
	}
}

func TestIdempotencyExpirySameStateAnyBatching(t *testing.T) {
	// 60 entries of 1..3 commands over ~3 FSM days; keys repeat so some
	// retries replay and some land after expiry.
	var logs []*raft.Log
	n := 0
	for i := 1; i <= 60; i++ {
		var envs [][]byte
		for j := 0; j <= i%3; j++ {
			at := testEpoch.Add(time.Duration(n) * 75 * time.Minute / 2)
			key := fmt.Sprintf("k%d", n%23)
			if n%5 == 0 {
				key = ""
			}
			envs = append(envs, idemEnv(t, n, at, key, LogicVersion))
			n++
		}
		logs = append(logs, cmdLog(uint64(i), envs...))
	}
	var wantHash string
	var wantRes []any
	for _, size := range []int{1, 7, 60} {
		f := newTestFSM(t)
		var flat []any
		for _, b := range applyInBatches(f, logs, size) {
			flat = append(flat, b...)
		}
		h, idx := mustHash(t, f)
		if idx != 60 {
			t.Fatalf("batch %d: applied %d", size, idx)
		}
		if wantHash == "" {
			wantHash, wantRes = h, flat
			// The log must exercise both replays and expiry.
			var replays, fresh int
			for _, r := range flat {
				for _, c := range r.([]*Result) {
					if c.Replayed {
						replays++
					}
				}
			}
			fresh = len(keysUnder(t, f, prefixIdem))
			if replays == 0 || fresh >= 23 {
				t.Fatalf("log exercises too little: %d replays, %d records left", replays, fresh)
			}
			continue
		}
		if h != wantHash || !reflect.DeepEqual(flat, wantRes) {
			t.Fatalf("batch size %d: state %s, want %s (or results differ)", size, h, wantHash)
		}
	}
}

// TestIdempotencyExpiryFromTheMarkDeletesTheSame: from logic version 5
// expiry starts from the last index key it deleted (keyIdemPruned); over
// three FSM days of keys it keeps and deletes exactly what version 4 does.
func TestIdempotencyExpiryFromTheMarkDeletesTheSame(t *testing.T) {
	logs := func(lv int) []*raft.Log {
		var out []*raft.Log
		n := 0
		for i := 1; i <= 80; i++ {
			var envs [][]byte
			for j := 0; j <= i%3; j++ {
				key := fmt.Sprintf("k%d", n%31)
				if n%5 == 0 {
					key = ""
				}
				envs = append(envs, idemEnv(t, n, testEpoch.Add(time.Duration(n)*75*time.Minute/2), key, lv))
				n++
			}
			out = append(out, cmdLog(uint64(i), envs...))
		}
		return out
	}
	f4, f5 := newTestFSM(t), newTestFSM(t)
	applyInBatches(f4, logs(4), 1)
	applyInBatches(f5, logs(5), 1)
	for _, prefix := range []string{prefixIdem, prefixIdemByTime} {
		a, b := keysUnder(t, f4, prefix), keysUnder(t, f5, prefix)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s: version 4 keeps %v, version 5 %v", prefix, a, b)
		}
		if prefix == prefixIdemByTime && len(a) == 0 {
			t.Fatal("nothing left to compare")
		}
	}
	if len(keysUnder(t, f5, keyIdemPruned)) != 1 || len(keysUnder(t, f4, keyIdemPruned)) != 0 {
		t.Fatal("the mark is not where it should be")
	}
}

// TestEncodeIdemIsMarshal: an idempotency record is stored byte for byte
// as json.Marshal writes it, its value copied in rather than re-encoded.
func TestEncodeIdemIsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, rec := range []idemRecord{
		{Route: "POST /v1/attendances", BodyHash: "ab12", Result: Result{Index: 7, Value: json.RawMessage(`{"id":"A1","x":[1,2,{"y":"<&>"}]}`)}, At: at},
		{Route: `odd "route" ,"result":{"index":1`, BodyHash: "", Result: Result{Index: 12345, Value: json.RawMessage(`"s"`), Replayed: true}},
		{Route: "r", BodyHash: "h", Result: Result{Index: 3, Err: &CommandError{Code: "conflict", Message: "no"}}, At: at},
		{Route: "r", BodyHash: "h", Result: Result{Index: 0, Value: json.RawMessage(`null`), Err: &CommandError{Code: "c"}}},
		{Route: "r", BodyHash: "h"},
	} {
		want, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeIdem(&rec)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("encodeIdem:\n%s (%v)\nwant\n%s", got, err, want)
		}
	}
}

func TestEncodeIdemEscapesAsMarshal(t *testing.T) {
	for _, v := range []string{`"a\u2028b"`, "\"a\u2028b\"", "\"a\u2029b\"", `"<"`, `["&",">"]`, `"–"`} {
		rec := idemRecord{Route: "r", BodyHash: "h", Result: Result{Index: 1, Value: json.RawMessage(v)}}
		want, _ := json.Marshal(&rec)
		if got, err := encodeIdem(&rec); err != nil || !bytes.Equal(got, want) {
			t.Errorf("value %s: %s, want %s", v, got, want)
		}
	}
}
