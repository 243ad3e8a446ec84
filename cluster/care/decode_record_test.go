package care

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestDecodeRecordMatchesEncodingJSON: cluster.DecodeRecord decodes with
// another library than encoding/json, which wrote the records. Walk-ins
// (patients created and linked, observations, answers one at a time to
// a routed outcome, a status change) leave records of every kind a
// walk-in writes; each is decoded both ways, into its type where the key
// says it and into any otherwise, and the results must be equal — also
// after the input buffer is overwritten (nothing decoded may alias it).
// So are the log entries' envelopes.
func TestDecodeRecordMatchesEncodingJSON(t *testing.T) {
	f := demoFSM(t)
	age := 30
	idx := uint64(3)
	var envs [][]byte
	apply := func(env []byte) *cluster.Result {
		t.Helper()
		envs = append(envs, env)
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(idx, env)})[0])
		idx++
		if r.Err != nil {
			t.Fatalf("entry %d: %v", idx-1, r.Err)
		}
		return r
	}
	complaints := []struct{ complaint, protocol string }{{"burning pee", "urinary-symptoms"}, {"sore throat", ""}, {"cut finger", ""}}
	for i, c := range complaints {
		id := "W0000000" + strconv.Itoa(i)
		pr := apply(kindEnv(t, KindPatientCreate, 10+i, testReception, PatientCreate{GivenName: []string{"Ada", "Zainab", "Tomasz"}[i], FamilyName: []string{"Smith <&> \u00e9", "Khan", "Nowak"}[i],
			DateOfBirth: "19" + strconv.Itoa(50+i*11) + "-0" + strconv.Itoa(i+1) + "-1" + strconv.Itoa(i), Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(i)}, "P"+id))
		var p PatientRecord
		if err := json.Unmarshal(pr.Value, &p); err != nil {
			t.Fatal(err)
		}
		r := apply(kindEnv(t, KindAttendanceCreate, 10+i, testReception, AttendanceCreate{Complaint: c.complaint, Protocol: c.protocol,
			Patient: Patient{Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(i), GivenName: "Ada", FamilyName: "Smith", DateOfBirth: "1990-01-01"},
			Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id))
		apply(kindEnv(t, KindAttendancePatient, 10+i, testReception, AttendancePatient{AttendanceID: id, PatientID: p.ID}))
		rr, temp := 16, 37.9
		apply(kindEnv(t, KindAttendanceObserve, 10+i, testReception, AttendanceObservations{AttendanceID: id,
			Observations: triage.Observations{RespiratoryRate: &rr, TemperatureC: &temp}}))
		for step := 0; step < 80; step++ {
			reply, ok := firstQuestionReply(t, r.Value)
			if !ok {
				break
			}
			r = apply(kindEnv(t, KindAttendanceAnswer, 10+i, testReception, AttendanceAnswers{AttendanceID: id, Answers: []triage.Reply{reply}}))
		}
	}

	typed := []struct {
		match func(key string) bool
		new   func() any
	}{
		{func(k string) bool { return strings.HasPrefix(k, prefixAttendance) }, func() any { return &storedAttendance{Attendance: &Attendance{}} }},
		{func(k string) bool {
			return strings.HasPrefix(k, prefixAttendanceParts) && strings.HasSuffix(k, "/"+partSession)
		}, func() any { return &sessionPart{} }},
		{func(k string) bool {
			return strings.HasPrefix(k, prefixAttendanceParts) && strings.HasSuffix(k, "/"+partRouting)
		}, func() any { return &RoutingRecord{} }},
		{func(k string) bool {
			return strings.HasPrefix(k, prefixAttendanceParts) && strings.Contains(k, "/"+logAnswers+"/")
		}, func() any { return &AnswerRecord{} }},
		{func(k string) bool { return strings.HasPrefix(k, prefixPatient) }, func() any { return &PatientRecord{} }},
	}
	counts := map[int]int{}
	compare := func(what string, b []byte, mk func() any) {
		t.Helper()
		want, got := mk(), mk()
		if err := json.Unmarshal(b, want); err != nil {
			return // not JSON (a binary meta value): never decoded as a record
		}
		buf := append([]byte(nil), b...)
		if err := cluster.DecodeRecord(buf, got); err != nil {
			t.Fatalf("%s: DecodeRecord: %v", what, err)
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: DecodeRecord gave\n%#v\nencoding/json gave\n%#v", what, got, want)
		}
	}
	err := f.Read(func(v *cluster.View) error {
		return v.Scan("", "", func(key string, val []byte) error {
			if len(val) == 0 {
				return nil
			}
			for i, ty := range typed {
				if ty.match(key) {
					counts[i]++
					compare(key, val, ty.new)
					return nil
				}
			}
			counts[-1]++
			compare(key, val, func() any { var x any; return &x })
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range typed {
		if counts[i] == 0 {
			t.Errorf("no record of typed kind %d in the state", i)
		}
	}
	if counts[-1] < 50 {
		t.Errorf("only %d other records compared", counts[-1])
	}
	for i, env := range envs {
		compare("envelope "+strconv.Itoa(i), env, func() any { return &cluster.Envelope{} })
	}
}

// TestRereadAttendanceOfNoAttendance: a retry naming an attendance that is
// gone (purged) is told it is not found, not given an error or bytes.
func TestRereadAttendanceOfNoAttendance(t *testing.T) {
	f := newTestFSM(t)
	v := f.OpenView(t)
	b, ok, err := rereadAttendance(v, "01NOSUCHATTENDANCE0000000")
	if ok || err != nil || b != nil {
		t.Fatalf("reread of a missing attendance: %q %v %v", b, ok, err)
	}
}
