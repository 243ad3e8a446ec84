package care

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestEveryChangeInOneEntryIsAudited: the leader groups concurrent
// proposals into one raft entry, so two changes to one attendance (an
// answer and observations sent together from two screens, or two answers)
// can share an entry index. Each keeps its audit event, in order, from
// logic version 14, also after a version 13 command of the same entry;
// an entry proposed at 13 replays as it was applied then (each event
// replaced the one before: only the last remained), so old logs give the
// same state.
func TestEveryChangeInOneEntryIsAudited(t *testing.T) {
	all := []string{"attendance.create", "attendance.answer", "attendance.answer", "attendance.observe", "attendance.status"}
	for _, tc := range []struct {
		lv, first int // first: the entry's first command's version
		want      []string
	}{
		{cluster.LogicVersion, cluster.LogicVersion, all},
		{13, 13, []string{"attendance.create", "attendance.status"}},
		// The cluster's version rose between two proposals grouped into
		// one entry: the version 13 command's event is kept too.
		{cluster.LogicVersion, 13, all},
	} {
		f := demoFSM(t)
		at := func(env []byte) []byte { return atLogicVersion(t, env, tc.lv) }
		atFirst := func(env []byte) []byte { return atLogicVersion(t, env, tc.first) }
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
			atFirst(kindEnv(t, KindAttendanceAnswer, 11, testReception, AttendanceAnswers{AttendanceID: "X1", Answers: []triage.Reply{first}})),
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
		if len(tc.want) == len(all) {
			// Who did what stays with its event: the second answer was the desk's.
			if seen[1].Actor.ID != testReception.ID || seen[2].Actor.ID != testDesk.ID || seen[1].Index != 4 || seen[2].Index != 4 {
				t.Fatalf("events of the entry: %+v, %+v", seen[1], seen[2])
			}
		}
	}
}

// TestEveryReadInOneEntryIsAudited: each node proposes the reads it served
// as record.read commands of up to 256 reads, and the leader may group
// those of three nodes into one raft entry; a receptionist's page polling
// one attendance puts many reads of one record in each. Every read keeps
// its own event, interleaved with another record's, in order.
func TestEveryReadInOneEntryIsAudited(t *testing.T) {
	f := newTestFSM(t)
	desk := cluster.Actor{ID: "k-desk", Name: "Desk 1", Role: access.RoleReception}
	at := testEpoch.Add(time.Hour)
	var envs [][]byte
	for node := 0; node < 3; node++ {
		in := RecordReads{Node: "node" + strconv.Itoa(node)}
		for i := range MaxReadsPerBatch {
			entity := "attendance/A1"
			if i%5 == 4 {
				entity = "patient/P1"
			}
			in.Reads = append(in.Reads, RecordRead{Actor: desk, Entity: entity, Route: "GET /v1/attendances/:id?n=" + strconv.Itoa(node*1000+i), At: at})
		}
		envs = append(envs, kindEnv(t, KindRecordRead, 60, cluster.SystemActor, in))
	}
	res, ok := f.ApplyBatch([]*raft.Log{cmdLog(3, envs...)})[0].([]*cluster.Result)
	if !ok || len(res) != 3 {
		t.Fatalf("entry results: %#v", res)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("command %d refused: %v", i, r.Err)
		}
	}
	f.ReadState(t, func(v *cluster.View) error {
		for entity, want := range map[string]int{"attendance/A1": 3 * 205, "patient/P1": 3 * 51} {
			evs, err := v.Audit(entity)
			if err != nil {
				return err
			}
			if len(evs) != want {
				t.Fatalf("%s: %d events, want %d", entity, len(evs), want)
			}
			// In the order applied: node 0's reads, then node 1's, then node 2's.
			last := -1
			for _, ev := range evs {
				var d struct{ Route string }
				if err := json.Unmarshal(ev.Details, &d); err != nil {
					return err
				}
				n, err := strconv.Atoi(d.Route[strings.LastIndexByte(d.Route, '=')+1:])
				if err != nil || n <= last {
					t.Fatalf("%s: event %q after read %d", entity, d.Route, last)
				}
				last = n
			}
		}
		return nil
	})
}
