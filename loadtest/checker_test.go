package loadtest

import (
	"bytes"
	"context"
	"errors"
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
	allocs := []SlotAllocation{
		{Service: "gp-1", Slot: "09:00", Attendance: "a1"},
		{Service: "gp-1", Slot: "09:10", Attendance: "a2"},
		{Service: "gp-1", Slot: "09:10", Attendance: "a3"}, // injected double booking
		{Service: "gp-2", Slot: "09:10", Attendance: "a4"}, // same time, other service: fine
		{Service: "gp-1", Slot: "09:00", Attendance: "a1"}, // listed twice, one holder: fine
	}
	if got := DoubleBookings(allocs); len(got) != 1 || !strings.Contains(got[0], "gp-1 slot 09:10: 2 attendances [a2 a3]") {
		t.Fatalf("double bookings %q", got)
	}
	if got := DoubleBookings(allocs[:2]); len(got) != 0 {
		t.Fatalf("double bookings in clean allocations: %q", got)
	}

	ctx := context.Background()
	none := (&SlotCheck{}).Run(ctx, &CheckEnv{Workload: newCreateWorkload(1)})
	if none.Checked || none.Failed() || none.Line() != "double-booked slots: not checked: workload allocates no slots" {
		t.Fatalf("create workload: %+v line %q", none, none.Line())
	}
	alloc := slotWorkload{}
	noAPI := (&SlotCheck{}).Run(ctx, &CheckEnv{Workload: alloc})
	if noAPI.Checked || !noAPI.Failed() {
		t.Fatalf("allocating workload without the allocation API must fail unchecked: %+v", noAPI)
	}
	found := (&SlotCheck{Fetch: func(context.Context, *CheckEnv) ([]SlotAllocation, error) { return allocs, nil }}).Run(ctx, &CheckEnv{Workload: alloc})
	if !found.Checked || found.Count != 1 || !found.Failed() || found.Line() != "double-booked slots: 1" {
		t.Fatalf("injected double booking: %+v line %q", found, found.Line())
	}
}

// slotWorkload is a workload that says it allocates slots.
type slotWorkload struct{ Workload }

func (slotWorkload) AllocatesSlots() bool { return true }

func TestJSONContains(t *testing.T) {
	got := map[string]any{"id": "a1", "complaint": "cough", "index": 5.0,
		"patient": map[string]any{"given_name": "Ava", "nhs_number": "9991234560"}, "extra": true}
	cases := []struct {
		want map[string]any
		diff string
	}{
		{map[string]any{"id": "a1", "patient": map[string]any{"given_name": "Ava"}}, ""},
		{map[string]any{"index": 5}, ""},
		{map[string]any{"id": "a2"}, `id: got "a1", want "a2"`},
		{map[string]any{"patient": map[string]any{"postcode": "DY1 1AA"}}, "patient.postcode: missing"},
		{map[string]any{"complaint": map[string]any{"x": 1}}, "complaint: want an object"},
	}
	for _, c := range cases {
		if d := jsonContains(got, c.want); !strings.HasPrefix(d, c.diff) || (c.diff == "") != (d == "") {
			t.Errorf("jsonContains(%v) = %q, want %q", c.want, d, c.diff)
		}
	}
}
