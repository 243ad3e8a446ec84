package care

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
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
	free := func() int { return freePlaces(t, r.f, demo, at) }
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

// TestBookedPlaceFreedWhenTheAttendanceLeaves: from logic version 10, an
// expected 111 booking marked left frees its place and the Appointment is
// noshow; one that arrived (Appointment arrived) and is then handed over
// frees its place too; a booking whose attendance was seen keeps it and is
// fulfilled; once the patient has arrived the booking cannot be cancelled,
// and a booked patient cannot be checked in the day before their session.
// Entries of version 9 replay as they were applied then: the place stays
// taken, the Appointments stay booked and a late cancellation is taken.
func TestBookedPlaceFreedWhenTheAttendanceLeaves(t *testing.T) {
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	day := testEpoch.In(routing.London).AddDate(0, 0, 1)
	at := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, routing.London)
	pat := Patient{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", NHSNumber: "9434765919"}
	book := func(r *retentionRun, n int) {
		b := BookingCreate{MessageID: fmt.Sprintf("m%d", n), AppointmentID: fmt.Sprintf("ap%d", n), Target: "gp-ucc-stream", At: at,
			Attendance: AttendanceCreate{Complaint: "booked", Channel: ChannelNHS111, Expected: true, Patient: pat}}
		r.ok(testEpoch, KindBookingCreate, testAdmin, b, fmt.Sprintf("B%d", n), fmt.Sprintf("A%d", n))
	}
	free := func(r *retentionRun) int { return freePlaces(t, r.f, demo, at) }
	status := func(r *retentionRun, id string) string {
		var s string
		r.f.ReadState(t, func(v *cluster.View) error {
			ap, err := In(v).Appointment(id)
			if err != nil {
				return err
			}
			s = ap.Status
			return nil
		})
		return s
	}
	for _, tc := range []struct {
		lv                     int
		wantFree               int
		wantB1, wantB2, wantB3 string
		wantReleaseAudited     bool
	}{
		{lv: 9, wantFree: 9, wantB1: AppointmentBooked, wantB2: AppointmentBooked, wantB3: AppointmentBooked},
		{lv: 10, wantFree: 11, wantB1: AppointmentNoShow, wantB2: AppointmentArrived, wantB3: AppointmentFulfilled, wantReleaseAudited: true},
	} {
		t.Run(fmt.Sprintf("logic %d", tc.lv), func(t *testing.T) {
			r := &retentionRun{t: t, f: newTestFSM(t), lv: tc.lv}
			r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
			for n := 1; n <= 3; n++ {
				book(r, n)
			}
			if n := free(r); n != 9 {
				t.Fatalf("%d places free after three bookings, want 9", n)
			}
			if tc.lv >= 10 {
				// The day before the session, a booked patient is not due.
				res := r.apply(testEpoch.Add(time.Minute), KindAttendanceCheckIn, testDesk, AttendanceCheckIn{AttendanceID: "A3"})
				if res.Err == nil || res.Err.Code != cluster.CodeConflict || !strings.Contains(res.Err.Message, "walk-in") {
					t.Fatalf("checking in a day early: %+v, want a conflict", res.Err)
				}
			}
			// On the day, A1 never comes; A2 arrives and is handed over; A3
			// is seen.
			r.ok(at, KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A1", Status: AttendanceLeft})
			r.ok(at, KindAttendanceCheckIn, testDesk, AttendanceCheckIn{AttendanceID: "A2"})
			r.ok(at, KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A2", Status: AttendanceHandedOver})
			r.ok(at, KindAttendanceCheckIn, testDesk, AttendanceCheckIn{AttendanceID: "A3"})
			r.ok(at, KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A3", Status: AttendanceSeen})
			if n := free(r); n != tc.wantFree {
				t.Errorf("%d places free, want %d", n, tc.wantFree)
			}
			if s1, s2, s3 := status(r, "B1"), status(r, "B2"), status(r, "B3"); s1 != tc.wantB1 || s2 != tc.wantB2 || s3 != tc.wantB3 {
				t.Errorf("appointments %s %s %s, want %s %s %s", s1, s2, s3, tc.wantB1, tc.wantB2, tc.wantB3)
			}
			// The seen patient's booking: a cancellation is refused from
			// version 10 and frees nothing; version 9 took it.
			res := r.apply(testEpoch.Add(2*time.Minute), KindBookingCancel, testAdmin, BookingCancel{MessageID: "m8", AppointmentID: "ap3", Target: "gp-ucc-stream"})
			if tc.lv >= 10 && (res.Err == nil || res.Err.Code != cluster.CodeConflict) {
				t.Errorf("cancelling a seen patient's booking: %+v, want a conflict", res.Err)
			}
			if tc.lv < 10 {
				if res.Err != nil {
					t.Errorf("version 9 cancellation of a seen patient's booking: %v", res.Err)
				}
				tc.wantFree++ // version 9: the cancellation freed A3's place
			}
			// A cancellation after the release frees nothing twice.
			r.ok(testEpoch.Add(2*time.Minute), KindBookingCancel, testAdmin, BookingCancel{MessageID: "m9", AppointmentID: "ap1", Target: "gp-ucc-stream"})
			want := tc.wantFree
			if tc.lv < 10 {
				want++ // version 9: only the cancellation frees A1's place
			}
			if n := free(r); n != want {
				t.Errorf("%d places free after cancelling ap1, want %d", n, want)
			}
			noshow := false
			for k, v := range r.keys() {
				if strings.HasPrefix(k, "u/appointment/B1/") && strings.Contains(v, "booking.noshow") {
					noshow = true
				}
			}
			if noshow != tc.wantReleaseAudited {
				t.Errorf("booking.noshow audited: %v, want %v", noshow, tc.wantReleaseAudited)
			}
		})
	}
}

// freePlaces is how many places of the UCC stream's session running at at
// are free in f's state.
func freePlaces(t *testing.T, f *testFSM, demo *routing.Directory, at time.Time) int {
	t.Helper()
	var n int
	f.ReadState(t, func(v *cluster.View) error {
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

// TestIdentityCheckWhenTheNumberMatchesAnotherPerson: from logic version
// 10, a referral whose NHS number is recorded for a patient with another
// date of birth is linked by the number and raises an identity_check alert
// on its attendance; the same person again (a name in other case) raises
// none; version 9 linked silently.
func TestIdentityCheckWhenTheNumberMatchesAnotherPerson(t *testing.T) {
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	pat := Patient{GivenName: "Julie", FamilyName: "Jones", DateOfBirth: "1959-03-02", NHSNumber: "9434765919"}
	referral := func(msg string, p Patient) ReferralReceive {
		pc := &PatientCreate{GivenName: p.GivenName, FamilyName: p.FamilyName, DateOfBirth: p.DateOfBirth, NHSNumber: p.NHSNumber}
		return ReferralReceive{MessageID: msg, ServiceRequestID: "sr-" + msg, Target: "gp-ucc-stream", Patient: pc,
			Attendance: AttendanceCreate{Complaint: "referred", Channel: ChannelNHS111, Expected: true, Dx: &DxReferral{Code: "Dx05"}, Patient: p}}
	}
	other := pat
	other.GivenName, other.FamilyName, other.DateOfBirth = "Julie", "Smith", "1990-07-01"
	same := pat
	same.FamilyName = "JONES"
	for _, lv := range []int{9, 10} {
		t.Run(fmt.Sprintf("logic %d", lv), func(t *testing.T) {
			r := &retentionRun{t: t, f: newTestFSM(t), lv: lv}
			r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
			r.ok(testEpoch, KindReferralReceive, testAdmin, referral("m1", pat), "R1", "P1", "A1")
			r.ok(testEpoch, KindReferralReceive, testAdmin, referral("m2", same), "R2", "A2")
			r.ok(testEpoch, KindReferralReceive, testAdmin, referral("m3", other), "R3", "A3")
			alerts := map[string]string{}
			for k, v := range r.keys() {
				if strings.HasPrefix(k, prefixAlert) {
					var al Alert
					if err := json.Unmarshal([]byte(v), &al); err != nil {
						t.Fatal(err)
					}
					alerts[al.AttendanceID] = al.Kind + ": " + al.Message
				}
			}
			if lv < 10 {
				if len(alerts) != 0 {
					t.Fatalf("version 9 raised %v", alerts)
				}
				return
			}
			if len(alerts) != 1 || !strings.HasPrefix(alerts["A3"], AlertIdentityCheck+": ") ||
				!strings.Contains(alerts["A3"], "Smith") || !strings.Contains(alerts["A3"], "1959-03-02") {
				t.Fatalf("alerts %v, want one identity check on A3 naming both people", alerts)
			}
		})
	}
}

// TestOnlyTheSenderCancels: from logic version 11 an NHS 111 key cannot
// cancel a booking or revoke a referral another NHS 111 key sent (not
// found); the sender can, and an admin can. Version 10 entries replay as
// they were applied: any NHS 111 key's cancellation was taken.
func TestOnlyTheSenderCancels(t *testing.T) {
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	north := cluster.Actor{ID: "k-north", Name: "NHS 111 North", Role: access.RoleNHS111}
	south := cluster.Actor{ID: "k-south", Name: "NHS 111 South", Role: access.RoleNHS111}
	day := testEpoch.In(routing.London).AddDate(0, 0, 1)
	at := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, routing.London)
	pat := Patient{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10"}
	for _, lv := range []int{10, 11} {
		t.Run(fmt.Sprintf("logic %d", lv), func(t *testing.T) {
			r := &retentionRun{t: t, f: newTestFSM(t), lv: lv}
			r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
			r.ok(testEpoch, KindBookingCreate, north, BookingCreate{MessageID: "m1", AppointmentID: "ap1", Target: "gp-ucc-stream", At: at,
				Attendance: AttendanceCreate{Complaint: "booked", Channel: ChannelNHS111, Expected: true, Patient: pat}}, "B1", "A1")
			r.ok(testEpoch, KindReferralReceive, north, ReferralReceive{MessageID: "m2", ServiceRequestID: "sr1", Target: "gp-ucc-stream",
				Attendance: AttendanceCreate{Complaint: "referred", Channel: ChannelNHS111, Expected: true, Dx: &DxReferral{Code: "Dx05"}, CaseRef: "sr1", Patient: pat}}, "R1", "A2")
			cancelBooking := BookingCancel{MessageID: "m3", AppointmentID: "ap1", Target: "gp-ucc-stream"}
			revoke := ReferralCancel{MessageID: "m4", ServiceRequestID: "sr1", Target: "gp-ucc-stream"}
			rb := r.apply(testEpoch.Add(time.Minute), KindBookingCancel, south, cancelBooking)
			rr := r.apply(testEpoch.Add(time.Minute), KindReferralCancel, south, revoke)
			if lv < 11 {
				if rb.Err != nil || rr.Err != nil {
					t.Fatalf("version 10 replay: another sender's cancellations %v %v, want taken", rb.Err, rr.Err)
				}
				return
			}
			for name, res := range map[string]*cluster.Result{"booking": rb, "referral": rr} {
				if res.Err == nil || res.Err.Code != cluster.CodeNotFound {
					t.Errorf("another sender cancels the %s: %+v, want not found", name, res.Err)
				}
			}
			r.ok(testEpoch.Add(time.Minute), KindBookingCancel, north, cancelBooking)
			r.ok(testEpoch.Add(time.Minute), KindReferralCancel, testAdmin, revoke)
		})
	}
}
