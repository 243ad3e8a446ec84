package care

import (
	"reflect"
	"testing"
)

// TestWholeRecordMirrorsAttendance: the types that assemble an attendance
// from its stored parts (record.go) have the JSON fields of Attendance,
// TriageRecord and RoutingRecord in the same order with the same tags, so a
// field added to one and not the other fails here rather than vanishing
// from the API.
func TestWholeRecordMirrorsAttendance(t *testing.T) {
	for _, c := range []struct {
		real, mirror any
	}{
		{Attendance{}, wholeAttendanceJSON{}},
		{TriageRecord{}, wholeTriageJSON{}},
		{RoutingRecord{}, wholeRoutingJSON{}},
	} {
		rt, mt := reflect.TypeOf(c.real), reflect.TypeOf(c.mirror)
		var real, mirror []string
		for i := range rt.NumField() {
			if f := rt.Field(i); f.IsExported() {
				real = append(real, f.Name+" "+string(f.Tag))
			}
		}
		for i := range mt.NumField() {
			f := mt.Field(i)
			mirror = append(mirror, f.Name+" "+string(f.Tag))
		}
		if !reflect.DeepEqual(real, mirror) {
			t.Errorf("%s and %s differ:\n%q\n%q", rt.Name(), mt.Name(), real, mirror)
		}
	}
}
