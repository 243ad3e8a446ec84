package cluster

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

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
	dir, err := routing.DemoDirectory()
	if err != nil {
		b.Fatal(err)
	}
	f := newTestFSM(b)
	f.ApplyBatch([]*raft.Log{
		cmdLog(1, kindEnv(b, KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload())),
		cmdLog(2, kindEnv(b, KindDirectoryLoad, 2, bootstrap, dir)),
	})
	answers := screenNo(b)
	for _, k := range []string{"very_unwell", "retention", "catheter", "upper_tract", "visible_blood", "ask_pregnant", "recurrent", "vaginal"} {
		answers = append(answers, triage.Reply{Question: k, Value: "no"})
	}
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
