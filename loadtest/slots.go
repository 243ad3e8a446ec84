package loadtest

import (
	"context"
	"fmt"
	"net/url"
	"sort"
)

// SlotAllocation is one slot a service gave an attendance, as GET
// /v1/services/{id}/allocations lists it.
type SlotAllocation struct {
	Service      string `json:"service_id"`
	Kind         string `json:"kind"` // slots | places
	SessionStart string `json:"session_start"`
	SessionEnd   string `json:"session_end"`
	Attendance   string `json:"attendance_id"`
}

// SlotCapacity says how many attendances one session of a service can
// take; 0 when unknown. A workload that allocates slots sets its services'
// capacity itself (through the services API), so it knows it.
type SlotCapacity func(service, sessionStart, sessionEnd string) int

// DoubleBookings returns one line per problem and the number of excess
// allocations: an attendance holding more than one slot in the same
// session, and a session holding more attendances than its capacity (when
// known). Pure, so it is tested on injected allocations.
func DoubleBookings(allocs []SlotAllocation, capacity SlotCapacity) (excess int, lines []string) {
	type session struct{ service, start, end string }
	holders := map[session]map[string]int{}
	for _, a := range allocs {
		k := session{a.Service, a.SessionStart, a.SessionEnd}
		if holders[k] == nil {
			holders[k] = map[string]int{}
		}
		holders[k][a.Attendance]++
	}
	for k, hs := range holders {
		ids := make([]string, 0, len(hs))
		for id, n := range hs {
			ids = append(ids, id)
			if n > 1 {
				excess += n - 1
				lines = append(lines, fmt.Sprintf("service %s session %s–%s: attendance %s holds %d slots", k.service, k.start, k.end, id, n))
			}
		}
		if capacity == nil {
			continue
		}
		if c := capacity(k.service, k.start, k.end); c > 0 && len(hs) > c {
			sort.Strings(ids)
			excess += len(hs) - c
			lines = append(lines, fmt.Sprintf("service %s session %s–%s: %d attendances for %d slots %v", k.service, k.start, k.end, len(hs), c, ids))
		}
	}
	sort.Strings(lines)
	return excess, lines
}

// allocationNote says how much the check had to look at: allocations,
// sessions, and how many sessions were full (where a double booking would
// show).
func allocationNote(allocs []SlotAllocation, capacity SlotCapacity) string {
	type session struct{ service, start, end string }
	held := map[session]int{}
	for _, a := range allocs {
		held[session{a.Service, a.SessionStart, a.SessionEnd}]++
	}
	known, full := 0, 0
	for k, n := range held {
		if capacity == nil {
			continue
		}
		if c := capacity(k.service, k.start, k.end); c > 0 {
			known++
			if n >= c {
				full++
			}
		}
	}
	return fmt.Sprintf("%d allocations held in %d sessions; capacity known for %d sessions, %d of them full", len(allocs), len(held), known, full)
}

// slotAllocator is implemented by workloads that allocate slots and know
// their services' capacity.
type slotAllocator interface {
	SlotCapacity() SlotCapacity
}

// SlotCheck is the double-booking check over every service's allocation
// list. It runs only for a workload that allocates slots: one that does not
// proves nothing, and the report says "not checked" rather than a 0.
type SlotCheck struct {
	// Fetch reads every allocation; nil reads them over HTTP.
	Fetch func(ctx context.Context, env *CheckEnv) ([]SlotAllocation, error)
}

func (*SlotCheck) Name() string { return "double-booked slots" }

func (c *SlotCheck) Run(ctx context.Context, env *CheckEnv) CheckResult {
	res := CheckResult{Name: c.Name()}
	if env.Workload == nil || !env.Workload.AllocatesSlots() {
		res.Reason = "workload allocates no slots"
		return res
	}
	res.Required = true
	fetch := c.Fetch
	if fetch == nil {
		fetch = fetchAllocations
	}
	allocs, err := fetch(ctx, env)
	if err != nil {
		res.Reason = "reading allocations: " + err.Error()
		return res
	}
	var capacity SlotCapacity
	if sa, ok := env.Workload.(slotAllocator); ok {
		capacity = sa.SlotCapacity()
	}
	res.Checked = true
	res.Items = len(allocs)
	res.Count, res.Details = DoubleBookings(allocs, capacity)
	res.Note = allocationNote(allocs, capacity)
	if len(res.Details) > 20 {
		res.Details = append(res.Details[:20], fmt.Sprintf("… and %d more", len(res.Details)-20))
	}
	return res
}

// fetchAllocations lists every service (GET /v1/services) and reads each
// one's allocations, linearizable, through the first node.
func fetchAllocations(ctx context.Context, env *CheckEnv) ([]SlotAllocation, error) {
	var services struct {
		Services []struct {
			ID string `json:"id"`
		} `json:"services"`
	}
	if _, err := env.Client.GetJSON(ctx, 0, "/v1/services?consistency=linearizable", &services); err != nil {
		return nil, err
	}
	var all []SlotAllocation
	for _, s := range services.Services {
		var list struct {
			Allocations []SlotAllocation `json:"allocations"`
		}
		path := "/v1/services/" + url.PathEscape(s.ID) + "/allocations?consistency=linearizable"
		if _, err := env.Client.GetJSON(ctx, 0, path, &list); err != nil {
			return nil, err
		}
		all = append(all, list.Allocations...)
	}
	return all, nil
}
