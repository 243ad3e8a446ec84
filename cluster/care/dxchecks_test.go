package care

import (
	"encoding/json"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
	"github.com/hashicorp/raft"
)

// TestDxReferralStillRunsTheGlobalChecks: an NHS 111 Dx code is a minimum;
// the global checks on what we know (sepsis observations, the NG143 fever
// traffic light, not only NEWS2) still raise it.
func TestDxReferralStillRunsTheGlobalChecks(t *testing.T) {
	dir, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	age30, age2 := 30, 2
	nhs111 := cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}
	envs := [][]byte{
		kindEnv(t, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()),
		kindEnv(t, directory.KindDirectoryLoad, 2, bootstrap, dir),
		// Pregnant (no NEWS2) with a pulse of 135: NG51 high risk.
		kindEnv(t, KindAttendanceCreate, 3, nhs111, AttendanceCreate{Complaint: "feels shivery", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: "Dx06"}, Patient: Patient{Postcode: "DY1 1AA"},
			Context: &TriageContext{AgeYears: &age30, Sex: "female", Pregnant: "yes", Observations: &triage.Observations{Pulse: ip(135)}}}, "S1"),
		// A feverish two-year-old with a heart rate of 150: NG143 amber.
		kindEnv(t, KindAttendanceCreate, 4, nhs111, AttendanceCreate{Complaint: "hot and grizzly", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: "Dx28"}, Patient: Patient{Postcode: "DY1 1AA"},
			Context: &TriageContext{AgeYears: &age2, Flags: []string{"fever"}, Observations: &triage.Observations{Pulse: ip(150)}}}, "S2"),
		// The same Dx with nothing worrying stays at its minimum.
		kindEnv(t, KindAttendanceCreate, 5, nhs111, AttendanceCreate{Complaint: "sore throat", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: "Dx28"}, Patient: Patient{Postcode: "DY1 1AA"},
			Context: &TriageContext{AgeYears: &age30, Observations: &triage.Observations{Pulse: ip(80)}}}, "S3"),
	}
	f := newTestFSM(t)
	var got []*Attendance
	for i, e := range envs {
		out := f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), e)})
		rs, ok := out[0].([]*cluster.Result)
		if !ok || len(rs) != 1 || rs[0].Err != nil {
			t.Fatalf("command %d: %#v", i+1, out[0])
		}
		res := rs[0]
		if res.Err != nil {
			t.Fatalf("command %d: %#v", i+1, out[0])
		}
		if i >= 2 {
			var a Attendance
			if err := json.Unmarshal(res.Value, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, &a)
		}
	}
	want := []struct {
		decidedBy string
		tier      triage.Tier
		tf        triage.Timeframe
	}{
		{triage.CheckSepsis, triage.ED, triage.Within1h},
		{triage.CheckNG143, triage.GP, triage.Within2h},
		{"dx", triage.Pharmacy, ""},
	}
	for i, w := range want {
		d := got[i].Triage.Disposition
		if d == nil || d.DecidedBy != w.decidedBy || d.Tier != w.tier || (w.tf != "" && d.Timeframe != w.tf) {
			t.Errorf("%s: disposition %+v, want %s %s %s", got[i].ID, d, w.decidedBy, w.tier, w.tf)
		}
	}
}
