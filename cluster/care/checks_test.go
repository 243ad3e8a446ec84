package care

import (
	"encoding/json"
	"testing"
)

// TestDecodeAttendanceTakesTheCheckedRecordOnlyWhenUnchanged: Apply takes
// the record its check decoded only when the stored bytes are the ones the
// check read, for the same attendance, and only once; otherwise it decodes
// what is stored now.
func TestDecodeAttendanceTakesTheCheckedRecordOnlyWhenUnchanged(t *testing.T) {
	before, _ := json.Marshal(&Attendance{ID: "A1", Status: AttendanceArrived, Complaint: "cough"})
	after, _ := json.Marshal(&Attendance{ID: "A1", Status: AttendanceTriaged, Complaint: "cough"})
	checked := func() *checkedAttendance {
		var a Attendance
		if err := json.Unmarshal(before, &a); err != nil {
			t.Fatal(err)
		}
		return &checkedAttendance{raw: before, a: &a}
	}
	for _, c := range []struct {
		name    string
		id      string
		stored  []byte
		checked any
		reused  bool
		status  string
	}{
		{"unchanged", "A1", before, checked(), true, AttendanceArrived},
		{"changed since the check", "A1", after, checked(), false, AttendanceTriaged},
		{"another attendance", "A2", before, checked(), false, AttendanceArrived},
		{"no check (follower, replay)", "A1", before, nil, false, AttendanceArrived},
		{"another kind's note", "A1", before, "note", false, AttendanceArrived},
	} {
		t.Run(c.name, func(t *testing.T) {
			var kept *Attendance
			if ca, ok := c.checked.(*checkedAttendance); ok {
				kept = ca.a
			}
			a, err := decodeAttendance(nil, c.id, c.stored, c.checked)
			if err != nil {
				t.Fatal(err)
			}
			if (a == kept) != c.reused || a.Status != c.status {
				t.Fatalf("reused %v (want %v), status %s (want %s)", a == kept, c.reused, a.Status, c.status)
			}
			if !c.reused {
				return
			}
			again, err := decodeAttendance(nil, c.id, c.stored, c.checked)
			if err != nil {
				t.Fatal(err)
			}
			if again == kept {
				t.Fatal("the checked record was handed out twice")
			}
		})
	}
}
