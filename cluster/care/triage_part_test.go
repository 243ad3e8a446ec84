package care

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestTriagePartWrittenOnlyWhenItChanges: from logic version 15 an
// attendance's triage decision lives in ap/<id>/t, and a command writes
// it only when it changed. A walk-in answered one question at a time to
// its outcome, with observations on the way, an unsure parent of a
// six-week-old answering "not sure" where they can, and a status change
// after each: every version Badger holds of each key is read back (no
// compaction has dropped any) to show that
//   - no two successive versions of a triage part are the same bytes,
//   - the triage part is written in fewer commands than a/<id> (the
//     answers that only move the session on leave it alone),
//   - every version of a/<id> is under 1 KiB,
//
// and each attendance reads back as the same JSON as on a replica that
// applied the same commands at logic version 14 (the decision in a/<id>).
func TestTriagePartWrittenOnlyWhenItChanges(t *testing.T) {
	dir := t.TempDir()
	rep, err := cluster.OpenReplica(dir, testCommands(), fsmtest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	now := &fsmtest.FSM{Replica: rep}
	old := demoFSM(t)
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	now.ApplyBatch([]*raft.Log{
		cmdLog(1, kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload())),
		cmdLog(2, kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, demo)),
	})
	pair := &replicaPair{t: t, now: now, old: old, oldLV: 14, idx: 3}
	apply := pair.apply
	answerToTheEnd := func(id string, n int, r *cluster.Result, unsure bool) {
		for step := 0; step < 80; step++ {
			var a Attendance
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			reply, ok := firstQuestionReply(t, r.Value)
			if !ok {
				if a.Triage == nil || a.Triage.Disposition == nil {
					t.Fatalf("%s: no questions and no disposition", id)
				}
				return
			}
			if unsure {
				for _, v := range a.Triage.Questions[0].Allowed {
					if v == triage.NotSure {
						reply.Value = v
					}
				}
			}
			r = apply(kindEnv(t, KindAttendanceAnswer, n, testReception, AttendanceAnswers{AttendanceID: id, Answers: []triage.Reply{reply}}))
			if step == 3 {
				rr, temp, spo2 := 22, 38.4, 95
				r = apply(kindEnv(t, KindAttendanceObserve, n, testReception, AttendanceObservations{AttendanceID: id,
					Observations: triage.Observations{RespiratoryRate: &rr, TemperatureC: &temp, SpO2: &spo2}}))
			}
		}
		t.Fatalf("%s: triage did not finish in 80 answers", id)
	}
	age, weeks := 34, 6
	r := apply(kindEnv(t, KindAttendanceCreate, 10, testReception, AttendanceCreate{Complaint: "burning when I pee", Protocol: "urinary-symptoms",
		Patient: Patient{Postcode: "DY1 1AA", GivenName: "Ada", FamilyName: "Smith", DateOfBirth: "1992-03-04", NHSNumber: benchNHSNumber(1)},
		Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, "T1"))
	answerToTheEnd("T1", 10, r, false)
	apply(kindEnv(t, KindAttendanceStatus, 10, testReception, AttendanceStatusChange{AttendanceID: "T1", Status: AttendanceLeft}))
	r = apply(kindEnv(t, KindAttendanceCreate, 20, testReception, AttendanceCreate{
		Complaint: "my baby is six weeks old and feels really hot and won't feed properly", Protocol: "fever-under-5",
		Context: &TriageContext{AgeWeeks: &weeks, Sex: "unknown"}}, "T2"))
	answerToTheEnd("T2", 20, r, true)
	apply(kindEnv(t, KindAttendanceStatus, 20, testReception, AttendanceStatusChange{AttendanceID: "T2", Status: AttendanceLeft}))

	ids := []string{"T1", "T2"}
	pair.readAlike(ids...)
	if err := rep.Close(); err != nil {
		t.Fatal(err)
	}

	versions := allVersions(t, dir)
	for _, id := range ids {
		state, part := versions[keyAttendance(id)], versions[keyAttendancePart(id, partTriage)]
		if len(part) < 2 || len(part) >= len(state) {
			t.Errorf("%s: the triage part written %d times, the state %d", id, len(part), len(state))
		}
		for i := 1; i < len(part); i++ {
			if bytes.Equal(part[i-1], part[i]) {
				t.Errorf("%s: triage part versions %d and %d are the same bytes:\n%s", id, i-1, i, part[i])
			}
		}
		largest := 0
		for _, v := range state {
			largest = max(largest, len(v))
			if len(v) > 1024 {
				t.Errorf("%s: a state of %d bytes:\n%s", id, len(v), v)
			}
		}
		if !bytes.Contains(state[len(state)-1], []byte(`"triage":true`)) {
			t.Errorf("%s: the last state does not name its triage part:\n%s", id, state[len(state)-1])
		}
		t.Logf("%s: %d states (largest %d bytes), %d triage parts", id, len(state), largest, len(part))
	}
}

// allVersions reads every version of every key in the closed replica's
// state under dir, oldest first.
func allVersions(t *testing.T, dir string) map[string][][]byte {
	t.Helper()
	var db string
	if err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "MANIFEST" {
			db = filepath.Dir(p)
		}
		return err
	}); err != nil || db == "" {
		t.Fatalf("no Badger database under %s: %v", dir, err)
	}
	bdb, err := badger.Open(cluster.BadgerOptions(db, nil).WithReadOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	out := map[string][][]byte{}
	err = bdb.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.AllVersions = true
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := string(item.Key())
			if !strings.HasPrefix(k, "a/") && !strings.HasPrefix(k, prefixAttendanceParts) {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out[k] = append([][]byte{v}, out[k]...) // newest first from the iterator
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
