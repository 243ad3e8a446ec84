package care

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestCheckedEngineRunIsAFreshRun: the leader's check of attendance.answer
// runs the engine, and Apply on the leader takes that run where its own
// would have the same inputs (takeAnswerRun). A replica that checks every
// command before applying it (as the leader that proposed it) and one that
// does not (a follower) must answer every command byte for byte the same
// and end with the same state, over a varied log: answers one question at
// a time, two answers to one attendance in one entry (the second checked on
// the state before the first), a patient linked between answers (the
// contacts counted afresh are not the session's), an answer checked before
// an earlier command of its entry closed the attendance, and answers the
// check refuses (never proposed).
func TestCheckedEngineRunIsAFreshRun(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	lead, foll := newTestFSM(t), newTestFSM(t)
	var idx uint64
	clock := 0
	var reused, fresh, refused int
	// apply proposes envs as one entry: each checked on lead first (a
	// refusal is not proposed), then applied on both.
	apply := func(envs ...[]byte) []*cluster.Result {
		t.Helper()
		var prop [][]byte
		var runs []*answerRun
		for _, e := range envs {
			memo, err := lead.Check(e)
			var ce *cluster.CommandError
			if errors.As(err, &ce) {
				refused++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := memo.(*checkedAttendance); ok && c.run != nil {
				runs = append(runs, c.run)
			}
			prop = append(prop, e)
		}
		if len(prop) == 0 {
			return nil
		}
		idx++
		rl := lead.ApplyBatch([]*raft.Log{cmdLog(idx, prop...)})
		rf := foll.ApplyBatch([]*raft.Log{cmdLog(idx, prop...)})
		a, okA := rl[0].([]*cluster.Result)
		b, okB := rf[0].([]*cluster.Result)
		if !okA || !okB || len(a) != len(b) {
			t.Fatalf("entry %d: %#v vs %#v", idx, rl[0], rf[0])
		}
		for i := range a {
			ea, eb := "", ""
			if a[i].Err != nil {
				ea = a[i].Err.Error()
			}
			if b[i].Err != nil {
				eb = b[i].Err.Error()
			}
			if !bytes.Equal(a[i].Value, b[i].Value) || ea != eb {
				t.Fatalf("entry %d command %d: the checking replica answers\n%s %s\nthe other\n%s %s", idx, i, a[i].Value, ea, b[i].Value, eb)
			}
		}
		for _, r := range runs {
			if r.reused {
				reused++
			} else {
				fresh++
			}
		}
		return a
	}
	env := func(kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) []byte {
		clock++
		return kindEnv(t, kind, clock, actor, payload, ids...)
	}
	// questions are the questions an attendance waits on, from a result.
	questions := func(r *cluster.Result) []triage.Question {
		t.Helper()
		if r == nil || r.Err != nil {
			return nil
		}
		var a Attendance
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		if a.Triage == nil {
			return nil
		}
		return a.Triage.Questions
	}
	reply := func(q triage.Question) triage.Reply {
		if q.Type == triage.Number {
			v := 1.0
			if q.Min != nil {
				v = *q.Min
			}
			return triage.Reply{Question: q.ID, Value: strconv.FormatFloat(v, 'f', -1, 64)}
		}
		v := "no"
		if len(q.Allowed) > 0 && !contains(q.Allowed, v) {
			v = q.Allowed[0]
		}
		return triage.Reply{Question: q.ID, Value: v}
	}
	answer := func(id string, rs ...triage.Reply) []byte {
		return env(KindAttendanceAnswer, testReception, AttendanceAnswers{AttendanceID: id, Answers: rs})
	}
	age30, age71 := 30, 71
	create := func(id, protocol, nhs string, ctx *TriageContext) []triage.Question {
		r := apply(env(KindAttendanceCreate, testReception, AttendanceCreate{Complaint: "unwell", Protocol: protocol,
			Patient: Patient{Postcode: "DY1 1AA", NHSNumber: nhs}, Context: ctx}, id))
		if len(r) != 1 || r[0].Err != nil {
			t.Fatalf("create %s: %#v", id, r)
		}
		return questions(r[0])
	}
	// walk answers one question at a time until the session is done.
	walk := func(id string, qs []triage.Question) {
		for step := 0; len(qs) > 0 && step < 60; step++ {
			r := apply(answer(id, reply(qs[0])))
			if len(r) != 1 {
				t.Fatalf("%s: an answer the check refused: %v", id, qs[0])
			}
			qs = questions(r[0])
		}
	}

	apply(env(protocolset.KindProtocolsLoad, bootstrap, protocolsLoadPayload()))
	apply(env(directory.KindDirectoryLoad, bootstrap, dir))
	nhs := benchNHSNumber(7)

	// One question at a time, on three protocols.
	walk("A1", create("A1", "urinary-symptoms", nhs, &TriageContext{AgeYears: &age30, Sex: "female", Pregnant: "no"}))
	walk("A2", create("A2", "chest-pain", "", &TriageContext{AgeYears: &age71, Sex: "male"}))
	walk("A3", create("A3", "urinary-symptoms", nhs, &TriageContext{AgeYears: &age30, Sex: "female", Pregnant: "no"}))

	// Two answers in one entry, both checked on the state before it; then
	// a refused value and an unknown question.
	qs := create("A4", "urinary-symptoms", "", &TriageContext{AgeYears: &age30, Sex: "female", Pregnant: "no"})
	if len(qs) < 2 {
		t.Fatalf("A4 asks %d questions at once; want a form of 2 or more", len(qs))
	}
	r := apply(answer("A4", reply(qs[0])), answer("A4", reply(qs[1])), answer("A4", triage.Reply{Question: qs[0].ID, Value: "maybe"}),
		answer("A4", triage.Reply{Question: "no_such_question", Value: "no"}))
	qs = questions(r[len(r)-1])

	// A patient record with A1's NHS number linked to A4 between answers:
	// the contacts Apply counts (A1, A3) are not the session's (none).
	if r := apply(env(KindPatientCreate, testDesk, PatientCreate{NHSNumber: nhs, GivenName: "Ada", FamilyName: "Lovelace",
		DateOfBirth: "1996-01-02", ConfirmNew: true}, "P1")); r[0].Err != nil {
		t.Fatalf("patient: %v", r[0].Err)
	}
	apply(env(KindAttendancePatient, testDesk, AttendancePatient{AttendanceID: "A4", PatientID: "P1"}))
	walk("A4", qs)

	// An answer checked on an open attendance that the command before it
	// in the entry closes: Apply refuses it on both.
	qs = create("A5", "chest-pain", "", &TriageContext{AgeYears: &age71, Sex: "male"})
	r = apply(env(KindAttendanceStatus, testReception, AttendanceStatusChange{AttendanceID: "A5", Status: AttendanceLeft}),
		answer("A5", reply(qs[0])))
	if len(r) != 2 || r[1].Err == nil {
		t.Fatalf("answer to a closed attendance: %#v", r)
	}

	if reused == 0 || fresh == 0 || refused == 0 {
		t.Fatalf("engine runs reused %d, run afresh %d, refused by the check %d: want some of each", reused, fresh, refused)
	}
	hl, il := mustHash(t, lead)
	hf, iff := mustHash(t, foll)
	if hl != hf || il != iff {
		t.Fatalf("state hash %s at %d (checked) vs %s at %d", hl, il, hf, iff)
	}
	if dl, df := dataHash(t, lead), dataHash(t, foll); dl != df {
		t.Fatalf("stored data differ: %s vs %s", dl, df)
	}
	t.Logf("%d entries: engine runs reused %d, run afresh %d, answers refused by the check %d", idx, reused, fresh, refused)
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// TestAttendancePersonReadsTheRecord: previousContacts decodes only who an
// attendance is for (attendancePerson) from a/<id>: the same values as
// decoding the whole record, whole or as stored beside its parts.
func TestAttendancePersonReadsTheRecord(t *testing.T) {
	a := &Attendance{ID: "A1", Patient: Patient{GivenName: "Ada", NHSNumber: "9434765919", Postcode: "DY1 1AA"}, PatientID: "P7",
		Complaint: "patient_id nhs_number", Triage: &TriageRecord{Answers: []AnswerRecord{}}}
	for _, v := range []any{a, &storedAttendance{Attendance: a, Parts: &recordParts{Answers: 3}}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var p attendancePerson
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.PatientID != a.PatientID || p.Patient.NHSNumber != a.Patient.NHSNumber {
			t.Fatalf("%s read as %+v", b, p)
		}
	}
}

// BenchmarkPreviousContactRead: what previousContacts reads of each
// earlier attendance of the same person (a/<id> of a walk-in triaged and
// routed): who it was for (attendancePerson) against the whole record.
func BenchmarkPreviousContactRead(b *testing.B) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		b.Fatal(err)
	}
	f := newTestFSM(b)
	answers := screenNo(b)
	for _, k := range []string{"very_unwell", "retention", "catheter", "upper_tract", "visible_blood", "ask_pregnant", "recurrent", "vaginal"} {
		answers = append(answers, triage.Reply{Question: k, Value: "no"})
	}
	age := 30
	f.ApplyBatch([]*raft.Log{
		cmdLog(1, kindEnv(b, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload())),
		cmdLog(2, kindEnv(b, directory.KindDirectoryLoad, 2, bootstrap, dir)),
		cmdLog(3, kindEnv(b, KindAttendanceCreate, 3, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{Postcode: "DY1 1AA", NHSNumber: benchNHSNumber(1)}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, "A1")),
		cmdLog(4, kindEnv(b, KindAttendanceAnswer, 4, testReception, AttendanceAnswers{AttendanceID: "A1", Answers: answers})),
	})
	var raw []byte
	f.ReadState(b, func(v *cluster.View) error {
		var err error
		raw, _, err = v.GetRaw(keyAttendance("A1"))
		return err
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var o Attendance
			if err := json.Unmarshal(raw, &storedAttendance{Attendance: &o}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("person", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var o attendancePerson
			if err := json.Unmarshal(raw, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
}
