package care

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/protocols"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

var (
	testReception = cluster.Actor{ID: "k-desk", Name: "Desk 1", Role: access.RoleReception}
	testClinician = cluster.Actor{ID: "k-doc", Name: "Dr Patel", Role: access.RoleClinician}
)

// screenNo answers every screen question "no" (a number question, such as
// the earlier contacts, 0; questions off the path are kept by the engine and
// do no harm).
func screenNo(t testing.TB) []triage.Reply {
	t.Helper()
	set, _, err := protocols.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out []triage.Reply
	for _, n := range set.Screen.Nodes {
		switch {
		case n.NodeKind() != "question":
		case n.Type == triage.Number:
			out = append(out, triage.Reply{Question: triage.ScreenPrefix + n.ID, Value: "0"})
		default:
			out = append(out, triage.Reply{Question: triage.ScreenPrefix + n.ID, Value: "no"})
		}
	}
	return out
}

func protocolsLoadPayload() protocolset.ProtocolsLoad {
	files := protocols.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var in protocolset.ProtocolsLoad
	for _, n := range names {
		in.Files = append(in.Files, protocolset.ProtocolFile{Name: n, Content: string(files[n])})
	}
	return in
}

// workflowLog is a log exercising every workflow command (referenceLog,
// patient_test.go, is its twin for reference data and patients): protocols
// and directory at bootstrap, walk-ins triaged and routed, an NHS 111 Dx
// (mapped and unmapped), observations raising a disposition, a
// confirmation, an override, status changes, a protocol upload and
// activation with an attendance pinned to the old version.
func workflowLog(t testing.TB) []*raft.Log {
	t.Helper()
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	uti := `{"very_unwell":"no","retention":"no","catheter":"no","upper_tract":"no","visible_blood":"no","ask_pregnant":"no","recurrent":"no","vaginal":"no"}`
	var utiAnswers map[string]string
	_ = json.Unmarshal([]byte(uti), &utiAnswers)
	answers := screenNo(t)
	keys := make([]string, 0, len(utiAnswers))
	for k := range utiAnswers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		answers = append(answers, triage.Reply{Question: k, Value: utiAnswers[k]})
	}
	age30, age58 := 30, 58
	src := string(protocols.Files()["urinary-symptoms.yaml"])
	v2 := strings.Replace(src, "\nversion: ", "\nversion: 9", 1) // version 9<n>: higher than any shipped
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnv(t, KindAttendanceCreate, 3, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age30, Sex: "female", Pregnant: "no"}}, "A1"),
		kindEnv(t, KindAttendanceAnswer, 4, testReception, AttendanceAnswers{AttendanceID: "A1", Answers: answers}),
		kindEnv(t, KindAttendanceConfirm, 5, testClinician, AttendanceConfirm{AttendanceID: "A1", Note: "ok"}),
		kindEnv(t, KindAttendanceObserve, 6, testClinician, AttendanceObservations{AttendanceID: "A1",
			Observations: triage.Observations{RespiratoryRate: ip(26), SpO2: ip(91), Pulse: ip(125)}}),
		kindEnv(t, KindAttendanceCreate, 7, testReception, AttendanceCreate{Complaint: "chest pain", Protocol: "chest-pain",
			Context: &TriageContext{AgeYears: &age58, Sex: "male"}}, "A2"),
		kindEnv(t, KindAttendanceAnswer, 8, testReception, AttendanceAnswers{AttendanceID: "A2",
			Answers: append(screenNo(t), triage.Reply{Question: "heavy_or_spreading", Value: "yes"})}),
		kindEnv(t, KindAttendanceCreate, 9, cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}, AttendanceCreate{Complaint: "sore throat",
			Channel: ChannelNHS111, CaseRef: "111-1", Dx: &DxReferral{Code: "Dx06"}, Context: &TriageContext{AgeYears: &age30}}, "A3"),
		kindEnv(t, KindAttendanceCreate, 10, cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}, AttendanceCreate{Complaint: "odd",
			Channel: ChannelNHS111, Dx: &DxReferral{Code: "Dx9999"}}, "A4"),
		kindEnv(t, KindAttendanceOverride, 11, testClinician, AttendanceOverride{AttendanceID: "A4", Tier: triage.GP, Timeframe: triage.Within2h, Reason: "seen the notes"}),
		kindEnv(t, KindAttendanceStatus, 12, testReception, AttendanceStatusChange{AttendanceID: "A3", Status: AttendanceLeft}),
		kindEnv(t, KindAttendanceCreate, 13, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Context: &TriageContext{AgeYears: &age30, Sex: "female"}}, "A5"),
		kindEnv(t, protocolset.KindProtocolUpload, 14, testAdmin, protocolset.ProtocolUpload{Content: v2}),
		kindEnv(t, protocolset.KindProtocolActivate, 15, testAdmin, protocolset.ProtocolActivate{ID: "urinary-symptoms", Version: 9*pow10(len(versionOf(src))) + atoi(versionOf(src))}),
		kindEnv(t, KindAttendanceAnswer, 16, testReception, AttendanceAnswers{AttendanceID: "A5", Answers: answers}),
		kindEnv(t, KindAttendanceStatus, 17, testClinician, AttendanceStatusChange{AttendanceID: "A2", Status: AttendanceSeen}),
		kindEnv(t, KindAttendanceCreate, 18, cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}, AttendanceCreate{Complaint: "earache",
			Channel: ChannelNHS111, Expected: true, Dx: &DxReferral{Code: "Dx08"}, Context: &TriageContext{AgeYears: &age30}}, "A6"),
		kindEnv(t, KindAttendanceCheckIn, 19, testReception, AttendanceCheckIn{AttendanceID: "A6"}),
	}
	logs := make([]*raft.Log, len(envs))
	for i, e := range envs {
		logs[i] = cmdLog(uint64(i+1), e)
	}
	return logs
}

var bootstrap = cluster.Actor{ID: "system", Name: "frontdoor bootstrap", Role: "system"}

func ip(v int) *int { return &v }

func versionOf(src string) string {
	i := strings.Index(src, "\nversion: ")
	rest := src[i+len("\nversion: "):]
	return rest[:strings.IndexByte(rest, '\n')]
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// TestWorkflowDeterminism: the same log gives the same state on two
// replicas however it is batched, and every command succeeded with the
// expected decisions.
func TestWorkflowDeterminism(t *testing.T) {
	_, flat := deterministic(t, workflowLog(t), 5)
	for i, r := range flat {
		if r.Err != nil {
			t.Fatalf("command %d refused: %v", i+1, r.Err)
		}
	}
	att := func(i int) Attendance {
		var x Attendance
		if err := json.Unmarshal(flat[i].Value, &x); err != nil {
			t.Fatalf("command %d value: %v", i+1, err)
		}
		return x
	}
	if x := att(3); x.Status != AttendanceAwaitingConfirmation || x.Routing.Decision.ServiceID != "ph-high-street" {
		t.Fatalf("A1 after answers: %s %+v", x.Status, x.Routing)
	}
	if x := att(5); x.Routing.Decision.Tier != routing.TierED || len(x.Routing.History) != 1 {
		t.Fatalf("A1 after observations: %+v", x.Routing)
	}
	if x := att(7); x.Triage.Disposition.Dx != "Dx012" || x.Routing.Decision.ServiceID != "ed-castlegate" {
		t.Fatalf("A2: %+v", x.Triage.Disposition)
	}
	if x := att(8); x.Status != AttendanceRouted || x.Triage.Disposition.Source != "dx" || x.Routing.Decision.Tier != routing.TierGP {
		t.Fatalf("A3 (Dx06): %s %+v", x.Status, x.Triage.Disposition)
	}
	if x := att(9); x.Status != AttendanceClinicianReview || x.Triage.Review == "" {
		t.Fatalf("A4 (unmapped Dx): %s", x.Status)
	}
	if x := att(10); x.Status != AttendanceRouted || len(x.Overrides) != 1 || !x.Routing.Override {
		t.Fatalf("A4 after override: %s %+v", x.Status, x.Overrides)
	}
	if x := att(17); x.Status != AttendanceExpected || x.CheckInStatus != AttendanceRouted || x.Routing == nil {
		t.Fatalf("A6 announced: %s / %s", x.Status, x.CheckInStatus)
	}
	if x := att(18); x.Status != AttendanceRouted || x.CheckedInAt == nil {
		t.Fatalf("A6 checked in: %s", x.Status)
	}
	a5 := att(12)
	if x := att(15); x.Triage.Session.Hash != a5.Triage.Session.Hash || x.Triage.Disposition == nil {
		t.Fatalf("A5 did not finish on its pinned version: %+v", x.Triage.Session)
	}
}

// TestWorkflowRefusalsLeaveStateUnchanged: refused workflow commands give
// the same CommandError and change no key.
func TestWorkflowRefusalsLeaveStateUnchanged(t *testing.T) {
	refused := [][]byte{
		kindEnv(t, KindAttendanceAnswer, 100, testReception, AttendanceAnswers{AttendanceID: "A5", Answers: []triage.Reply{{Question: "screen.desk_fast", Value: "maybe"}}}),
		kindEnv(t, KindAttendanceAnswer, 100, testReception, AttendanceAnswers{AttendanceID: "A1", Answers: []triage.Reply{{Question: "screen.desk_fast", Value: "no"}}}),
		kindEnv(t, KindAttendanceOverride, 101, testClinician, AttendanceOverride{AttendanceID: "A1", Tier: triage.GP}),
		kindEnv(t, KindAttendanceConfirm, 102, testClinician, AttendanceConfirm{AttendanceID: "A2"}),
		kindEnv(t, KindAttendanceStatus, 103, testClinician, AttendanceStatusChange{AttendanceID: "A3", Status: AttendanceSeen}),
		kindEnv(t, KindAttendanceObserve, 104, testClinician, AttendanceObservations{AttendanceID: "A1", Observations: triage.Observations{SpO2: ip(400)}}),
		kindEnv(t, KindAttendanceCreate, 105, testReception, AttendanceCreate{Complaint: "x", Protocol: "no-such-protocol"}, "A9"),
		kindEnv(t, protocolset.KindProtocolUpload, 106, testAdmin, protocolset.ProtocolUpload{Content: "id: chest-pain\nversion: 99\nkind: presentation\n"}),
		kindEnv(t, protocolset.KindProtocolActivate, 107, testAdmin, protocolset.ProtocolActivate{ID: "chest-pain", Version: 77}),
		kindEnv(t, protocolset.KindProtocolsLoad, 108, bootstrap, protocolsLoadPayload()),
		kindEnv(t, KindAttendanceCheckIn, 109, testReception, AttendanceCheckIn{AttendanceID: "A6"}), // already checked in
	}
	refusalsChangeNothing(t, workflowLog(t), refused)
}

// TestPreviousContactsCountedInApply: earlier attendances of the same
// patient (NHS number) within 96 hours reach the engine as
// previous_contacts_96h, and two of them raise the disposition (repeat
// contact rule).
func TestPreviousContactsCountedInApply(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 30
	create := func(n int, id string) []byte {
		return kindEnv(t, KindAttendanceCreate, n, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Patient: Patient{NHSNumber: "9434765919", Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}, id)
	}
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		create(3, "B1"),
		create(4*3600, "B2"),       // 4 hours later
		create(5*24*3600, "B3"),    // 5 days after B1: B2 is the only contact in 96 hours
		create(5*24*3600+60, "B4"), // B3 only: B2 is 116 hours before
		create(5*24*3600+120, "B5"),
	}
	f := newTestFSM(t)
	var res []*cluster.Result
	for i, e := range envs {
		r := f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})
		res = append(res, resultValue(t, r[0]))
	}
	contacts := func(i int) (int, *Attendance) {
		var a Attendance
		if err := json.Unmarshal(res[i].Value, &a); err != nil {
			t.Fatal(err)
		}
		return a.Triage.Session.Patient.PreviousContacts96h, &a
	}
	for i, want := range map[int]int{2: 0, 3: 1, 4: 0, 5: 1, 6: 2} {
		if got, _ := contacts(i); got != want {
			t.Errorf("attendance %d: previous_contacts_96h %d, want %d", i-1, got, want)
		}
	}
	// B5 has two contacts within 96 hours: answering as an uncomplicated
	// UTI no longer ends at a pharmacy.
	answers := screenNo(t)
	for _, k := range []string{"very_unwell", "retention", "catheter", "upper_tract", "visible_blood", "ask_pregnant", "recurrent", "vaginal"} {
		answers = append(answers, triage.Reply{Question: k, Value: "no"})
	}
	r := f.ApplyBatch([]*raft.Log{cmdLog(uint64(len(envs)+1), kindEnv(t, KindAttendanceAnswer, 5*24*3600+180, testReception,
		AttendanceAnswers{AttendanceID: "B5", Answers: answers}))})
	var a Attendance
	if rv := resultValue(t, r[0]); rv.Err != nil || json.Unmarshal(rv.Value, &a) != nil {
		t.Fatalf("answers: %+v", rv)
	}
	if a.Triage.Disposition.Tier != triage.GP || a.Triage.Disposition.DecidedBy != "repeat_contact" {
		t.Fatalf("B5 disposition %+v, want gp by repeat_contact", a.Triage.Disposition)
	}
}

// TestUsualResidenceFromAnswersReachesRouting: a flag set by an answer
// (fall_at_home: yes sets usual_residence) reaches routing, so urgent
// community response, which requires it, can take the patient.
func TestUsualResidenceFromAnswersReachesRouting(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 84
	answers := screenNo(t)
	for _, kv := range [][2]string{{"fallen", "yes"}, {"hip", "no"}, {"fall_collapse", "no"}, {"head", "no"}, {"injury", "no"},
		{"fall_need", "yes"}, {"fall_at_home", "yes"}} {
		answers = append(answers, triage.Reply{Question: kv[0], Value: kv[1]})
	}
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnv(t, KindAttendanceCreate, 3, cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}, AttendanceCreate{Complaint: "fallen, cannot get up",
			Channel: ChannelNHS111, Protocol: "older-person-unwell-fallen", Patient: Patient{Postcode: "DY1 1AA"},
			Context: &TriageContext{AgeYears: &age, Sex: "female"}}, "C1"),
		kindEnv(t, KindAttendanceAnswer, 4, cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}, AttendanceAnswers{AttendanceID: "C1", Answers: answers}),
	}
	f := newTestFSM(t)
	var last *cluster.Result
	for i, e := range envs {
		last = resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})[0])
		if last.Err != nil {
			t.Fatalf("command %d: %v", i+1, last.Err)
		}
	}
	var a Attendance
	if err := json.Unmarshal(last.Value, &a); err != nil {
		t.Fatal(err)
	}
	if a.Triage.Disposition == nil || a.Triage.Disposition.Tier != triage.RapidResponse {
		t.Fatalf("disposition %+v", a.Triage.Disposition)
	}
	if !a.Routing.Patient.AtUsualResidence || a.Routing.Decision.ServiceID != "ucr-north" {
		t.Fatalf("routed to %s (at usual residence %v): %+v", a.Routing.Decision.ServiceID, a.Routing.Patient.AtUsualResidence, a.Routing.Decision.Rejections)
	}
}

// TestClinicianNowTopsTheQueue: reception's one-keystroke "clinician now"
// makes an unnamed arrival ed/immediate at once, with or without a
// protocol, and it heads the queue.
func TestClinicianNowTopsTheQueue(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 30
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnv(t, KindAttendanceCreate, 3, testReception, AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms",
			Context: &TriageContext{AgeYears: &age, Sex: "female"}}, "D1"),
		kindEnv(t, KindAttendanceCreate, 4, testReception, AttendanceCreate{Complaint: "Life threat at the front door", ClinicianNow: true}, "D2"),
		kindEnv(t, KindAttendanceCreate, 5, testReception, AttendanceCreate{Complaint: "grey and sweaty", Protocol: "chest-pain", ClinicianNow: true}, "D3"),
	}
	f := newTestFSM(t)
	for i, e := range envs {
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})[0])
		if r.Err != nil {
			t.Fatalf("command %d: %v", i+1, r.Err)
		}
		if i >= 3 {
			var a Attendance
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			d := a.Triage.Disposition
			if d == nil || d.Tier != triage.ED || d.Timeframe != triage.Immediate || d.DecidedBy != "clinician_now" ||
				a.Routing.Decision.ServiceID != "ed-castlegate" || a.Status != AttendanceRouted {
				t.Fatalf("%s: %s %+v", a.ID, a.Status, d)
			}
		}
	}
	// D3's chest-pain questions may still follow; reassuring answers do
	// not lower "clinician now".
	answers := append(screenNo(t), triage.Reply{Question: "heavy_or_spreading", Value: "no"}, triage.Reply{Question: "unwell_with_pain", Value: "no"},
		triage.Reply{Question: "tearing", Value: "no"}, triage.Reply{Question: "coughing_blood", Value: "no"}, triage.Reply{Question: "heart_history", Value: "no"},
		triage.Reply{Question: "pain_kind", Value: "chest_wall"})
	r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(len(envs)+1), kindEnv(t, KindAttendanceAnswer, 6, testReception,
		AttendanceAnswers{AttendanceID: "D3", Answers: answers}))})[0])
	var d3 Attendance
	if r.Err != nil || json.Unmarshal(r.Value, &d3) != nil {
		t.Fatalf("D3 answers: %+v", r)
	}
	if !d3.Triage.Session.Done || d3.Triage.Disposition.Tier != triage.ED || d3.Triage.Disposition.Timeframe != triage.Immediate ||
		d3.Status != AttendanceRouted || d3.Routing.Decision.ServiceID != "ed-castlegate" {
		t.Fatalf("D3 after reassuring answers: %s %+v (session done %v)", d3.Status, d3.Triage.Disposition, d3.Triage.Session.Done)
	}
	view := f.OpenView(t)
	q, err := In(view).Queue(testEpoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 3 || q[0].AttendanceID != "D2" || q[1].AttendanceID != "D3" || q[2].AttendanceID != "D1" {
		t.Fatalf("queue %+v", q)
	}
}

// TestRerouteCountsOwnSlotAsFree: routed again (an override to the same
// tier), an attendance may keep the service whose slot it already holds;
// its own slot does not count against it.
func TestRerouteCountsOwnSlotAsFree(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 40
	nhs111 := cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnv(t, KindAttendanceCreate, 3, nhs111, AttendanceCreate{Complaint: "sore throat", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: "Dx06"}, Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age}}, "E1"),
		kindEnv(t, KindAttendanceOverride, 4, testClinician, AttendanceOverride{AttendanceID: "E1", Tier: triage.GP, Timeframe: triage.Within2h, Reason: "sooner"}),
	}
	f := newTestFSM(t)
	var got []Attendance
	for i, e := range envs {
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})[0])
		if r.Err != nil {
			t.Fatalf("command %d: %v", i+1, r.Err)
		}
		if i >= 2 {
			var a Attendance
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, a)
		}
	}
	if got[0].Routing.Decision.ServiceID != "gp-ucc-stream" || got[1].Routing.Decision.ServiceID != "gp-ucc-stream" {
		t.Fatalf("routed to %s, then after the override to %s", got[0].Routing.Decision.ServiceID, got[1].Routing.Decision.ServiceID)
	}
}

// TestQueueEventsWindow: the change feed keeps the last eventWindow raft
// indexes (older events are pruned in Apply), resumes after any index in
// the window, and says when a reader is further behind.
func TestQueueEventsWindow(t *testing.T) {
	f := newTestFSM(t)
	const n = eventWindow + 300
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = cmdLog(uint64(i+1), kindEnv(t, KindAttendanceCreate, i, testReception, AttendanceCreate{Complaint: "cough"}, fmt.Sprintf("Q%05d", i+1)))
	}
	applyInBatches(f, logs, 256)
	view := f.OpenView(t)
	v := view
	evs, truncated, err := QueueEvents(v, n-5, 0)
	if err != nil || truncated || len(evs) != 5 || evs[0].Index != n-4 || evs[4].AttendanceID != fmt.Sprintf("Q%05d", n) {
		t.Fatalf("resume near the end: %v %v %+v", err, truncated, evs)
	}
	if _, truncated, err := QueueEvents(v, 10, 1); err != nil || !truncated {
		t.Fatalf("a reader %d indexes behind is not told to reload (err %v)", n-10, err)
	}
	kept := 0
	if err := view.Keys(prefixEvent, "", func(string) error { kept++; return nil }); err != nil {
		t.Fatal(err)
	}
	if kept > eventWindow+64 || kept < eventWindow-64 {
		t.Fatalf("%d events kept, window %d", kept, eventWindow)
	}
}

// TestObservationsRespectOverrideButStillRaise: after a clinician lowers a
// disposition, observations that change nothing leave the override alone;
// a rising NEWS2 still raises it.
func TestObservationsRespectOverrideButStillRaise(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age := 52
	answers := append(screenNo(t), triage.Reply{Question: "heavy_or_spreading", Value: "no"}, triage.Reply{Question: "unwell_with_pain", Value: "no"},
		triage.Reply{Question: "tearing", Value: "no"}, triage.Reply{Question: "coughing_blood", Value: "no"}, triage.Reply{Question: "heart_history", Value: "no"},
		triage.Reply{Question: "pain_kind", Value: "none"}, triage.Reply{Question: "when_started", Value: "last_12_hours"})
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		kindEnv(t, KindAttendanceCreate, 3, testReception, AttendanceCreate{Complaint: "chest ache", Protocol: "chest-pain",
			Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "male"}}, "F1"),
		kindEnv(t, KindAttendanceAnswer, 4, testReception, AttendanceAnswers{AttendanceID: "F1", Answers: answers}),
		kindEnv(t, KindAttendanceOverride, 5, testClinician, AttendanceOverride{AttendanceID: "F1", Tier: triage.GP, Timeframe: triage.Within2h,
			Reason: "ECG and troponin normal, musculoskeletal"}),
		kindEnv(t, KindAttendanceObserve, 6, testClinician, AttendanceObservations{AttendanceID: "F1",
			Observations: triage.Observations{RespiratoryRate: ip(16), SpO2: ip(98), Pulse: ip(72), SystolicBP: ip(128)}}),
		kindEnv(t, KindAttendanceObserve, 7, testClinician, AttendanceObservations{AttendanceID: "F1",
			Observations: triage.Observations{RespiratoryRate: ip(26), SpO2: ip(91), Pulse: ip(125)}}),
	}
	f := newTestFSM(t)
	var got []Attendance
	for i, e := range envs {
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})[0])
		if r.Err != nil {
			t.Fatalf("command %d: %v", i+1, r.Err)
		}
		var a Attendance
		if i >= 2 {
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, a)
	}
	if d := got[3].Triage.Disposition; d.Tier != triage.ED {
		t.Fatalf("triage: %+v", d)
	}
	if d := got[5].Triage.Disposition; d.Tier != triage.GP || d.Source != "override" || got[5].Routing.Decision.Tier != routing.TierGP {
		t.Fatalf("normal observations undid the override: %+v", d)
	}
	if d := got[6].Triage.Disposition; d.Tier != triage.ED || d.Timeframe != triage.Immediate || got[6].Routing.Decision.ServiceID != "ed-castlegate" {
		t.Fatalf("rising NEWS2 after the override: %+v", d)
	}
}
