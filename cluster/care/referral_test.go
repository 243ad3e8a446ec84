package care

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestReferralsAndBookingsInTheFSM: a referral makes an expected nhs111
// attendance with its patient created by NHS number, a second one of the
// same person matches that patient, a ServiceRequest received twice is
// refused; a booking takes a place of the session and its cancellation
// frees it; once concluded and past retention, the purge takes the
// referrals, the booking and their indexes with the attendances.
func TestReferralsAndBookingsInTheFSM(t *testing.T) {
	r := &retentionRun{t: t, f: newTestFSM(t)}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
	pat := Patient{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", NHSNumber: "9434765919"}
	pc := &PatientCreate{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", NHSNumber: "9434765919"}
	referral := func(msg, sr string) ReferralReceive {
		return ReferralReceive{MessageID: msg, ServiceRequestID: sr, Target: "FX100", Patient: pc,
			Attendance:   AttendanceCreate{Complaint: "chest pain", Channel: ChannelNHS111, Expected: true, Dx: &DxReferral{Code: "Dx05"}, CaseRef: sr, Patient: pat},
			Observations: []ReferralObservation{{Code: "Symptoms", Note: "pain since Crawley"}}}
	}
	var res1 ReferralResult
	if err := json.Unmarshal(r.ok(testEpoch, KindReferralReceive, testAdmin, referral("m1", "sr1"), "R1", "P1", "A1").Value, &res1); err != nil {
		t.Fatal(err)
	}
	if res1.Referral.PatientID != "P1" || res1.Referral.PatientMatched || res1.Referral.AttendanceID != "A1" || res1.Referral.Target != "gp-ucc-stream" {
		t.Fatalf("first referral %+v", res1.Referral)
	}
	// A matched patient takes no id: the attendance takes the second.
	var res2 ReferralResult
	if err := json.Unmarshal(r.ok(testEpoch, KindReferralReceive, testAdmin, referral("m2", "sr2"), "R2", "A2", "unused").Value, &res2); err != nil {
		t.Fatal(err)
	}
	if res2.Referral.PatientID != "P1" || !res2.Referral.PatientMatched {
		t.Fatalf("second referral of the same NHS number %+v", res2.Referral)
	}
	for _, bad := range []struct {
		name    string
		kind    cluster.Kind
		payload any
		code    string
	}{
		{"the same ServiceRequest again", KindReferralReceive, referral("m3", "sr1"), cluster.CodeConflict},
		{"an unknown target", KindReferralReceive, func() ReferralReceive { x := referral("m4", "sr4"); x.Target = "nowhere"; return x }(), cluster.CodeNotFound},
		{"a walk-in", KindReferralReceive, func() ReferralReceive { x := referral("m5", "sr5"); x.Attendance.Channel = ChannelWalkIn; return x }(), cluster.CodeInvalid},
		{"cancel an unknown referral", KindReferralCancel, ReferralCancel{MessageID: "m6", ServiceRequestID: "nope", Target: "gp-ucc-stream"}, cluster.CodeNotFound},
	} {
		if res := r.apply(testEpoch, bad.kind, testAdmin, bad.payload, "X1", "X2", "X3"); res.Err == nil || res.Err.Code != bad.code {
			t.Errorf("%s: %+v, want %s", bad.name, res.Err, bad.code)
		}
	}
	// A booking of tomorrow's first session of the UCC stream.
	day := testEpoch.In(routing.London).AddDate(0, 0, 1)
	at := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, routing.London)
	booking := BookingCreate{MessageID: "m7", AppointmentID: "ap1", Target: "gp-ucc-stream", At: at, Patient: pc,
		Attendance: AttendanceCreate{Complaint: "booked", Channel: ChannelNHS111, Expected: true, Patient: pat}}
	var bk BookingResult
	if err := json.Unmarshal(r.ok(testEpoch, KindBookingCreate, testAdmin, booking, "B1", "A3", "unused").Value, &bk); err != nil {
		t.Fatal(err)
	}
	if bk.Appointment.ServiceID != "gp-ucc-stream" || bk.Appointment.PatientID != "P1" || bk.Appointment.SessionStart.Hour() != 8 {
		t.Fatalf("booking %+v", bk.Appointment)
	}
	free := func() int {
		var n int
		r.f.ReadState(t, func(v *cluster.View) error {
			load, err := directory.LoadAt(v, testEpoch)
			if err != nil {
				return err
			}
			ss, err := routing.Sessions(demo, load, "gp-ucc-stream", at.Add(-time.Hour), at)
			if err != nil || len(ss) != 1 {
				t.Fatalf("sessions %v %v", ss, err)
			}
			n = ss[0].Free()
			return nil
		})
		return n
	}
	if n := free(); n != 11 {
		t.Fatalf("%d places free after the booking, want 11", n)
	}
	r.ok(testEpoch.Add(time.Minute), KindBookingCancel, testAdmin, BookingCancel{MessageID: "m8", AppointmentID: "ap1", Target: "FX100"})
	if n := free(); n != 12 {
		t.Fatalf("%d places free after the cancellation, want 12", n)
	}
	// Cancelled and left: concluded; past the retention period all goes.
	r.ok(testEpoch.Add(time.Minute), KindReferralCancel, testAdmin, ReferralCancel{MessageID: "m9", ServiceRequestID: "sr1", Target: "gp-ucc-stream"})
	r.ok(testEpoch.Add(time.Minute), KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A2", Status: AttendanceLeft})
	before := r.keys()
	for _, k := range []string{"rf/R1", "rf/R2", "rfx/sr/sr1", "rfx/ax/A2", "ap/B1", "apx/snd/ap1", "apx/ax/A3"} {
		if _, ok := before[k]; !ok {
			t.Fatalf("no %s before the purge", k)
		}
	}
	r.ok(testEpoch.AddDate(9, 0, 0), KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "J Smith, IG lead"})
	for k, v := range r.keys() {
		if strings.HasPrefix(k, "u/retention/purge/") {
			continue
		}
		for _, id := range []string{"R1", "R2", "B1", "A1", "A2", "A3", "sr1", "sr2", "ap1"} {
			if strings.Contains(k, id) {
				t.Errorf("purged %s still keys %s", id, k)
			}
		}
		if strings.Contains(v, "Crawley") {
			t.Errorf("a referral's observation survives in %s", k)
		}
	}
}
