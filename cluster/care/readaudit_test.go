package care

import (
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// TestRecordReadAudit: a record.read from the cluster writes one audit
// event per read, on the record read, with the reader as its actor; a key
// cannot propose one (forbidden), nor can a batch name anything but a
// patient or an attendance (invalid); refused batches write nothing.
func TestRecordReadAudit(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	at := testEpoch.Add(time.Hour)
	desk := cluster.Actor{ID: "k-desk", Name: "Desk 1", Role: access.RoleReception}
	ok := RecordReads{Node: "node2", Reads: []RecordRead{
		{Actor: desk, Entity: "patient/P1", Route: "GET /v1/patients/:id", At: at},
		{Actor: testDesk, Entity: "attendance/A1", Route: "GET /v1/attendances/:id", At: at},
	}}
	refused := []struct {
		name  string
		actor cluster.Actor
		in    RecordReads
		code  string
	}{
		{"proposed by a key", desk, ok, access.CodeForbidden},
		{"not a patient record", cluster.SystemActor, RecordReads{Reads: []RecordRead{{Actor: desk, Entity: "key/K1", Route: "x", At: at}}}, cluster.CodeInvalid},
		{"a prefix", cluster.SystemActor, RecordReads{Reads: []RecordRead{{Actor: desk, Entity: "patient", Route: "x", At: at}}}, cluster.CodeInvalid},
		{"no reader", cluster.SystemActor, RecordReads{Reads: []RecordRead{{Entity: "patient/P1", Route: "x", At: at}}}, cluster.CodeInvalid},
		{"empty", cluster.SystemActor, RecordReads{}, cluster.CodeInvalid},
	}
	for i, tc := range refused {
		res := r.apply(3600+i, KindRecordRead, tc.actor, tc.in)
		if res.Err == nil || res.Err.Code != tc.code {
			t.Errorf("%s: want %s, got %+v", tc.name, tc.code, res.Err)
		}
	}
	r.view(func(v *cluster.View) {
		if evs, _ := v.Audit("patient/P1"); len(evs) != 0 {
			t.Fatalf("refused batches wrote %d events", len(evs))
		}
	})
	r.ok(3700, KindRecordRead, cluster.SystemActor, ok)
	r.view(func(v *cluster.View) {
		for _, rd := range ok.Reads {
			evs, err := v.Audit(rd.Entity)
			if err != nil || len(evs) != 1 {
				t.Fatalf("%s: %d events (%v)", rd.Entity, len(evs), err)
			}
			ev := evs[0]
			if ev.Action != "record.read" || ev.Actor != rd.Actor || !strings.Contains(string(ev.Details), `"node":"node2"`) ||
				!strings.Contains(string(ev.Details), rd.Route) {
				t.Fatalf("%s: event %+v %s", rd.Entity, ev, ev.Details)
			}
		}
	})
}
