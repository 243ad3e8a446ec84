package care

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// TestDispositionCarriesECDSCoding: from logic version 9 a decided
// disposition carries the protocol's ECDS chief complaint and the acuity,
// discharge destination and follow-up of its outcome; a log proposed under
// version 8 replays without any (it decides and stores as it did).
func TestDispositionCarriesECDSCoding(t *testing.T) {
	nhs111 := cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}
	cases := []struct {
		name string
		lv   int
		envs func(lv int) [][]byte
		want *ECDSCoding
	}{
		{"protocol, clinician first", 9, func(lv int) [][]byte { return clinicianFirstLog(t, lv) },
			&ECDSCoding{ChiefComplaint: []string{"49727002", "267102003"}, Acuity: "1064911000000105", DischargeDestination: "306689006", DischargeFollowUp: "LOCAL:fu-gp"}},
		{"protocol, logic 8", 8, func(lv int) [][]byte { return clinicianFirstLog(t, lv) }, nil},
		{"NHS 111 Dx02 only", 9, func(lv int) [][]byte {
			envs := clinicianFirstLog(t, lv)[:2]
			age := 40
			return append(envs, kindEnvAt(t, lv, KindAttendanceCreate, 3, nhs111, AttendanceCreate{Complaint: "chest pain", Channel: ChannelNHS111,
				Dx: &DxReferral{Code: "Dx02"}, Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age}}, "D1"))
		}, &ECDSCoding{ChiefComplaint: []string{ChiefComplaintNotRecorded}, Acuity: "1064901000000108", DischargeDestination: "19712007", DischargeFollowUp: "LOCAL:fu-transferred"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t)
			var a Attendance
			if err := json.Unmarshal(applyAll(t, f, tc.envs(tc.lv)).Value, &a); err != nil {
				t.Fatal(err)
			}
			d := a.Triage.Disposition
			if d == nil {
				t.Fatalf("no disposition: %+v", a.Triage)
			}
			if !reflect.DeepEqual(d.ECDS, tc.want) {
				t.Fatalf("ECDS = %+v, want %+v", d.ECDS, tc.want)
			}
		})
	}
}
