package care

import (
	"reflect"
	"testing"
)

// TestWholeRecordMirrorsAttendance: the types that assemble an attendance
// from its stored parts (record.go) have the JSON fields of Attendance,
// TriageRecord and RoutingRecord in the same order with the same tags, so a
// field added to one and not the other fails here rather than vanishing
// from the API. The fields attendanceJSON writes itself are named here.
func TestWholeRecordMirrorsAttendance(t *testing.T) {
	fields := func(ts ...any) []string {
		var out []string
		for _, x := range ts {
			if s, ok := x.(string); ok {
				out = append(out, s)
				continue
			}
			rt := reflect.TypeOf(x)
			for i := range rt.NumField() {
				if f := rt.Field(i); f.IsExported() {
					out = append(out, f.Name+" "+string(f.Tag))
				}
			}
		}
		return out
	}
	// The session part's first fields are what the API shows; the rest
	// say how a compact part is stored (never shown).
	sp := fields(sessionPart{})
	if want := []string{`QuestionIDs json:"question_ids,omitempty"`, `Compact json:"compact,omitempty"`}; !reflect.DeepEqual(sp[2:], want) {
		t.Fatalf("sessionPart's fields after the shown ones: %q, want %q", sp[2:], want)
	}
	for _, c := range []struct {
		real   any
		mirror []any
	}{
		{Attendance{}, []any{wholeAttendanceHead{}, `Timeline json:"timeline"`, wholeAttendanceMiddle{}, `Triage json:"triage,omitempty"`, `Routing json:"routing,omitempty"`, wholeAttendanceTail{}}},
		{TriageRecord{}, []any{`SetKey json:"set_key"`, sp[0], sp[1], `Answers json:"answers"`, wholeTriageRest{}}},
		// the stored routing part is RoutingRecord itself, with the
		// history log put back as its last field
		{RoutingRecord{}, []any{RoutingRecord{}}},
	} {
		real, mirror := fields(c.real), fields(c.mirror...)
		if !reflect.DeepEqual(real, mirror) {
			t.Errorf("%T and its mirror differ:\n%q\n%q", c.real, real, mirror)
		}
	}
	rr := fields(RoutingRecord{})
	if rr[len(rr)-1] != `History json:"history,omitempty"` {
		t.Errorf("RoutingRecord's last field is %s, not its history", rr[len(rr)-1])
	}
}
