package care

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// atLogicVersion is env proposed under logic version lv instead.
func atLogicVersion(t *testing.T, env []byte, lv int) []byte {
	t.Helper()
	var e cluster.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	e.LogicVersion = lv
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replicaPair applies each command to two replicas, as proposed on now
// and at logic version oldLV on old, and fails the test unless both answer
// byte for byte the same. With mixed, every third command reaches now at
// oldLV too.
type replicaPair struct {
	t        *testing.T
	now, old *testFSM
	oldLV    int
	idx      uint64
	mixed    bool
}

func (p *replicaPair) apply(env []byte) *cluster.Result {
	p.t.Helper()
	envNow := env
	if p.mixed && p.idx%3 == 0 {
		envNow = atLogicVersion(p.t, env, p.oldLV)
	}
	r := resultValue(p.t, p.now.ApplyBatch([]*raft.Log{cmdLog(p.idx, envNow)})[0])
	rOld := resultValue(p.t, p.old.ApplyBatch([]*raft.Log{cmdLog(p.idx, atLogicVersion(p.t, env, p.oldLV))})[0])
	p.idx++
	if r.Err != nil || rOld.Err != nil {
		p.t.Fatalf("entry %d: %v / at %d: %v", p.idx-1, r.Err, p.oldLV, rOld.Err)
	}
	if !bytes.Equal(r.Value, rOld.Value) {
		p.t.Fatalf("entry %d answered\n%s\nat logic version %d\n%s", p.idx-1, r.Value, p.oldLV, rOld.Value)
	}
	return r
}

// readAlike fails the test unless each attendance reads back the same on
// both replicas.
func (p *replicaPair) readAlike(ids ...string) {
	p.t.Helper()
	for _, id := range ids {
		var a, b json.RawMessage
		p.now.ReadState(p.t, func(v *cluster.View) (err error) { a, _, err = rereadAttendance(v, id); return err })
		p.old.ReadState(p.t, func(v *cluster.View) (err error) { b, _, err = rereadAttendance(v, id); return err })
		if len(a) == 0 || !bytes.Equal(a, b) {
			p.t.Fatalf("attendance %s reads\n%s\nat logic version %d\n%s", id, a, p.oldLV, b)
		}
	}
}

// TestCompactSessionShowsTheSame: from logic version 13 a triage session
// is stored compact (the ids of the questions waiting, the path without
// the questions' wording). The same commands applied on one replica as
// proposed now and on another rewritten to logic version 12 (sessions
// stored whole) give every command the same answer byte for byte, and
// every attendance reads back the same, on walk-ins answered one question
// at a time to their outcome (observations, a patient linked, a status
// change after the outcome), on an NHS 111 fall call, and on a parent
// unsure of everything about a six-week-old (no postcode, a whole
// sentence for the complaint), also when the
// two versions take turns on one attendance; and the session
// parts stored while questions wait are under 60% of the bytes of the
// whole ones, the finished sessions under 80%. The attendances' index
// keys are the same on both (version 13 writes each once, not with every
// record).
func TestCompactSessionShowsTheSame(t *testing.T) {
	now, old := demoFSM(t), demoFSM(t)
	// mixed: on the first walk-in every third answer reaches the compact
	// replica as a version 12 command too (a cluster moving between
	// versions): each version reads what the other stored.
	pair := &replicaPair{t: t, now: now, old: old, oldLV: 12, idx: 3}
	apply := pair.apply
	// sizes are the session parts in state, while questions wait and done.
	sizes := func(f *testFSM) (waiting, done []int) {
		f.ReadState(t, func(v *cluster.View) error {
			return v.Scan(prefixAttendanceParts, "", func(key string, val []byte) error {
				switch {
				case !strings.HasSuffix(key, "/"+partSession) || len(val) <= 2:
				case bytes.Contains(val, []byte(`"done":true`)):
					done = append(done, len(val))
				default:
					waiting = append(waiting, len(val))
				}
				return nil
			})
		})
		return waiting, done
	}
	sum := func(xs []int) (n int) {
		for _, x := range xs {
			n += x
		}
		return n
	}
	age := 30
	var ids []string
	var waiting13, waiting12 int // bytes of the waiting parts, step by step
	for i, c := range []struct{ complaint, protocol string }{{"burning pee", "urinary-symptoms"}, {"sore throat and a cough", "cough-cold-sore-throat"}, {"fell and hurt my wrist", "limb-injury-falls"}} {
		id := "C0000000" + strconv.Itoa(i)
		ids = append(ids, id)
		pair.mixed = i == 0
		r := apply(kindEnv(t, KindAttendanceCreate, 10+i, testReception, AttendanceCreate{Complaint: c.complaint, Protocol: c.protocol,
			Patient: Patient{Postcode: "DY1 1AA", GivenName: "Ada", FamilyName: "Smith <&>", DateOfBirth: "1990-01-01", NHSNumber: benchNHSNumber(i)},
			Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id))
		pr := apply(kindEnv(t, KindPatientCreate, 10+i, testReception, PatientCreate{GivenName: []string{"Ada", "Zainab", "Tomasz"}[i], FamilyName: "Smith",
			DateOfBirth: "19" + strconv.Itoa(50+i*11) + "-0" + strconv.Itoa(i+1) + "-1" + strconv.Itoa(i), Postcode: "DY1 1AA"}, "P"+id))
		var p PatientRecord
		if err := json.Unmarshal(pr.Value, &p); err != nil {
			t.Fatal(err)
		}
		apply(kindEnv(t, KindAttendancePatient, 10+i, testReception, AttendancePatient{AttendanceID: id, PatientID: p.ID}))
		rr, temp := 16, 37.9
		apply(kindEnv(t, KindAttendanceObserve, 10+i, testReception, AttendanceObservations{AttendanceID: id,
			Observations: triage.Observations{RespiratoryRate: &rr, TemperatureC: &temp}}))
		for step := 0; step < 80; step++ {
			w13, _ := sizes(now)
			w12, _ := sizes(old)
			waiting13, waiting12 = waiting13+sum(w13), waiting12+sum(w12)
			reply, ok := firstQuestionReply(t, r.Value)
			if !ok {
				break
			}
			r = apply(kindEnv(t, KindAttendanceAnswer, 10+i, testReception, AttendanceAnswers{AttendanceID: id, Answers: []triage.Reply{reply}}))
		}
		apply(kindEnv(t, KindAttendanceStatus, 10+i, testReception, AttendanceStatusChange{AttendanceID: id, Status: AttendanceLeft}))
	}
	apply(kindEnv(t, KindAttendanceCreate, 20, testDesk, fallCall(), "F1"))
	ids = append(ids, "F1")

	// A worried parent: a six-week-old, no postcode, the complaint in
	// their own words, "not sure" to every question that takes it (the
	// follow-ups and clinician-first floors that brings).
	weeks := 6
	r := apply(kindEnv(t, KindAttendanceCreate, 30, testReception, AttendanceCreate{
		Complaint: "my baby is six weeks old and feels really hot and won't feed properly", Protocol: "fever-under-5",
		Context: &TriageContext{AgeWeeks: &weeks, Sex: "unknown"}}, "B1"))
	ids = append(ids, "B1")
	unsure := 0
	for step := 0; step < 80; step++ {
		var a Attendance
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		if a.Triage == nil || len(a.Triage.Questions) == 0 {
			break
		}
		reply, _ := firstQuestionReply(t, r.Value)
		for _, v := range a.Triage.Questions[0].Allowed {
			if v == triage.NotSure {
				reply.Value, unsure = v, unsure+1
			}
		}
		r = apply(kindEnv(t, KindAttendanceAnswer, 30, testReception, AttendanceAnswers{AttendanceID: "B1", Answers: []triage.Reply{reply}}))
	}
	var done Attendance
	if err := json.Unmarshal(r.Value, &done); err != nil || done.Triage == nil || done.Triage.Disposition == nil {
		t.Fatalf("the baby's triage did not finish: %v", err)
	}
	t.Logf("not sure to %d questions; %s, %s", unsure, done.Triage.Disposition.Tier, done.Triage.Disposition.DecidedBy)
	if unsure < 3 {
		t.Fatalf("only %d questions answered not sure", unsure)
	}

	pair.readAlike(ids...)
	// The index keys are the same though version 13 writes each once.
	keys := func(f *testFSM) (out []string) {
		f.ReadState(t, func(v *cluster.View) error {
			return v.Keys("ax/", "", func(key string) error { out = append(out, key); return nil })
		})
		return out
	}
	if k13, k12 := keys(now), keys(old); len(k13) < 10 || strings.Join(k13, " ") != strings.Join(k12, " ") {
		t.Fatalf("index keys at 13:\n%q\nat 12:\n%q", k13, k12)
	}
	w13, d13 := sizes(now)
	w12, d12 := sizes(old)
	if len(d13) != 4 || len(d12) != 4 || len(w13) != 0 || len(w12) != 0 {
		t.Fatalf("sessions finished: %d compact, %d whole; waiting %d, %d; want 4, 4, 0, 0", len(d13), len(d12), len(w13), len(w12))
	}
	if waiting13 == 0 || waiting13*10 > waiting12*6 {
		t.Errorf("session parts while questions wait: %d bytes compact, %d whole", waiting13, waiting12)
	}
	if sum(d13)*10 > sum(d12)*8 {
		t.Errorf("finished sessions: %v bytes compact, %v whole", d13, d12)
	}
	t.Logf("while questions wait %d bytes compact, %d whole; finished %v compact, %v whole", waiting13, waiting12, d13, d12)
}
