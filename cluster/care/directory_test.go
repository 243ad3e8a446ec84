package care

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// kindBook and kindRelease exercise the slot helpers 6b's routing commands
// call inside Apply: route with the directory and load from state, then
// record the allocation. Registered only in this test binary.
const (
	kindBook    cluster.Kind = "test.book"
	kindRelease cluster.Kind = "test.release"
	kindLoad    cluster.Kind = "test.load" // answers directory.LoadAt at the FSM time
)

type testBooking struct {
	AttendanceID string             `json:"attendance_id"`
	Allocation   routing.Allocation `json:"allocation,omitempty"`
}

// bookingCommands are this test binary's commands (testCommands).
func bookingCommands() []cluster.Command {
	return []cluster.Command{{Kind: kindBook, Since: 1, Apply: func(tx *cluster.Tx, raw json.RawMessage) (any, error) {
		var in testBooking
		if err := cluster.DecodeStrict(raw, &in); err != nil {
			return nil, cluster.PayloadError(err)
		}
		dir, err := directory.DirectoryFromState(tx)
		if err != nil {
			return nil, err
		}
		load, err := directory.LoadAt(tx, tx.Now())
		if err != nil {
			return nil, err
		}
		d, err := routing.Route(routing.Need{MinTier: routing.TierGP, WithinMinutes: 120, CareNeeds: []string{"minor_illness"}},
			routing.PatientAged(40, "female", "DY1 1AA"), tx.Now(), dir, load)
		if err != nil {
			return nil, err
		}
		if err := directory.AllocateSlot(tx, in.AttendanceID, d.Allocation); err != nil {
			return nil, err
		}
		return d, nil
	}}, {Kind: kindRelease, Since: 1, Apply: func(tx *cluster.Tx, raw json.RawMessage) (any, error) {
		var in testBooking
		if err := cluster.DecodeStrict(raw, &in); err != nil {
			return nil, cluster.PayloadError(err)
		}
		return nil, directory.ReleaseSlot(tx, in.AttendanceID, in.Allocation)
	}}, {Kind: kindLoad, Since: 1, Apply: func(tx *cluster.Tx, _ json.RawMessage) (any, error) {
		return directory.LoadAt(tx, tx.Now())
	}}}
}

// smallDirectory: one GP service with 3 slots a session and an ED.
func smallDirectory() *routing.Directory {
	return &routing.Directory{
		Name: "Test", CentrePostcode: "DY1 1AA",
		Postcodes: map[string]routing.LatLon{"DY1 1AA": {Lat: 52.51, Lon: -2.08}},
		Services: []routing.Service{
			{ID: "gp-one", Name: "GP One", Tier: routing.TierGP, Postcode: "DY1 1AA",
				Sessions: []routing.Session{{Days: "daily", Start: "08:00", End: "20:00", Slots: 3}},
				Capacity: routing.Capacity{Kind: routing.CapacitySlots},
				Provides: []routing.Provision{{Need: "minor_illness"}}},
			{ID: "ed", Name: "ED", Tier: routing.TierED, Postcode: "DY1 1AA", AlwaysOpen: true,
				Provides: []routing.Provision{{Need: "minor_illness"}}},
		},
		Practices: []routing.Practice{
			{ODSCode: "P1", Name: "Practice One", Postcode: "DY1 1AA", Catchment: []string{"DY1"}, ListOpen: true},
			{ODSCode: "P9", Name: "Designated", Postcode: "DY1 1AA", Catchment: []string{"DY9"}, ListOpen: false, NoFixedAbode: true},
		},
	}
}

// TestSlotsAreAllocatedSeriallyInApply: five bookings for a service with
// three slots: the first three take it, the others go to the next option;
// a release frees one for the next booking; the allocations list says
// which attendance took which slot; two replicas applying the same log in
// different batch sizes end with the same state.
func TestSlotsAreAllocatedSeriallyInApply(t *testing.T) {
	var logs []*raft.Log
	idx := uint64(1)
	add := func(env []byte) {
		logs = append(logs, cmdLog(idx, env))
		idx++
	}
	// 10:00 London on a Tuesday.
	add(kindEnv(t, directory.KindDirectoryLoad, 3600, testAdmin, smallDirectory()))
	for i := 0; i < 5; i++ {
		add(kindEnv(t, kindBook, 3600+i, testAdmin, testBooking{AttendanceID: fmt.Sprintf("A%d", i)}))
	}
	a, b := newTestFSM(t), newTestFSM(t)
	ra := applyInBatches(a, logs, len(logs))
	applyInBatches(b, logs, 1)
	var chosen []string
	var first routing.Allocation
	for i, r := range ra[0][1:] {
		res := resultValue(t, r)
		if res.Err != nil {
			t.Fatalf("booking %d: %v", i, res.Err)
		}
		var d routing.Decision
		if err := json.Unmarshal(res.Value, &d); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d.Allocation
		}
		chosen = append(chosen, d.ServiceID)
	}
	if fmt.Sprint(chosen) != "[gp-one gp-one gp-one ed ed]" {
		t.Fatalf("chosen %v", chosen)
	}
	ha, _ := mustHash(t, a)
	hb, _ := mustHash(t, b)
	if ha != hb {
		t.Fatal("replicas differ after bookings")
	}
	// A0 leaves: its slot is free for the next booking.
	more := []*raft.Log{
		cmdLog(idx, kindEnv(t, kindRelease, 3700, testAdmin, testBooking{AttendanceID: "A0", Allocation: first})),
		cmdLog(idx+1, kindEnv(t, kindBook, 3701, testAdmin, testBooking{AttendanceID: "A5"})),
	}
	rm := applyInBatches(a, more, 2)
	applyInBatches(b, more, 1)
	var d routing.Decision
	if err := json.Unmarshal(resultValue(t, rm[0][1]).Value, &d); err != nil {
		t.Fatal(err)
	}
	if d.ServiceID != "gp-one" {
		t.Fatalf("after a release: %s", d.ServiceID)
	}
	ha, _ = mustHash(t, a)
	hb, _ = mustHash(t, b)
	if ha != hb {
		t.Fatal("replicas differ after release")
	}
	view := a.OpenView(t)
	allocs, err := directory.In(view).Allocations("gp-one")
	if err != nil {
		t.Fatal(err)
	}
	var atts []string
	for _, r := range allocs {
		atts = append(atts, r.AttendanceID)
		if r.Kind != routing.CapacitySlots || r.SessionStart.IsZero() {
			t.Fatalf("record %+v", r)
		}
	}
	if fmt.Sprint(atts) != "[A1 A2 A5]" {
		t.Fatalf("allocations %v", atts)
	}
}

// TestLoadInApplyIsTheStatesLoad: inside Apply LoadAt keeps the slot keys
// it read between commands (Tx.Derived); what it answers must be what
// reading the keys afresh gives. Bookings on three days, a release, and a
// load asked after each, at times that move the 48-hour lookback past the
// first day's sessions: every Apply answer equals LoadAt on a view of the
// same state at the same time, whether the entries come one at a time or
// in one batch.
func TestLoadInApplyIsTheStatesLoad(t *testing.T) {
	const day = 24 * 3600
	var logs []*raft.Log
	idx := uint64(1)
	var loadsAt []int // the entry (index) and time of each load
	var times []int
	add := func(kind cluster.Kind, sec int, payload any) {
		logs = append(logs, cmdLog(idx, kindEnv(t, kind, sec, testAdmin, payload)))
		if kind == kindLoad {
			loadsAt = append(loadsAt, int(idx))
			times = append(times, sec)
		}
		idx++
	}
	add(directory.KindDirectoryLoad, 3600, smallDirectory())
	add(kindLoad, 3600, nil)
	for d := 0; d < 3; d++ {
		if d == 2 {
			// Half an hour past 48 hours after day 0's 08:00 session
			// began: the lookback starts inside the hour that session
			// starts in, and leaves it out.
			add(kindLoad, 2*day-1800, nil)
		}
		for i := 0; i < 4; i++ {
			sec := d*day + 3600 + i
			add(kindBook, sec, testBooking{AttendanceID: fmt.Sprintf("A%d-%d", d, i)})
			add(kindLoad, sec, nil)
		}
		add(kindLoad, d*day+20*3600, nil) // the evening: no new booking
	}
	add(kindLoad, 3*day+12*3600, nil) // day 1's sessions out of the lookback
	add(kindLoad, 5*day, nil)         // every session out of it

	one, batch := newTestFSM(t), newTestFSM(t)
	rb := applyInBatches(batch, logs, len(logs))[0]
	k := 0
	for i, l := range logs {
		r := one.ApplyBatch([]*raft.Log{l})[0]
		if k == len(loadsAt) || int(l.Index) != loadsAt[k] {
			continue
		}
		got := string(resultValue(t, r).Value)
		view := one.OpenView(t)
		want, err := directory.LoadAt(view, testEpoch.Add(time.Duration(times[k])*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		wb, _ := json.Marshal(want)
		if got != string(wb) {
			t.Fatalf("load %d (t+%ds): Apply answered %s, the state's is %s", k, times[k], got, wb)
		}
		if inBatch := string(resultValue(t, rb[i]).Value); inBatch != got {
			t.Fatalf("load %d in one batch: %s, one at a time: %s", k, inBatch, got)
		}
		k++
	}
	if k != len(loadsAt) {
		t.Fatalf("checked %d loads of %d", k, len(loadsAt))
	}
	if last := string(resultValue(t, rb[len(rb)-1]).Value); last != "{}" {
		t.Fatalf("five days on, load %s: want nothing booked", last)
	}
}
