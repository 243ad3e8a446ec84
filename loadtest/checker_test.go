package loadtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLostWritesCheck runs a real load (the create workload, 30 writes)
// against a fake cluster with one fault injected, then the check, which
// must find exactly the injected fault.
func TestLostWritesCheck(t *testing.T) {
	cases := []struct {
		name           string
		fault          func(*fakeCluster)
		lost, unverify int
		detail         string
	}{
		{name: "nothing lost", fault: nil},
		{name: "acknowledged but never stored", fault: func(f *fakeCluster) { f.loseWrite = 7 }, lost: 1, detail: "404 not found"},
		{name: "missing on one replica", fault: func(f *fakeCluster) { f.loseOnReplica = 12 }, lost: 1, detail: "node 2 (stale): 404"},
		{name: "stored differently", fault: func(f *fakeCluster) { f.corruptWrite = 3 }, lost: 1, detail: "complaint: got \"something else\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeCluster(t, 3, c.fault)
			client := NewClient(f.urls(), "", 4)
			wl := newCreateWorkload(1)
			res := runLoad(context.Background(), runConfig{client: client, workload: wl, concurrency: 3, requests: 30,
				opTimeout: 5 * time.Second, seed: 1, runID: "t"})
			if res.ledger.Len() != 30 {
				t.Fatalf("%d acknowledged writes, want 30", res.ledger.Len())
			}
			chk := &LostWritesCheck{Patience: 300 * time.Millisecond}
			got := chk.Run(context.Background(), &CheckEnv{Client: client, Ledger: res.ledger, Workload: wl})
			if !got.Checked || got.Items != 30 {
				t.Fatalf("checked %v, items %d", got.Checked, got.Items)
			}
			if got.Count != c.lost || got.Unverified != c.unverify {
				t.Fatalf("lost %d unverified %d, want %d and %d; details %v", got.Count, got.Unverified, c.lost, c.unverify, got.Details)
			}
			if got.Failed() != (c.lost > 0) {
				t.Fatalf("Failed() = %v with %d lost", got.Failed(), got.Count)
			}
			if c.detail != "" && (len(got.Details) != 1 || !strings.Contains(got.Details[0], c.detail)) {
				t.Fatalf("details %q, want one containing %q", got.Details, c.detail)
			}
			if want := "lost acknowledged writes: " + strconv.Itoa(c.lost); got.Line() != want {
				t.Fatalf("line %q, want %q", got.Line(), want)
			}
		})
	}
}

// TestLostWritesCheckUnreachableNode: a node that never answers cannot be
// verified, and that fails the run as surely as a loss.
func TestLostWritesCheckUnreachableNode(t *testing.T) {
	f := newFakeCluster(t, 3, nil)
	client := NewClient(f.urls(), "", 4)
	wl := newCreateWorkload(1)
	res := runLoad(context.Background(), runConfig{client: client, workload: wl, concurrency: 2, requests: 5,
		opTimeout: 5 * time.Second, seed: 1, runID: "t"})
	f.unavailable = 3
	got := (&LostWritesCheck{Patience: 200 * time.Millisecond}).Run(context.Background(), &CheckEnv{Client: client, Ledger: res.ledger, Workload: wl})
	if got.Count != 0 || got.Unverified != 5 || !got.Failed() {
		t.Fatalf("lost %d unverified %d failed %v, want 0, 5, true", got.Count, got.Unverified, got.Failed())
	}
	if !strings.Contains(got.Line(), "5 not verified") || !strings.Contains(got.Reason, "node 3") {
		t.Fatalf("line %q reason %q", got.Line(), got.Reason)
	}
}

// TestRunReportsLostWriteAndFails is the whole run against --target: one
// acknowledged write is lost, the report says 1 and Run fails.
func TestRunReportsLostWriteAndFails(t *testing.T) {
	f := newFakeCluster(t, 3, func(f *fakeCluster) { f.loseWrite = 4 })
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{Targets: f.urls(), Concurrency: 2, Requests: 10, Seed: 3}, Env{Log: &log})
	if !errors.Is(err, ErrChecksFailed) {
		t.Fatalf("err %v, want ErrChecksFailed", err)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"acknowledged writes: 10\n", "lost acknowledged writes: 1\n",
		"double-booked slots: not checked: workload allocates no slots\n", "attendance.create"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, "lost acknowledged writes: 1\ndouble-booked slots: not checked: workload allocates no slots\n") {
		t.Errorf("report does not end with the verdicts:\n%s", text)
	}
}

// TestLostWritesCheckNothingAcknowledged: a run that got nothing
// acknowledged proved nothing, and fails rather than report 0 lost.
func TestLostWritesCheckNothingAcknowledged(t *testing.T) {
	got := (&LostWritesCheck{}).Run(context.Background(), &CheckEnv{Client: NewClient([]string{"http://127.0.0.1:1"}, "", 1), Ledger: &Ledger{}})
	if got.Checked || !got.Failed() || got.Line() != "lost acknowledged writes: not checked: no write was acknowledged" {
		t.Fatalf("%+v line %q", got, got.Line())
	}
}

// TestRunStopsWithoutKey: 401s stop the run at once with a clear problem
// instead of hammering the cluster for the whole duration.
func TestRunStopsWithoutKey(t *testing.T) {
	f := newFakeCluster(t, 1, func(f *fakeCluster) { f.needKey = "secret" })
	start := time.Now()
	rep, err := Run(context.Background(), Options{Targets: f.urls(), Concurrency: 2, Duration: 20 * time.Second}, Env{})
	if !errors.Is(err, ErrChecksFailed) || rep == nil || !strings.Contains(rep.Problem, "--key") {
		t.Fatalf("err %v, report problem %q", err, rep.Problem)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v to give up on 401s", time.Since(start))
	}
	rep, err = Run(context.Background(), Options{Targets: f.urls(), Key: "secret", Concurrency: 2, Requests: 5}, Env{})
	if err != nil || rep.Acked != 5 {
		t.Fatalf("with the key: err %v, %d acknowledged", err, rep.Acked)
	}
}

func TestSlotCheck(t *testing.T) {
	a := func(svc, start, att string) SlotAllocation {
		return SlotAllocation{Service: svc, Kind: "slots", SessionStart: start, SessionEnd: "end", Attendance: att}
	}
	one := func(string, string, string) int { return 1 }
	cases := []struct {
		name     string
		allocs   []SlotAllocation
		capacity SlotCapacity
		excess   int
		line     string
	}{
		{"clean", []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:10", "a2"), a("gp-2", "09:10", "a3")}, one, 0, ""},
		{"two attendances in a one-slot session", []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:10", "a2"), a("gp-1", "09:10", "a3")}, one, 1,
			"service gp-1 session 09:10–end: 2 attendances for 1 slots [a2 a3]"},
		{"within capacity", []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:00", "a2")}, func(string, string, string) int { return 2 }, 0, ""},
		{"capacity unknown: only repeats count", []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:00", "a2")}, nil, 0, ""},
		{"one attendance twice in a session", []SlotAllocation{a("ph-1", "09:00", "a1"), a("ph-1", "09:00", "a1")}, nil, 1,
			"service ph-1 session 09:00–end: attendance a1 holds 2 slots"},
	}
	for _, c := range cases {
		excess, lines := DoubleBookings(c.allocs, c.capacity)
		if excess != c.excess || (c.line == "") != (len(lines) == 0) || (c.line != "" && lines[0] != c.line) {
			t.Errorf("%s: excess %d lines %q, want %d and %q", c.name, excess, lines, c.excess, c.line)
		}
	}

	ctx := context.Background()
	none := (&SlotCheck{}).Run(ctx, &CheckEnv{Workload: newCreateWorkload(1)})
	if none.Checked || none.Failed() || none.Line() != "double-booked slots: not checked: workload allocates no slots" {
		t.Fatalf("create workload: %+v line %q", none, none.Line())
	}
	// A workload that allocates slots against a cluster without the
	// allocation API: not checked, and that fails the run.
	f := newFakeCluster(t, 1, nil)
	alloc := slotWorkload{}
	noAPI := (&SlotCheck{}).Run(ctx, &CheckEnv{Workload: alloc, Client: NewClient(f.urls(), "", 1)})
	if noAPI.Checked || !noAPI.Failed() || !strings.Contains(noAPI.Line(), "not checked: reading allocations: GET /v1/services") {
		t.Fatalf("allocating workload without the allocation API must fail unchecked: %+v", noAPI)
	}
	injected := []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:00", "a2")}
	found := (&SlotCheck{Fetch: func(context.Context, *CheckEnv) ([]SlotAllocation, error) { return injected, nil }}).Run(ctx, &CheckEnv{Workload: alloc})
	if !found.Checked || found.Count != 1 || !found.Failed() || found.Line() != "double-booked slots: 1" {
		t.Fatalf("injected double booking: %+v line %q", found, found.Line())
	}

	// Over HTTP: every service's allocation list, read linearizable.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("consistency") != "linearizable" {
			http.Error(w, "want a linearizable read", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/v1/services":
			writeJSON(w, 200, map[string]any{"services": []map[string]string{{"id": "gp-1"}, {"id": "ph 1"}}})
		case "/v1/services/gp-1/allocations":
			writeJSON(w, 200, map[string]any{"service_id": "gp-1", "allocations": []SlotAllocation{a("gp-1", "09:00", "a1"), a("gp-1", "09:30", "a2")}})
		case "/v1/services/ph 1/allocations":
			writeJSON(w, 200, map[string]any{"service_id": "ph 1", "allocations": []SlotAllocation{a("ph 1", "09:00", "a3"), a("ph 1", "09:00", "a4")}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	viaHTTP := (&SlotCheck{}).Run(ctx, &CheckEnv{Workload: alloc, Client: NewClient([]string{srv.URL}, "", 1)})
	if !viaHTTP.Checked || viaHTTP.Items != 4 || viaHTTP.Count != 1 || !strings.Contains(viaHTTP.Details[0], "service ph 1 session 09:00–end: 2 attendances for 1 slots [a3 a4]") {
		t.Fatalf("over HTTP: %+v", viaHTTP)
	}
}

// slotWorkload is a workload that allocates slots, one per session.
type slotWorkload struct{ Workload }

func (slotWorkload) AllocatesSlots() bool { return true }
func (slotWorkload) SlotCapacity() SlotCapacity {
	return func(string, string, string) int { return 1 }
}

func TestJSONContains(t *testing.T) {
	got := map[string]any{"id": "a1", "complaint": "cough", "index": 5.0,
		"patient": map[string]any{"given_name": "Ava", "nhs_number": "9991234560"}, "extra": true,
		"answers": []any{map[string]any{"question": "q1", "value": "yes", "index": 7.0}, map[string]any{"question": "q2", "value": "no"}}}
	cases := []struct {
		want map[string]any
		diff string
	}{
		{map[string]any{"id": "a1", "patient": map[string]any{"given_name": "Ava"}}, ""},
		{map[string]any{"index": 5}, ""},
		{map[string]any{"id": "a2"}, `id: got "a1", want "a2"`},
		{map[string]any{"patient": map[string]any{"postcode": "DY1 1AA"}}, "patient.postcode: missing"},
		{map[string]any{"complaint": map[string]any{"x": 1}}, "complaint: want an object"},
		{map[string]any{"answers": []any{map[string]any{"question": "q2", "value": "no"}}}, ""},
		{map[string]any{"answers": []any{map[string]any{"question": "q2", "value": "yes"}}}, `answers[0]: no element contains {"question":"q2","value":"yes"}`},
		{map[string]any{"answers": []any{map[string]any{"question": "q1"}, map[string]any{"question": "q3"}}}, `answers[1]: no element contains {"question":"q3"}`},
		{map[string]any{"id": []any{"a1"}}, "id: want an array"},
	}
	for _, c := range cases {
		if d := jsonContains(got, c.want); !strings.HasPrefix(d, c.diff) || (c.diff == "") != (d == "") {
			t.Errorf("jsonContains(%v) = %q, want %q", c.want, d, c.diff)
		}
	}
}

// TestLostWritesCheckSameRecord: several writes to one record are checked
// with one read per node and level, each against its own expectation; the
// one whose change is missing is lost, the others are not.
func TestLostWritesCheckSameRecord(t *testing.T) {
	f := newFakeCluster(t, 3, nil)
	client := NewClient(f.urls(), "", 2)
	wl := newCreateWorkload(1)
	res := runLoad(context.Background(), runConfig{client: client, workload: wl, concurrency: 1, requests: 2,
		opTimeout: 5 * time.Second, seed: 1, runID: "t"})
	first := res.ledger.Writes()[0]
	ok, _ := NewExpect(map[string]any{"id": strings.TrimPrefix(first.Path, "/v1/attendances/")})
	missing, _ := NewExpect(map[string]any{"timeline": []any{map[string]any{"status": "left"}}})
	res.ledger.Add(AckedWrite{Op: "attendance.status", Key: "k-ok", Path: first.Path, Expect: ok})
	res.ledger.Add(AckedWrite{Op: "attendance.status", Key: "k-left", Path: first.Path, Expect: missing})
	got := (&LostWritesCheck{Patience: 300 * time.Millisecond}).Run(context.Background(), &CheckEnv{Client: client, Ledger: res.ledger, Workload: wl})
	if got.Count != 1 || got.Unverified != 0 || len(got.Details) != 1 || !strings.Contains(got.Details[0], "key k-left") ||
		!strings.Contains(got.Details[0], "differs: timeline: missing") {
		t.Fatalf("lost %d unverified %d details %q", got.Count, got.Unverified, got.Details)
	}
	if !strings.HasPrefix(got.Note, "4 writes to 2 records read back from 3 nodes") {
		t.Fatalf("note %q", got.Note)
	}
}
