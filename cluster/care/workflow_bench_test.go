package care

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// BenchmarkWorkflowTriageAndRoute: one walk-in from arrival to a routed
// pharmacy decision, as Apply runs it: attendance.create (triage session
// started on the pinned set) then one attendance.answer with every answer,
// which reaches the outcome, routes over the directory and slot load in
// state and takes the slot. Reported per attendance (two commands, two
// Badger commits with fsync).
func BenchmarkWorkflowTriageAndRoute(b *testing.B) {
	f := demoFSM(b)
	answers := urinaryAllNo(b)
	age := 30
	idx := uint64(3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("W%08d", i)
		create := kindEnv(b, KindAttendanceCreate, 10+i, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id)
		answer := kindEnv(b, KindAttendanceAnswer, 10+i, testReception, AttendanceAnswers{AttendanceID: id, Answers: answers})
		r1 := f.ApplyBatch([]*raft.Log{cmdLog(idx, create)})
		r2 := f.ApplyBatch([]*raft.Log{cmdLog(idx+1, answer)})
		idx += 2
		if resultValue(b, r1[0]).Err != nil || resultValue(b, r2[0]).Err != nil {
			b.Fatalf("refused: %v %v", resultValue(b, r1[0]).Err, resultValue(b, r2[0]).Err)
		}
	}
}

// BenchmarkApplyAnswer: one attendance.answer command that reaches the
// outcome and routes (the expensive kind), applied on a state that already
// holds `prior` routed attendances (their slot records are what loadAt
// reads). The attendance.create before each is not timed.
func BenchmarkApplyAnswer(b *testing.B) {
	for _, prior := range []int{0, 2000} {
		b.Run(fmt.Sprintf("prior=%d", prior), func(b *testing.B) {
			f := demoFSM(b)
			answers := urinaryAllNo(b)
			age := 30
			idx := uint64(3)
			n := 0
			one := func(timed bool) {
				id := fmt.Sprintf("W%08d", n)
				create := kindEnv(b, KindAttendanceCreate, 10+n/100, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
					Patient: Patient{Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(n)}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id)
				answer := kindEnv(b, KindAttendanceAnswer, 10+n/100, testReception, AttendanceAnswers{AttendanceID: id, Answers: answers})
				n++
				if timed {
					b.StopTimer()
				}
				r1 := f.ApplyBatch([]*raft.Log{cmdLog(idx, create)})
				if timed {
					b.StartTimer()
				}
				r2 := f.ApplyBatch([]*raft.Log{cmdLog(idx+1, answer)})
				idx += 2
				if resultValue(b, r1[0]).Err != nil || resultValue(b, r2[0]).Err != nil {
					b.Fatalf("refused: %v %v", resultValue(b, r1[0]).Err, resultValue(b, r2[0]).Err)
				}
			}
			for range prior {
				one(false)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				one(true)
			}
		})
	}
}

// benchNHSNumber is the n-th valid (Modulus 11) NHS number from 400000000x.
func benchNHSNumber(n int) string {
	for base := 400000000 + n*2; ; base++ {
		d := fmt.Sprintf("%09d", base)
		sum := 0
		for i, c := range d {
			sum += int(c-'0') * (10 - i)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check != 10 {
			return fmt.Sprintf("%s%d", d, check)
		}
	}
}

// BenchmarkCheckAndApplyAnswer is BenchmarkApplyAnswer/prior=0 on the
// leader: each attendance.answer is checked (Store.precheck's Check, on a
// view) and then applied with what the check computed (Tx.Checked), both
// timed.
func BenchmarkCheckAndApplyAnswer(b *testing.B) {
	f := demoFSM(b)
	answers := urinaryAllNo(b)
	age := 30
	idx := uint64(3)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("W%08d", i)
		create := kindEnv(b, KindAttendanceCreate, 10+i/100, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(i)}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id)
		answer := kindEnv(b, KindAttendanceAnswer, 10+i/100, testReception, AttendanceAnswers{AttendanceID: id, Answers: answers})
		b.StopTimer()
		r1 := f.ApplyBatch([]*raft.Log{cmdLog(idx, create)})
		b.StartTimer()
		if _, err := f.Check(answer); err != nil {
			b.Fatal(err)
		}
		r2 := f.ApplyBatch([]*raft.Log{cmdLog(idx+1, answer)})
		idx += 2
		if resultValue(b, r1[0]).Err != nil || resultValue(b, r2[0]).Err != nil {
			b.Fatalf("refused: %v %v", resultValue(b, r1[0]).Err, resultValue(b, r2[0]).Err)
		}
	}
}

// BenchmarkWalkInOneAtATime: one walk-in as the loadtest's walk-in client
// drives it: attendance.create, then attendance.answer with one reply at a
// time (the first question waiting) until triage ends; each answer checked
// first as on the leader (Check, then Apply with what it computed).
// Reported per walk-in.
func BenchmarkWalkInOneAtATime(b *testing.B) {
	f := demoFSM(b)
	age := 30
	idx := uint64(3)
	apply := func(env []byte) *cluster.Result {
		if _, err := f.Check(env); err != nil {
			b.Fatal(err)
		}
		r := resultValue(b, f.ApplyBatch([]*raft.Log{cmdLog(idx, env)})[0])
		idx++
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		return r
	}
	answers := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("W%08d", i)
		r := apply(kindEnv(b, KindAttendanceCreate, 10+i/100, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(i)}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id))
		for step := 0; step < 60; step++ {
			reply, ok := firstQuestionReply(b, r.Value)
			if !ok {
				break
			}
			r = apply(kindEnv(b, KindAttendanceAnswer, 10+i/100, testReception, AttendanceAnswers{AttendanceID: id, Answers: []triage.Reply{reply}}))
			answers++
		}
	}
	b.ReportMetric(float64(answers)/float64(b.N), "answers/walk-in")
}

// demoFSM is a replica with the protocols and the demo directory loaded
// (entries 1 and 2).
func demoFSM(tb testing.TB) *testFSM {
	tb.Helper()
	dir, err := routing.DemoDirectory()
	if err != nil {
		tb.Fatal(err)
	}
	f := newTestFSM(tb)
	f.ApplyBatch([]*raft.Log{
		cmdLog(1, kindEnv(tb, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload())),
		cmdLog(2, kindEnv(tb, directory.KindDirectoryLoad, 2, bootstrap, dir)),
	})
	return f
}

// urinaryAllNo answers the screen and the urinary-symptoms protocol "no"
// throughout.
func urinaryAllNo(tb testing.TB) []triage.Reply {
	answers := screenNo(tb)
	for _, k := range []string{"very_unwell", "retention", "catheter", "upper_tract", "visible_blood", "ask_pregnant", "recurrent", "vaginal"} {
		answers = append(answers, triage.Reply{Question: k, Value: "no"})
	}
	return answers
}

// firstQuestionReply is what a person who says "no" wherever they can
// answers to the first question the attendance in value (a command's
// Result) waits for; ok is false once triage has ended.
func firstQuestionReply(tb testing.TB, value json.RawMessage) (reply triage.Reply, ok bool) {
	tb.Helper()
	var a Attendance
	if err := json.Unmarshal(value, &a); err != nil {
		tb.Fatal(err)
	}
	if a.Triage == nil || len(a.Triage.Questions) == 0 {
		return triage.Reply{}, false
	}
	q := a.Triage.Questions[0]
	v := "no"
	if q.Type == triage.Number {
		v = "1"
		if q.Min != nil {
			v = strconv.FormatFloat(*q.Min, 'f', -1, 64)
		}
	} else if len(q.Allowed) > 0 && !contains(q.Allowed, v) {
		v = q.Allowed[0]
	}
	return triage.Reply{Question: q.ID, Value: v}, true
}

// BenchmarkApplyPatientCreate: one patient.create applied on a state that
// already holds 2,000 patients sharing 20 surnames and 14 postcodes (the
// load tool's synthetic people), so each new record's surname and
// postcode blocks hold a hundred or more records to compare. Dates of
// birth are spread, so almost none is a likely match.
func BenchmarkApplyPatientCreate(b *testing.B) {
	f := demoFSM(b)
	surnames := []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
		"Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Lewis"}
	givens := []string{"Olivia", "Amelia", "Isla", "Ava", "Mia", "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Muhammad"}
	idx := uint64(3)
	n := 0
	one := func() {
		p := PatientCreate{GivenName: givens[n%len(givens)], FamilyName: surnames[n%len(surnames)],
			DateOfBirth: fmt.Sprintf("%04d-%02d-%02d", 1930+n%90, 1+n/90%12, 1+n/1080%28), Postcode: fmt.Sprintf("DY%d %dAA", 1+n%14, 1+n/14%9),
			ConfirmNew: true}
		r := f.ApplyBatch([]*raft.Log{cmdLog(idx, kindEnv(b, KindPatientCreate, 10+n/100, testReception, p, fmt.Sprintf("P%08d", n)))})
		idx++
		n++
		if err := resultValue(b, r[0]).Err; err != nil {
			b.Fatalf("refused: %v", err)
		}
	}
	for range 2000 {
		one()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		one()
	}
}
