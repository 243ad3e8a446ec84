package care

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

var testDesk = cluster.Actor{ID: "k-desk", Name: "Desk 1", Role: access.RoleReception}

// referenceLog is a log of the reference-data and patient commands,
// including ones Apply refuses: keys, the demo directory, service changes,
// patients (one a likely duplicate), a link, registrations and their status
// steps. workflowLog (workflow_test.go) is its twin for the workflow.
func referenceLog(t testing.TB) []*raft.Log {
	t.Helper()
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	env := func(kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) []byte {
		n++
		return kindEnv(t, kind, 3600+n, actor, payload, ids...)
	}
	hash := func(s string) string { return access.HashKey(s) }
	three := 3
	admin := cluster.Actor{ID: "K1", Name: "bootstrap admin", Role: access.RoleAdmin} // the bootstrap key below
	staffOf := func(service string) cluster.Actor { a := testDesk; a.ServiceID = service; return a }
	cmds := [][]byte{
		env(access.KindKeyCreate, cluster.SystemActor, access.KeyCreate{Name: "bootstrap admin", Role: access.RoleAdmin, Hash: hash("a"), Bootstrap: true}, "K1"),
		env(access.KindKeyCreate, cluster.SystemActor, access.KeyCreate{Name: "again", Role: access.RoleAdmin, Hash: hash("b"), Bootstrap: true}, "K2"), // refused: keys exist
		env(access.KindKeyCreate, admin, access.KeyCreate{Name: "Desk 1", Role: access.RoleReception, Hash: hash("c")}, "K3"),
		env(access.KindKeyCreate, admin, access.KeyCreate{Name: "dup", Role: access.RoleReception, Hash: hash("c")}, "K4"), // refused: same hash
		env(access.KindKeyRevoke, admin, access.KeyRevoke{ID: "K1"}),                                                       // refused: last admin
		env(access.KindKeyRevoke, admin, access.KeyRevoke{ID: "K3"}),
		env(directory.KindDirectoryLoad, cluster.SystemActor, demo),
		env(directory.KindDirectoryLoad, cluster.SystemActor, demo), // refused: loaded
		env(directory.KindServiceStatus, staffOf("mh-crisis"), directory.ServiceStatus{ServiceID: "mh-crisis", Status: "amber", Places: &three}),
		env(directory.KindServiceStatus, staffOf("ph-market"), directory.ServiceStatus{ServiceID: "ph-market", Status: "red", Places: &three}), // refused: slots, not places
		env(directory.KindServiceExcept, testAdmin, directory.ServiceException{ServiceID: "ph-market", Date: "2026-12-24", Sessions: []routing.Session{{Start: "09:00", End: "12:00", Slots: 2}}}),
		env(directory.KindBankHolidaysSet, testAdmin, directory.BankHolidays{Dates: []string{"2026-12-29"}}),
		env(KindAttendanceCreate, testDesk, AttendanceCreate{Complaint: "collapsed"}, "A1"),
		env(KindPatientCreate, testDesk, PatientCreate{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", Postcode: "DY2 8AD"}, "P1"),
		env(KindPatientCreate, testDesk, PatientCreate{GivenName: "Adah", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", Postcode: "DY2 8AD"}, "P2"), // refused: likely P1
		env(KindPatientCreate, testDesk, PatientCreate{GivenName: "Adah", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", ConfirmNew: true}, "P3"),
		env(KindAttendancePatient, testDesk, AttendancePatient{AttendanceID: "A1", PatientID: "P1"}),
		env(KindRegistrationCreate, testDesk, RegistrationCreate{AttendanceID: "A1", Consent: true}, "R1"),
		env(KindRegistrationStatus, testDesk, RegistrationStatus{RegistrationID: "R1", Status: "accepted"}), // refused: not sent
		env(KindRegistrationStatus, testDesk, RegistrationStatus{RegistrationID: "R1", Status: "sent"}),
		env(KindRegistrationStatus, testDesk, RegistrationStatus{RegistrationID: "R1", Status: "accepted"}),
	}
	var logs []*raft.Log
	for i := 0; i < len(cmds); i += 2 { // two commands per entry
		end := min(i+2, len(cmds))
		logs = append(logs, cmdLog(uint64(len(logs)+1), cmds[i:end]...))
	}
	return logs
}

// TestReferenceCommandsAreDeterministic: two replicas applying the same log
// (one batch vs one entry at a time) reach the same state hash and return
// the same results, refusals included; the decisions are the expected ones.
func TestReferenceCommandsAreDeterministic(t *testing.T) {
	a, flatA := deterministic(t, referenceLog(t), len(referenceLog(t)))
	wantErr := map[int]string{1: cluster.CodeConflict, 3: cluster.CodeConflict, 4: cluster.CodeConflict, 7: cluster.CodeConflict, 9: cluster.CodeInvalid, 14: cluster.CodeConflict, 18: cluster.CodeConflict}
	for i, r := range flatA {
		code := ""
		if r.Err != nil {
			code = r.Err.Code
		}
		if code != wantErr[i] {
			t.Errorf("command %d: error %v, want code %q", i, r.Err, wantErr[i])
		}
	}
	if !strings.Contains(flatA[14].Err.Fields["candidates.P1"], "same date of birth") {
		t.Errorf("duplicate patient refusal %+v", flatA[14].Err)
	}
	var reg RegistrationRecord
	if err := json.Unmarshal(flatA[17].Value, &reg); err != nil || reg.ODSCode != "X99002" {
		t.Fatalf("registration %s: %v", flatA[17].Value, err)
	}
	view := a.OpenView(t)
	v := view
	p, err := In(v).Patient("P1")
	if err != nil || p.GPPractice != "X99002" {
		t.Fatalf("P1 after acceptance: %+v %v", p, err)
	}
	keys, err := access.In(v).APIKeys()
	if err != nil || len(keys) != 2 || keys[0].Revoked || !keys[1].Revoked {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if gen, err := access.In(v).AccessGeneration(); err != nil || gen == 0 {
		t.Fatalf("access generation %d %v", gen, err)
	}
	svc, err := directory.In(v).Service("mh-crisis")
	if err != nil || svc.Capacity.Places != 3 || svc.RAG.Status != routing.StatusAmber || svc.RAG.SetBy != "Desk 1" {
		t.Fatalf("mh-crisis %+v %v", svc, err)
	}
	d, err := directory.In(v).Directory()
	if err != nil || len(d.ExtraBankHolidays) != 1 {
		t.Fatalf("directory %v", err)
	}
}

// TestReferenceRefusalsChangeNothing: each refused command leaves the data
// (every key but the applied index and clock) as it was.
func TestReferenceRefusalsChangeNothing(t *testing.T) {
	refused := [][]byte{
		kindEnv(t, access.KindKeyCreate, 9000, testAdmin, access.KeyCreate{Name: "x", Role: "porter", Hash: access.HashKey("z")}, "K9"),
		kindEnv(t, access.KindKeyCreate, 9000, testDesk, access.KeyCreate{Name: "x", Role: access.RoleAdmin, Hash: access.HashKey("y")}, "K8"),  // not an admin key
		kindEnv(t, access.KindKeyCreate, 9000, testAdmin, access.KeyCreate{Name: "x", Role: access.RoleAdmin, Hash: access.HashKey("w")}, "K7"), // no such key
		kindEnv(t, access.KindKeyRevoke, 9000, cluster.Actor{ID: "K3", Name: "Desk 1", Role: access.RoleAdmin}, access.KeyRevoke{ID: "K1"}),     // revoked, and not admin
		kindEnv(t, directory.KindServicePut, 9001, testAdmin, routing.Service{ID: "x", Name: "X", Tier: "hospital", Postcode: "DY1 1AA"}),
		kindEnv(t, KindPatientCreate, 9002, testDesk, PatientCreate{GivenName: "A", FamilyName: "B", DateOfBirth: "1990-01-01", NHSNumber: "9434765918"}, "P9"),
		kindEnv(t, KindAttendancePatient, 9003, testDesk, AttendancePatient{AttendanceID: "A1", PatientID: "P3"}),
		kindEnv(t, KindRegistrationCreate, 9004, testDesk, RegistrationCreate{AttendanceID: "nope"}, "R9"),
		kindEnv(t, KindRegistrationStatus, 9005, testDesk, RegistrationStatus{RegistrationID: "R1", Status: "refused", Reason: "x"}),
	}
	refusalsChangeNothing(t, referenceLog(t), refused)
}

// TestPatientMatchingFromBlockingKeys: from logic version 6 a patient's
// blocking keys carry the fields matching compares, and matching decides
// exactly as it did reading the records: the same patients, some of them
// refused as likely duplicates, created on a state written at version 5
// and then 6 and on one written at version 5 only, get the same answers,
// and searches return the same candidates in the same order.
func TestPatientMatchingFromBlockingKeys(t *testing.T) {
	given := []string{"Ada", "Adah", "Alan", "Grace", "Gracie", "Tim"}
	family := []string{"Lovelace", "Lovelase", "Turing", "Hopper", "Berners-Lee"}
	dobs := []string{"1990-12-10", "1990-12-01", "1954-06-07", "1906-12-09"}
	postcodes := []string{"DY2 8AD", "DY2 8AE", "DY1 1AA", ""}
	var creates []PatientCreate
	for i := range 48 {
		creates = append(creates, PatientCreate{GivenName: given[i%len(given)], FamilyName: family[(i/2)%len(family)],
			DateOfBirth: dobs[(i/3)%len(dobs)], Postcode: postcodes[(i/5)%len(postcodes)], ConfirmNew: i%4 == 0})
	}
	mixed, old := newTestFSM(t), newTestFSM(t)
	idx := uint64(0)
	refused := 0
	for i, c := range creates {
		idx++
		lv := 5
		if i >= len(creates)/2 {
			lv = cluster.LogicVersion
		}
		id := fmt.Sprintf("P%03d", i)
		a := resultValue(t, mixed.ApplyBatch([]*raft.Log{cmdLog(idx, kindEnvAt(t, lv, KindPatientCreate, 10+i, testDesk, c, id))})[0])
		b := resultValue(t, old.ApplyBatch([]*raft.Log{cmdLog(idx, kindEnvAt(t, 5, KindPatientCreate, 10+i, testDesk, c, id))})[0])
		if !bytes.Equal(a.Value, b.Value) || fmt.Sprint(a.Err) != fmt.Sprint(b.Err) {
			t.Fatalf("patient %d (v%d) answers differently:\n%s %v\n%s %v", i, lv, a.Value, a.Err, b.Value, b.Err)
		}
		if a.Err != nil {
			refused++
		}
	}
	if refused == 0 || refused == len(creates) {
		t.Fatalf("%d of %d refused as likely duplicates: the log does not exercise matching", refused, len(creates))
	}
	withFields, without := 0, 0
	mixed.ReadState(t, func(v *cluster.View) error {
		return v.Scan("px/", "", func(k string, val []byte) error {
			if len(val) == 0 {
				without++
				return nil
			}
			p, err := decodeMatchFields(val)
			if err != nil || !strings.HasSuffix(k, "/"+p.ID) {
				t.Errorf("%s holds %+v (%v)", k, p, err)
			}
			withFields++
			return nil
		})
	})
	if withFields == 0 || without == 0 {
		t.Fatalf("blocking keys: %d with fields, %d without; want both (versions 5 and 6)", withFields, without)
	}
	search := func(f *testFSM, q routing.Person) string {
		var out []byte
		f.ReadState(t, func(v *cluster.View) error {
			c, err := In(v).MatchPatients(q)
			if err != nil {
				return err
			}
			out, err = json.Marshal(c)
			return err
		})
		return string(out)
	}
	found := 0
	for _, q := range []routing.Person{
		{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10"},
		{FamilyName: "Lovelase", DateOfBirth: "1990-12-01", Postcode: "DY2 8AD"},
		{GivenName: "Grace", FamilyName: "Hopper", DateOfBirth: "1906-12-09", Postcode: "DY1 1AA"},
		{GivenName: "Tim", FamilyName: "Berners Lee", DateOfBirth: "1954-06-07"},
		{GivenName: "Alan", FamilyName: "Turing", Postcode: "DY2 8AE"},
	} {
		a, b := search(mixed, q), search(old, q)
		if a != b {
			t.Errorf("search %+v:\n%s\n%s", q, a, b)
		}
		if a != "null" {
			found++
		}
	}
	if found < 3 {
		t.Fatalf("only %d searches found anyone", found)
	}
}

func TestMatchFieldsRoundTrip(t *testing.T) {
	p := &PatientRecord{ID: "P1", NHSNumber: "9434765919", GivenName: "Zoë", FamilyName: "O'Brien-Ng", DateOfBirth: "2026-11-01", Postcode: ""}
	b := encodeMatchFields(p)
	got, err := decodeMatchFields(b)
	if err != nil || got != p.person() {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], {1, 200}} {
		if _, err := decodeMatchFields(bad); err == nil {
			t.Errorf("decoded %v", bad)
		}
	}
}
