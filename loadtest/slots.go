package loadtest

import (
	"context"
	"fmt"
	"sort"
)

// SlotAllocation is one slot a service gave an attendance, as listed by
// the service's allocations.
type SlotAllocation struct {
	Service    string `json:"service_id"`
	Slot       string `json:"slot"` // the slot's identity within the service (e.g. its start time)
	Attendance string `json:"attendance_id"`
}

// DoubleBookings returns one line for every slot given to more than one
// attendance (the same attendance listed twice for one slot is not a
// double booking). Pure, so it is tested on injected allocations.
func DoubleBookings(allocs []SlotAllocation) []string {
	type slot struct{ service, slot string }
	holders := map[slot]map[string]bool{}
	for _, a := range allocs {
		k := slot{a.Service, a.Slot}
		if holders[k] == nil {
			holders[k] = map[string]bool{}
		}
		holders[k][a.Attendance] = true
	}
	var out []string
	for k, hs := range holders {
		if len(hs) < 2 {
			continue
		}
		ids := make([]string, 0, len(hs))
		for id := range hs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out = append(out, fmt.Sprintf("service %s slot %s: %d attendances %v", k.service, k.slot, len(ids), ids))
	}
	sort.Strings(out)
	return out
}

// SlotCheck is the double-booking check: every slot allocation in the
// services' allocation lists must belong to one attendance. It runs only
// for a workload that allocates slots: one that does not proves nothing,
// and the report says "not checked" rather than a 0.
//
// Fetch reads the allocations; it is nil until the services' allocation
// API (GET /v1/services/{id}/allocations) is in the build, and a workload
// that allocates slots without it fails the run as unverified.
type SlotCheck struct {
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
	if c.Fetch == nil {
		res.Reason = "the services' allocation API is not in this build"
		return res
	}
	allocs, err := c.Fetch(ctx, env)
	if err != nil {
		res.Reason = "reading allocations: " + err.Error()
		return res
	}
	res.Checked = true
	res.Items = len(allocs)
	res.Details = DoubleBookings(allocs)
	res.Count = len(res.Details)
	return res
}
