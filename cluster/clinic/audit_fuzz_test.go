package clinic_test

import (
	"sort"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
)

// FuzzAuditEntity is GET /v1/audit?entity=…: the entity named in the query
// becomes a key range of the state (View.Audit), read here over the golden
// data dir's state (read only, so every run sees the same state). Seeded
// with every entity of that state. Properties: no panic and no error
// whatever the entity; every event returned is of the entity asked for
// (one attendance's trail, not a range of other entities' events); events
// come in log order.
func FuzzAuditEntity(f *testing.F) {
	b := loadApplyBase(f)
	r, err := cluster.OpenReplica(b.fsmDir, clinic.Commands(), fsmtest.Logger())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = r.Close() })
	v, done, err := r.View()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(done)
	entities := map[string]bool{}
	for _, e := range b.envs {
		for _, id := range e.IDs {
			for _, kind := range []string{"attendance", "patient", "registration", "key", "dispatch"} {
				entities[kind+"/"+id] = true
			}
		}
	}
	var seeds []string
	for e := range entities {
		if evs, err := v.Audit(e); err == nil && len(evs) > 0 {
			seeds = append(seeds, e)
		}
	}
	sort.Strings(seeds)
	if len(seeds) == 0 {
		f.Fatal("the golden state has no audited entity")
	}
	for _, e := range seeds {
		f.Add(e)
	}
	f.Add("protocols")
	f.Add("directory")
	f.Add("attendance/")
	f.Add("")
	f.Fuzz(func(t *testing.T, entity string) {
		evs, err := v.Audit(entity)
		if err != nil {
			t.Fatalf("entity %q: %v", entity, err)
		}
		for i, ev := range evs {
			if ev.Entity != entity {
				t.Fatalf("entity %q: event %d of %d is of entity %q", entity, i, len(evs), ev.Entity)
			}
			if i > 0 && (ev.Index < evs[i-1].Index) {
				t.Fatalf("entity %q: event at index %d after one at %d", entity, ev.Index, evs[i-1].Index)
			}
		}
	})
}
