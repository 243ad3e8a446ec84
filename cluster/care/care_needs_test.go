package care

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// practiceRun is an FSM with the protocols and the demo directory loaded
// under logic version lv (Tuesday 09:00: the practices are open).
func practiceRun(t *testing.T, lv int) (*testFSM, uint64) {
	t.Helper()
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFSM(t)
	applyAll(t, f, [][]byte{
		kindEnvAt(t, lv, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnvAt(t, lv, directory.KindDirectoryLoad, 2, bootstrap, dir),
	})
	return f, 2
}

// dxCreate is an NHS 111 GP-within-6-hours referral with registered_practice.
func dxCreate(practice string) AttendanceCreate {
	age := 52
	return AttendanceCreate{Complaint: "cough for three weeks", Channel: ChannelNHS111, Dx: &DxReferral{Code: "Dx06"},
		Patient: Patient{Postcode: "DY1 1AC"}, Context: &TriageContext{AgeYears: &age, Sex: "male", RegisteredPractice: practice}}
}

// TestRegisteredPracticeIsAskedAndUsed: the context's registered_practice,
// given as an ODS code or a practice name in any case, is stored as the
// ODS code and routes to that practice when it is open with capacity;
// "none" is recorded as "none" and routes to the centre's GP service; an
// unknown practice, or a name two practices share, is refused and changes
// nothing; an entry of logic version 3 refuses the field as its binary did.
func TestRegisteredPracticeIsAskedAndUsed(t *testing.T) {
	cases := []struct {
		name    string
		lv      int
		given   string
		stored  string
		service string
		refused string // the field message's start, "" = accepted
	}{
		{"ODS code", 4, "X99001", "X99001", "gp-x99001", ""},
		{"ODS code in lower case", 4, " x99004 ", "X99004", "gp-x99004", ""},
		{"practice name", 4, "castlegate medical practice (fictional)", "X99001", "gp-x99001", ""},
		{"a practice with no same-day service here", 4, "X99007", "X99007", "gp-ucc-stream", ""},
		{"none", 4, "None", "none", "gp-ucc-stream", ""},
		{"not given", 4, "", "", "gp-ucc-stream", ""},
		{"unknown practice", 4, "Z12345", "", "", "no GP practice with that ODS code or name"},
		{"logic version 3 did not know the field", 3, "X99001", "", "", "not known at logic version 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, n := practiceRun(t, tc.lv)
			before := dataHash(t, f)
			r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(n+1, kindEnvAt(t, tc.lv, KindAttendanceCreate, 3, testReception, dxCreate(tc.given), "P1"))})[0])
			if tc.refused != "" {
				if r.Err == nil || r.Err.Code != cluster.CodeInvalid || !strings.HasPrefix(r.Err.Fields["context.registered_practice"], tc.refused) {
					t.Fatalf("want refused on context.registered_practice (%q), got %+v", tc.refused, r.Err)
				}
				if dataHash(t, f) != before {
					t.Fatal("a refused entry changed the state")
				}
				return
			}
			var a Attendance
			if r.Err != nil || json.Unmarshal(r.Value, &a) != nil {
				t.Fatalf("create: %+v", r.Err)
			}
			if a.Context.RegisteredPractice != tc.stored {
				t.Errorf("stored %q, want %q", a.Context.RegisteredPractice, tc.stored)
			}
			if a.Routing == nil || a.Routing.Decision.ServiceID != tc.service {
				t.Fatalf("routed to %+v, want %s", a.Routing, tc.service)
			}
			if want := strings.TrimPrefix(tc.stored, "none"); a.Routing.Patient.RegisteredPractice != want {
				t.Errorf("routing patient's practice %q, want %q", a.Routing.Patient.RegisteredPractice, want)
			}
		})
	}
}

// TestRegisteredPracticeNameSharedIsRefused: a name two practices share
// must be given as the ODS code.
func TestRegisteredPracticeNameSharedIsRefused(t *testing.T) {
	dir := &routing.Directory{Practices: []routing.Practice{{ODSCode: "A1", Name: "The Surgery"}, {ODSCode: "B2", Name: "the surgery"}}}
	if _, ce := resolvePractice(dir, "The Surgery"); ce == nil || !strings.Contains(ce.Fields["context.registered_practice"], "give the ODS code") {
		t.Errorf("shared name: %+v", ce)
	}
	if ods, ce := resolvePractice(dir, "b2"); ce != nil || ods != "B2" {
		t.Errorf("ODS code: %q %+v", ods, ce)
	}
	if _, ce := resolvePractice(nil, "A1"); ce == nil {
		t.Error("no directory: accepted")
	}
	if ods, ce := resolvePractice(nil, "none"); ce != nil || ods != PracticeNone {
		t.Errorf("none without a directory: %q %+v", ods, ce)
	}
}

// TestPatientRecordPracticeWins: routing takes the practice the patient
// record names; the practice the person named is used only when the record
// names none, "none" is no practice, and before logic version 4 the
// context's practice is not used at all.
func TestPatientRecordPracticeWins(t *testing.T) {
	cases := []struct {
		name    string
		lv      int
		record  string // "" no record; "-" a record without a practice
		context string
		want    string
	}{
		{"record wins", 4, "X99002", "X99001", "X99002"},
		{"record without a practice", 4, "-", "X99001", "X99001"},
		{"no record", 4, "", "X99001", "X99001"},
		{"none", 4, "", "none", ""},
		{"logic version 3", 3, "", "X99001", ""},
	}
	for _, tc := range cases {
		tx := testStamp{lv: tc.lv}
		a := &Attendance{Context: &TriageContext{RegisteredPractice: tc.context}}
		var rec *PatientRecord
		switch tc.record {
		case "":
		case "-":
			rec = &PatientRecord{}
		default:
			rec = &PatientRecord{GPPractice: tc.record}
		}
		if got := routingPatient(tx, a, rec).RegisteredPractice; got != tc.want {
			t.Errorf("%s: practice %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRoutingExplainsByLogicVersion: the same NHS 111 referral of a
// pregnant woman (Dx06, GP within 6 hours) is routed to the same service
// under logic versions 3 and 4; version 4 names the dedicated services'
// care in words, version 3 by code, so an old log replays as it was
// explained. A gap under version 4 is audited for commissioners.
func TestRoutingExplainsByLogicVersion(t *testing.T) {
	age := 31
	create := AttendanceCreate{Complaint: "burning pee", Channel: ChannelNHS111, Dx: &DxReferral{Code: "Dx06"},
		Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "yes"}}
	routed := map[int]*Attendance{}
	for _, lv := range []int{3, 4} {
		f, n := practiceRun(t, lv)
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(n+1, kindEnvAt(t, lv, KindAttendanceCreate, 3, testReception, create, "P1"))})[0])
		var a Attendance
		if r.Err != nil || json.Unmarshal(r.Value, &a) != nil || a.Routing == nil {
			t.Fatalf("v%d create: %+v", lv, r.Err)
		}
		routed[lv] = &a
	}
	v3, v4 := routed[3].Routing.Decision, routed[4].Routing.Decision
	if v3.ServiceID != "gp-ucc-stream" || v4.ServiceID != v3.ServiceID {
		t.Fatalf("v3 chose %s, v4 %s; want the centre's GP service both times", v3.ServiceID, v4.ServiceID)
	}
	miu3, _ := rejectionNamed(v3.Rejections, "miu-castlegate")
	miu4, _ := rejectionNamed(v4.Rejections, "miu-castlegate")
	if miu3.Reason != "sees only patients who need minor_injury or xray or wound_care" ||
		miu4.Reason != "sees only patients who need minor injury treatment (minor_injury), an x-ray (xray) or wound or burn care (wound_care)" {
		t.Errorf("minor injuries: v3 %q, v4 %q", miu3.Reason, miu4.Reason)
	}

	// The centre's GP service red: nothing at the GP level can see them,
	// so the gap is recorded; version 4 explains it and audits it.
	for _, lv := range []int{3, 4} {
		f, n := practiceRun(t, lv)
		applyOne(t, f, n+1, kindEnvAt(t, lv, directory.KindServiceStatus, 3, testReception, directory.ServiceStatus{ServiceID: "gp-ucc-stream", Status: "red"}))
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(n+2, kindEnvAt(t, lv, KindAttendanceCreate, 4, testReception, dxCreate(""), "G1"))})[0])
		var a Attendance
		if r.Err != nil || json.Unmarshal(r.Value, &a) != nil || a.Routing == nil {
			t.Fatalf("v%d: %+v", lv, r.Err)
		}
		dec := a.Routing.Decision
		if dec.ServiceID != "ed-castlegate" || dec.Gap == nil || dec.Gap.Tier != routing.TierGP {
			t.Fatalf("v%d: chose %s with gap %+v; want the ED with a GP gap", lv, dec.ServiceID, dec.Gap)
		}
		wantReason := ""
		if lv >= directory.CareNeedsSince {
			wantReason = "no GP service could see them within 6 hours, so they go to Castlegate General Hospital Emergency Department (fictional) instead"
		}
		if dec.Gap.Reason != wantReason {
			t.Errorf("v%d gap reason %q, want %q", lv, dec.Gap.Reason, wantReason)
		}
		var evs []*cluster.AuditEvent
		f.ReadState(t, func(v *cluster.View) error {
			var err error
			evs, err = v.Audit("attendance/G1")
			return err
		})
		audited := false
		for _, e := range evs {
			if e.Action == "attendance.route" && strings.Contains(string(e.Details), `"gap_tier":"gp"`) {
				audited = true
			}
		}
		if audited != (lv >= directory.CareNeedsSince) {
			t.Errorf("v%d: gap audited %v", lv, audited)
		}
	}
}

func rejectionNamed(rs routing.Rejections, id string) (routing.Rejection, bool) {
	for _, r := range rs.All() {
		if r.ServiceID == id {
			return r, true
		}
	}
	return routing.Rejection{}, false
}

// TestDirectoryVocabularyGatedByLogicVersion: from logic version 4 a
// directory or service providing a care need outside the vocabulary is
// refused with the word named, changing nothing; an entry of version 3
// is accepted as its binary accepted it, and such a directory in state
// still routes.
func TestDirectoryVocabularyGatedByLogicVersion(t *testing.T) {
	withTypo := func() *routing.Directory {
		d, err := routing.DemoDirectory()
		if err != nil {
			t.Fatal(err)
		}
		d.Services[0].Provides = append(d.Services[0].Provides, routing.Provision{Need: "self_kare"})
		return d
	}
	for _, lv := range []int{3, 4} {
		f := newTestFSM(t)
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(1, kindEnvAt(t, lv, directory.KindDirectoryLoad, 1, bootstrap, withTypo()))})[0])
		switch {
		case lv >= directory.CareNeedsSince && (r.Err == nil || !strings.Contains(r.Err.Fields["directory"], `provides "self_kare"`)):
			t.Errorf("v%d directory.load: %+v", lv, r.Err)
		case lv < directory.CareNeedsSince && r.Err != nil:
			t.Errorf("v%d directory.load refused: %+v", lv, r.Err)
		}
	}
	f, _ := practiceRun(t, 4)
	svc := withTypo().Services[0]
	before := dataHash(t, f)
	r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(3, kindEnvAt(t, 4, directory.KindServicePut, 3, testAdmin, svc))})[0])
	if r.Err == nil || !strings.Contains(r.Err.Fields["provides"], "self_kare") || dataHash(t, f) != before {
		t.Errorf("v4 service.put: %+v", r.Err)
	}
	r = resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(4, kindEnvAt(t, 3, directory.KindServicePut, 4, testAdmin, svc))})[0])
	if r.Err != nil {
		t.Fatalf("v3 service.put refused: %+v", r.Err)
	}
	// The directory in state now holds the word; routing still works.
	r = resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(5, kindEnvAt(t, 4, KindAttendanceCreate, 5, testReception, dxCreate("X99001"), "P2"))})[0])
	var a Attendance
	if r.Err != nil || json.Unmarshal(r.Value, &a) != nil || a.Routing == nil || a.Routing.Decision.ServiceID != "gp-x99001" {
		t.Fatalf("routing over a stored directory with an old word: %+v %s", r.Err, r.Value)
	}
}
