package care

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// coughNotSure answers a walk-in cough's screen "no" except the desk's
// swelling sign, which reception could not judge, and the protocol "no".
func coughNotSure(t testing.TB) []triage.Reply {
	t.Helper()
	answers := screenNo(t)
	for i := range answers {
		if answers[i].Question == "screen.desk_swelling" {
			answers[i].Value = triage.NotSure
		}
	}
	for _, q := range []string{"struggling", "drooling", "quinsy", "chest", "main_problem", "cough_weeks", "cough_fever"} {
		answers = append(answers, triage.Reply{Question: q, Value: "no"})
	}
	return answers
}

// clinicianFirstLog is a walk-in with a cough whose desk swelling sign is
// "not sure", all proposed under logic version lv.
func clinicianFirstLog(t testing.TB, lv int) [][]byte {
	t.Helper()
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 35
	return [][]byte{
		kindEnvAt(t, lv, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnvAt(t, lv, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnvAt(t, lv, KindAttendanceCreate, 3, testReception, AttendanceCreate{Complaint: "cough", Protocol: "cough-cold-sore-throat",
			Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, "H1"),
		kindEnvAt(t, lv, KindAttendanceAnswer, 4, testReception, AttendanceAnswers{AttendanceID: "H1", Answers: coughNotSure(t)}),
	}
}

func applyAll(t testing.TB, f *testFSM, envs [][]byte) *cluster.Result {
	t.Helper()
	var last *cluster.Result
	for i, e := range envs {
		last = resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})[0])
		if last.Err != nil {
			t.Fatalf("command %d: %v", i+1, last.Err)
		}
	}
	return last
}

// TestClinicianFirstGatedByLogicVersion: the same answers replayed from a
// logic version 2 log decide as version 2 did (no clinician-first status,
// no clock: the session runs under rules 0); at version 3 the attendance
// awaits the clinician for 15 minutes, unrouted.
func TestClinicianFirstGatedByLogicVersion(t *testing.T) {
	cases := []struct {
		lv       int
		awaiting bool
	}{{2, false}, {3, true}}
	for _, tc := range cases {
		f := newTestFSM(t)
		var a Attendance
		if err := json.Unmarshal(applyAll(t, f, clinicianFirstLog(t, tc.lv)).Value, &a); err != nil {
			t.Fatal(err)
		}
		got := a.Status == AttendanceAwaitingClinician
		if got != tc.awaiting || (a.ClinicianDue != nil) != tc.awaiting || (a.Triage.Disposition.ClinicianFirst != nil) != tc.awaiting ||
			(a.Triage.Interim != nil) {
			t.Fatalf("logic version %d: status %s, due %v, disposition %+v", tc.lv, a.Status, a.ClinicianDue, a.Triage.Disposition)
		}
		if tc.awaiting {
			d := a.Triage.Disposition
			if d.Tier != triage.GP || d.Timeframe != triage.Immediate || d.Dx != triage.DxClinicianNow || a.Routing != nil ||
				!a.ClinicianDue.Equal(testEpoch.Add(4*time.Second+15*time.Minute)) || d.ClinicianFirst.Then == nil {
				t.Fatalf("awaiting the clinician: %+v due %v routed %+v", d, a.ClinicianDue, a.Routing)
			}
		} else if a.Triage.Session.Rules != 0 || a.Routing == nil {
			t.Fatalf("logic version 2: rules %d, routing %+v", a.Triage.Session.Rules, a.Routing)
		}
	}
}

// TestClinicianLapseCheckedAgainstFSMTime: only the cluster's own worker
// may report a lapse; before clinician_due in FSM time it is refused and
// changes nothing; after it one alert is raised, never a second.
func TestClinicianLapseCheckedAgainstFSMTime(t *testing.T) {
	f := newTestFSM(t)
	applyAll(t, f, clinicianFirstLog(t, cluster.LogicVersion))
	due := 4 + 15*60 // seconds after testEpoch
	lapse := AttendanceClinicianLapsed{AttendanceID: "H1"}
	cases := []struct {
		name  string
		actor cluster.Actor
		at    int
		code  string // "" = accepted
		msg   string
	}{
		{"before clinician_due", cluster.SystemActor, due - 1, cluster.CodeConflict, ErrClinicianNotDue},
		{"a person cannot report it", testReception, due - 1, access.CodeForbidden, ""},
		{"after clinician_due: one alert", cluster.SystemActor, due + 1, "", ""},
		{"again: no second alert", cluster.SystemActor, due + 120, cluster.CodeConflict, "already raised"},
	}
	index := uint64(10)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dataHash(t, f)
			index++
			r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(index, kindEnv(t, KindAttendanceClinicianLapsed, tc.at, tc.actor, lapse))})[0])
			if tc.code != "" {
				if r.Err == nil || r.Err.Code != tc.code || !strings.Contains(r.Err.Message, tc.msg) {
					t.Fatalf("result %v %s, want %s %q", r.Err, r.Value, tc.code, tc.msg)
				}
				if dataHash(t, f) != before {
					t.Fatal("a refused lapse changed the state")
				}
				return
			}
			var a Attendance
			if r.Err != nil || json.Unmarshal(r.Value, &a) != nil || !a.ClinicianLapsed || a.Status != AttendanceAwaitingClinician {
				t.Fatalf("lapse: %v %s", r.Err, r.Value)
			}
		})
	}
	view := f.OpenView(t)
	als, err := In(view).Alerts(true)
	if err != nil || len(als) != 1 || als[0].Kind != AlertClinicianFirstLapsed || als[0].AttendanceID != "H1" || als[0].DispatchID != "" {
		t.Fatalf("open alerts %+v (%v), want one clinician_first_lapsed on H1", als, err)
	}
}
