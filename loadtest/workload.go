package loadtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Workload makes the requests of one kind of load. A new workload (walkin,
// nhs111, dispatch, mix once the attendance workflow API exists) is one
// more implementation and one more row in workloadTable; the runner, the
// ledger and the checks need no change.
type Workload interface {
	// Step runs one iteration (for create, one arrival; for walkin, one
	// patient's whole journey). n numbers iterations per worker from 0.
	// Each acknowledged write is added to the session's ledger by Step.
	Step(ctx context.Context, s *Session, n uint64) error
	// CommandBytes is the typical size of one write's body, which the
	// baseline uses for its raft commands.
	CommandBytes() int
	// AllocatesSlots says whether the workload takes service slots (so
	// the double-booking check has something to check).
	AllocatesSlots() bool
	// Dispatches says whether the workload makes rapid response
	// dispatches (so the webhook matching check has something to check).
	Dispatches() bool
}

// workloadSetup is implemented by workloads that prepare before the load
// (check the API they need is there, read the directory).
type workloadSetup interface {
	Setup(ctx context.Context, s *Session) error
}

// spawnAware is implemented by workloads that do more on a cluster
// loadtest spawned (and may change) than on one it was pointed at.
type spawnAware interface {
	spawned(bool)
}

// workloadCloser is implemented by workloads that hold resources (the
// webhook receiver) until the checks are done.
type workloadCloser interface {
	Close() error
}

// workloadSummary is implemented by workloads that say what they did.
type workloadSummary interface {
	Summary() string
}

// workloadSpec is one --workload value. A spec with Needs set names the
// API the workload needs that this build does not have: choosing it is a
// CLI error, never a run that pretends.
type workloadSpec struct {
	Name    string
	Summary string
	Needs   string
	New     func(seed uint64) Workload
}

func workloadTable() []workloadSpec {
	return []workloadSpec{
		{Name: "create", Summary: "POST /v1/attendances only: synthetic walk-in arrivals", New: newCreateWorkload},
		{Name: "walkin", Summary: "the whole walk-in flow: patient, attendance, observations, answers, routing, confirmation, registration, leaving", New: newWalkinWorkload},
		{Name: "nhs111", Summary: "NHS 111 referrals: Dx-coded attendances routed in one call, half never turn up", New: newNHS111Workload},
		{Name: "dispatch", Summary: "NHS 111 urgent community response referrals dispatched by webhook to loadtest's receiver, which plays the teams (needs --spawn)", New: newDispatchWorkload},
		{Name: "mix", Summary: "60% walkin, 35% nhs111 and 5% dispatch, as at a typical urgent care centre (dispatch only with --spawn)", New: newMixWorkload},
	}
}

// WorkloadNames lists every --workload value with its summary, for --help.
func WorkloadNames() string {
	var b strings.Builder
	for _, w := range workloadTable() {
		fmt.Fprintf(&b, "  %-9s %s", w.Name, w.Summary)
		if w.Needs != "" {
			fmt.Fprintf(&b, " (%s)", w.Needs)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func lookupWorkload(name string) (workloadSpec, error) {
	var names []string
	for _, w := range workloadTable() {
		if w.Name == name {
			if w.Needs != "" {
				return w, fmt.Errorf("--workload %s %s", name, w.Needs)
			}
			return w, nil
		}
		names = append(names, w.Name)
	}
	sort.Strings(names)
	return workloadSpec{}, fmt.Errorf("--workload %q: want one of %s", name, strings.Join(names, ", "))
}
