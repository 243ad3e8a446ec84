package care

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestEveryChangeInOneEntryIsAudited: the leader groups concurrent
// proposals into one raft entry, so two changes to one attendance (an
// answer and observations sent together from two screens, or two answers)
// can share an entry index. Each keeps its audit event, in order, from
// logic version 14; an entry proposed at 13 replays as it was applied then
// (each event replaced the one before: only the last remained), so old
// logs give the same state.
func TestEveryChangeInOneEntryIsAudited(t *testing.T) {
	for _, tc := range []struct {
		lv   int
		want []string
	}{
		{cluster.LogicVersion, []string{"attendance.create", "attendance.answer", "attendance.answer", "attendance.observe", "attendance.status"}},
		{13, []string{"attendance.create", "attendance.status"}},
	} {
		f := demoFSM(t)
		at := func(env []byte) []byte { return atLogicVersion(t, env, tc.lv) }
		age := 30
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(3, at(kindEnv(t, KindAttendanceCreate, 10, testReception, AttendanceCreate{
			Complaint: "burning pee", Protocol: "urinary-symptoms", Patient: Patient{Postcode: "DY1 1AA"},
			Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, "X1")))})[0])
		first, ok := firstQuestionReply(t, r.Value)
		if !ok {
			t.Fatal("no question after arrival")
		}
		// One entry: an answer, a second answer to the same question
		// (accepted: it changes nothing), observations, and a
		// status change, all for X1.
		rr := 18
		entry := cmdLog(4,
			at(kindEnv(t, KindAttendanceAnswer, 11, testReception, AttendanceAnswers{AttendanceID: "X1", Answers: []triage.Reply{first}})),
			at(kindEnv(t, KindAttendanceAnswer, 11, testDesk, AttendanceAnswers{AttendanceID: "X1", Answers: []triage.Reply{first}})),
			at(kindEnv(t, KindAttendanceObserve, 11, testReception, AttendanceObservations{AttendanceID: "X1",
				Observations: triage.Observations{RespiratoryRate: &rr}})),
			at(kindEnv(t, KindAttendanceStatus, 11, testReception, AttendanceStatusChange{AttendanceID: "X1", Status: AttendanceLeft})),
		)
		res, ok := f.ApplyBatch([]*raft.Log{entry})[0].([]*cluster.Result)
		if !ok || len(res) != 4 {
			t.Fatalf("entry results: %#v", res)
		}
		for i, x := range res {
			if x.Err != nil {
				t.Fatalf("logic version %d: command %d refused: %v", tc.lv, i, x.Err)
			}
		}
		var got []string
		var seen []*cluster.AuditEvent
		f.ReadState(t, func(v *cluster.View) error {
			evs, err := v.Audit("attendance/X1")
			for _, e := range evs {
				got = append(got, e.Action)
			}
			seen = evs
			return err
		})
		if len(got) != len(tc.want) {
			t.Fatalf("logic version %d: audit trail %q, want %q", tc.lv, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("logic version %d: audit trail %q, want %q", tc.lv, got, tc.want)
			}
		}
		if tc.lv == cluster.LogicVersion {
			// Who did what stays with its event: the second answer was the desk's.
			if seen[1].Actor.ID != testReception.ID || seen[2].Actor.ID != testDesk.ID || seen[1].Index != 4 || seen[2].Index != 4 {
				t.Fatalf("events of the entry: %+v, %+v", seen[1], seen[2])
			}
		}
	}
}
