package clinic_test

import (
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
)

// TestAuditPages: reading an entity's trail a page at a time, with each
// page's next cursor, gives exactly View.Audit's events in order for every
// page size; the last page has no cursor; a cursor past the end gives
// nothing; a prefix entity ("attendance") gives no event of another.
func TestAuditPages(t *testing.T) {
	b := loadApplyBase(t)
	r, err := cluster.OpenReplica(b.fsmDir, clinic.Commands(), fsmtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	v, done, err := r.View()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	// The entity with the longest trail in the golden state.
	entity, longest := "", 0
	for _, e := range b.envs {
		for _, id := range e.IDs {
			evs, err := v.Audit("attendance/" + id)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) > longest {
				entity, longest = "attendance/"+id, len(evs)
			}
		}
	}
	if longest < 3 {
		t.Fatalf("no attendance with a trail of 3 or more events (longest %d)", longest)
	}
	all, err := v.Audit(entity)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, longest - 1, longest, longest + 1} {
		var got []*cluster.AuditEvent
		cursor, pages := "", 0
		for {
			page, next, err := v.AuditPage(entity, cursor, size)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > size || (next != "" && len(page) != size) {
				t.Fatalf("size %d: page of %d with next %q", size, len(page), next)
			}
			if next != "" && !cluster.ValidAuditCursor(next) {
				t.Fatalf("size %d: cursor %q", size, next)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
			if pages > longest+1 {
				t.Fatalf("size %d: pages never end", size)
			}
		}
		if !reflect.DeepEqual(got, all) {
			t.Fatalf("size %d: %d events in %d pages, want the %d of View.Audit", size, len(got), pages, len(all))
		}
	}
	if page, next, err := v.AuditPage(entity, "99999999999999999999/9999", 10); err != nil || len(page) != 0 || next != "" {
		t.Fatalf("past the end: %d events, next %q, %v", len(page), next, err)
	}
	if page, _, err := v.AuditPage("attendance", "", 1000); err != nil || len(page) != 0 {
		t.Fatalf("entity \"attendance\": %d events (%v), want none", len(page), err)
	}
}
