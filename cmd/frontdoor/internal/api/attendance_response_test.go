package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestAttendanceResponseIsTheEncodedBody: answering with the command's
// attendance JSON and the index spliced in gives exactly the bytes of
// encoding the decoded attendance with the index, as handlers did before
// (HTML-escaped characters, non-ASCII text and nested records included).
func TestAttendanceResponseIsTheEncodedBody(t *testing.T) {
	due := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	for _, a := range []*care.Attendance{
		{ID: "A1"},
		{ID: "A2", Status: care.AttendanceArrived, Complaint: `chest pain <sharp> & "tight" — 3 days, Zoë`,
			Patient: care.Patient{GivenName: "Zoë", FamilyName: "O'Neil"}, ClinicianDue: &due,
			Triage: &care.TriageRecord{SetKey: "k", Answers: []care.AnswerRecord{{Question: "q", Value: "not_sure"}},
				Disposition: &care.Disposition{Tier: triage.GP, Timeframe: triage.Within4h, CareNeeds: []string{}}}},
	} {
		value, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(attendanceBody{Attendance: a, Index: 42})
		if err != nil {
			t.Fatal(err)
		}
		got, err := attendanceResponse(value, 42)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("attendance %s:\n got %s\nwant %s", a.ID, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{`} {
		if _, err := attendanceResponse([]byte(bad), 1); err == nil {
			t.Errorf("%q accepted as an attendance", bad)
		}
	}
}

// TestAttendanceID: the id of a command's attendance JSON, read from its
// first field without decoding the rest, and decoded when it is written
// any other way.
func TestAttendanceID(t *testing.T) {
	tests := []struct {
		value, want string
		bad         bool
	}{
		{value: `{"id":"01M9748KKM0KY981D404WFZ9V0","status":"arrived","triage":{"id":"not this"}}`, want: "01M9748KKM0KY981D404WFZ9V0"},
		{value: `{ "id" : "A1", "status":"arrived"}`, want: "A1"},
		{value: `{"status":"arrived","id":"B2"}`, want: "B2"},
		{value: `{"id":"a\"b","status":"arrived"}`, want: `a"b`},
		{value: `{"id":"","status":"arrived"}`, bad: true},
		{value: `{"status":"arrived"}`, bad: true},
		{value: `{"id":"unterminated`, bad: true},
	}
	for _, tt := range tests {
		got, err := attendanceID([]byte(tt.value))
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("attendanceID(%s) = %q, %v; want %q (error %v)", tt.value, got, err, tt.want, tt.bad)
		}
	}
}
