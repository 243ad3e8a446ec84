package care

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func intp(n int) *int { return &n }

// TestRetainUntil: the code's periods on dates, at their edges.
func TestRetainUntil(t *testing.T) {
	concluded := at("2020-03-10T14:00:00Z")
	arrived := at("2020-03-10T11:00:00Z")
	sixMonths := arrived.AddDate(0, -6, 0)
	tests := []struct {
		name       string
		arrived    time.Time
		concluded  time.Time
		ev         AgeEvidence
		extra      int
		want       time.Time
		wantPeriod string
	}{
		{"adult: 8 years after the conclusion of treatment", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("1980-01-01")}}, 0, at("2028-03-10T14:00:00Z"), PeriodAdult},
		{"18 on the day treatment concluded: adult", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2002-03-10")}}, 0, at("2028-03-10T14:00:00Z"), PeriodAdult},
		{"17, 18 the next day: until the 26th birthday", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2002-03-11")}}, 0, day("2028-03-11"), PeriodChild17},
		{"17 on the day: 26th birthday", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2003-03-10")}}, 0, day("2029-03-10"), PeriodChild17},
		{"16, 17 the next day: 25th birthday", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2003-03-11")}}, 0, day("2028-03-11"), PeriodChild},
		{"a child of 10: 25th birthday", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2010-06-01")}}, 0, day("2035-06-01"), PeriodChild},
		{"a newborn: 25th birthday", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2020-03-09")}}, 0, day("2045-03-09"), PeriodChild},
		{"born on 29 February: the 25th birthday is 1 March in a common year", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2004-02-29")}}, 0, day("2029-03-01"), PeriodChild},
		{"two dates of birth: the longer period", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("1980-01-01"), day("2010-06-01")}}, 0, day("2035-06-01"), PeriodChild},
		{"no date of birth, 40 at arrival: adult", arrived, concluded,
			AgeEvidence{AgeYears: intp(40)}, 0, at("2028-03-10T14:00:00Z"), PeriodAdult},
		{"no date of birth, 18 at arrival: adult", arrived, concluded,
			AgeEvidence{AgeYears: intp(18)}, 0, at("2028-03-10T14:00:00Z"), PeriodAdult},
		{"no date of birth, 10 at arrival: 26 years from the latest birth date", arrived, concluded,
			AgeEvidence{AgeYears: intp(10)}, 0, at("2036-03-10T11:00:00Z"), PeriodAgeEstimated},
		{"no date of birth, 17 at arrival: never shorter than 8 years", arrived, at("2021-06-01T00:00:00Z"),
			AgeEvidence{AgeYears: intp(17)}, 0, at("2029-06-01T00:00:00Z"), PeriodAgeEstimated},
		{"no date of birth, 6 months at arrival", arrived, concluded,
			AgeEvidence{LatestDOB: &sixMonths}, 0, sixMonths.AddDate(26, 0, 0), PeriodAgeEstimated},
		{"no age at all: a newborn's, from arrival", arrived, concluded,
			AgeEvidence{}, 0, at("2046-03-10T11:00:00Z"), PeriodAgeUnknown},
		{"the centre adds 2 years: adult", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("1980-01-01")}}, 2, at("2030-03-10T14:00:00Z"), PeriodAdult},
		{"the centre adds 2 years: child", arrived, concluded,
			AgeEvidence{DOBs: []time.Time{day("2010-06-01")}}, 2, day("2037-06-01"), PeriodChild},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, period := RetainUntil(tt.arrived, tt.concluded, tt.ev, tt.extra)
			if !got.Equal(tt.want) || period != tt.wantPeriod {
				t.Fatalf("RetainUntil = %s %s, want %s %s", got, period, tt.want, tt.wantPeriod)
			}
			// Never sooner than the code's shortest period.
			if got.Before(tt.concluded.AddDate(RetentionAdultYears+tt.extra, 0, 0)) {
				t.Fatalf("%s is sooner than 8 years after the conclusion of treatment", got)
			}
		})
	}
}

// retentionRun drives a replica with commands at given times and keeps
// the log.
type retentionRun struct {
	t    *testing.T
	f    *testFSM
	logs []*raft.Log
	lv   int // the entries' logic version; 0 is the binary's
}

func (r *retentionRun) apply(when time.Time, kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) *cluster.Result {
	r.t.Helper()
	lv := r.lv
	if lv == 0 {
		lv = cluster.LogicVersion
	}
	l := cmdLog(uint64(len(r.logs)+1), kindEnvAt(r.t, lv, kind, int(when.Sub(testEpoch)/time.Second), actor, payload, ids...))
	r.logs = append(r.logs, l)
	return resultValue(r.t, r.f.ApplyBatch([]*raft.Log{l})[0])
}

func (r *retentionRun) ok(when time.Time, kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) *cluster.Result {
	r.t.Helper()
	res := r.apply(when, kind, actor, payload, ids...)
	if res.Err != nil {
		r.t.Fatalf("%s: %v", kind, res.Err)
	}
	return res
}

// keys is every key of the replica's state but the m/ metadata, with its
// value.
func (r *retentionRun) keys() map[string]string {
	r.t.Helper()
	out := map[string]string{}
	r.f.ReadState(r.t, func(v *cluster.View) error {
		return v.Scan("", "", func(k string, val []byte) error {
			if !strings.HasPrefix(k, "m/") {
				out[k] = string(val)
			}
			return nil
		})
	})
	return out
}

func (r *retentionRun) review(asOf time.Time, extra int) *RetentionReview {
	r.t.Helper()
	var rv *RetentionReview
	r.f.ReadState(r.t, func(v *cluster.View) error {
		var err error
		rv, err = In(v).RetentionReview(asOf, extra)
		return err
	})
	return rv
}

// retentionFixture: a directory, then at testEpoch (24 November 2026):
//   - P2, an adult's patient record that no attendance names;
//   - A1, an adult (born 1990), linked to patient P1, seen an hour later;
//   - A2, a child of 10 (born 2016), left;
//   - A3, an 84-year-old at home, no date of birth, routed to rapid
//     response (a dispatch, its outbox entry and stream events), the
//     dispatch completed two hours later.
func retentionFixture(t *testing.T) *retentionRun {
	r := &retentionRun{t: t, f: newTestFSM(t)}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
	r.ok(testEpoch, KindPatientCreate, testDesk, PatientCreate{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10",
		NHSNumber: "9434765919", Postcode: "DY1 1AA", ConfirmNew: true}, "P1")
	r.ok(testEpoch, KindPatientCreate, testDesk, PatientCreate{GivenName: "Olive", FamilyName: "Orphan", DateOfBirth: "1970-01-01",
		ConfirmNew: true}, "P2")
	r.ok(testEpoch, KindAttendanceCreate, testDesk, AttendanceCreate{Complaint: "sore throat",
		Patient: Patient{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", NHSNumber: "9434765919"}}, "A1")
	r.ok(testEpoch, KindAttendancePatient, testDesk, AttendancePatient{AttendanceID: "A1", PatientID: "P1"})
	r.ok(testEpoch.Add(time.Hour), KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A1", Status: AttendanceSeen})
	r.ok(testEpoch, KindAttendanceCreate, testDesk, AttendanceCreate{Complaint: "earache",
		Patient: Patient{GivenName: "Tom", FamilyName: "Thumb", DateOfBirth: "2016-01-01"}}, "A2")
	r.ok(testEpoch.Add(time.Hour), KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A2", Status: AttendanceLeft})
	r.ok(testEpoch, KindAttendanceCreate, testDesk, fallCall(), "A3")
	r.ok(testEpoch.Add(time.Minute), KindDispatchDelivered, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A3-d1", Attempts: 1, HTTPStatus: 200})
	r.ok(testEpoch.Add(2*time.Minute), KindDispatchAccept, dispResponder, DispatchAccept{DispatchID: "A3-d1", ETA: testEpoch.Add(time.Hour)})
	r.ok(testEpoch.Add(time.Hour), KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A3-d1", Status: DispatchOnScene})
	r.ok(testEpoch.Add(2*time.Hour), KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A3-d1", Status: DispatchCompleted, Outcome: OutcomeStayedAtHome})
	return r
}

// TestRetentionPurge: the review lists what is due by id and period; the
// purge deletes it and everything keyed by it (no key names a purged id,
// no value holds a purged patient's name or NHS number), keeps what is
// not due, leaves one audit event; a second purge finds nothing and
// changes nothing; replicas applying the log in one batch or one entry at
// a time agree.
func TestRetentionPurge(t *testing.T) {
	r := retentionFixture(t)
	// A3's treatment concluded when its dispatch completed, two hours
	// after arrival: 8 years later plus an hour it is not yet due, A1
	// (concluded an hour after arrival) is.
	concludedA3 := testEpoch.Add(2 * time.Hour)
	early := concludedA3.AddDate(8, 0, 0).Add(-time.Hour)
	rv := r.review(early, 0)
	if rv.Attendances != 1 || len(rv.Due) != 1 || rv.Due[0] != (RetentionDue{ID: "A1", Period: PeriodAdult}) || rv.Patients != 2 ||
		strings.Join(rv.PatientIDs, ",") != "P1,P2" {
		t.Fatalf("review an hour before A3 is due: %+v", rv)
	}
	due := concludedA3.AddDate(8, 0, 0)
	rv = r.review(due, 0)
	if rv.Attendances != 2 || rv.ByPeriod[PeriodAdult] != 2 || rv.Due[1].ID != "A3" {
		t.Fatalf("review when A3 is due: %+v", rv)
	}
	if rv = r.review(due, 1); rv.Attendances != 0 || rv.Patients != 0 {
		t.Fatalf("review with a year added: %+v", rv)
	}
	b, _ := json.Marshal(rv)
	for _, leak := range []string{"Lovelace", "9434765919", "Crawley"} {
		if strings.Contains(string(b), leak) {
			t.Fatalf("the review shows %s: %s", leak, b)
		}
	}

	before := r.keys()
	for _, k := range []string{"a/A1", "a/A3", "dp/A3-d1", "ob/msg_A3-d1", "p/P1", "p/P2", "a/A2"} {
		if _, ok := before[k]; !ok {
			t.Fatalf("fixture has no %s", k)
		}
	}
	// The purge is dated when A3 is due, but names the review an hour
	// earlier that was approved: only A1 (and its patient) go.
	res := r.ok(due.Add(time.Minute), KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "J Smith, IG lead", AsOf: &early})
	var got RetentionPurged
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Attendances != 1 || got.Patients != 2 || got.AttendanceIDs[0] != "A1" || strings.Join(got.PatientIDs, ",") != "P1,P2" ||
		!got.AsOf.Equal(early) || got.Remaining != 0 {
		t.Fatalf("purge as of the review: %+v", got)
	}
	// Then the rest, as of now.
	res = r.ok(due.Add(time.Minute), KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "J Smith, IG lead"})
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Attendances != 1 || got.AttendanceIDs[0] != "A3" || got.ByPeriod[PeriodAdult] != 1 || got.ApprovedBy != "J Smith, IG lead" || got.Records == 0 {
		t.Fatalf("purge: %+v", got)
	}

	after := r.keys()
	audits := 0
	for k, v := range after {
		if strings.HasPrefix(k, "u/retention/purge/") {
			audits++
			var ev cluster.AuditEvent
			if err := json.Unmarshal([]byte(v), &ev); err != nil || ev.Action != "retention.purge" || ev.Actor.ID != testAdmin.ID ||
				!strings.Contains(string(ev.Details), `"approved_by":"J Smith, IG lead"`) {
				t.Fatalf("purge audit %s: %s (%v)", k, v, err)
			}
			continue
		}
		for _, id := range []string{"A1", "A3", "P1", "P2"} {
			if strings.Contains(k, id) {
				t.Errorf("purged %s still keys %s", id, k)
			}
		}
		for _, leak := range []string{"Lovelace", "9434765919", "Crawley", "key safe", "Orphan"} {
			if strings.Contains(v, leak) {
				t.Errorf("%s survives the purge in %s", leak, k)
			}
		}
	}
	if audits != 2 {
		t.Fatalf("%d purge audit events, want 2", audits)
	}
	for _, k := range []string{"a/A2", "s/ucr-north"} {
		if after[k] != before[k] {
			t.Errorf("%s changed", k)
		}
	}

	// Nothing more is due: refused, nothing changes.
	hash := dataHash(t, r.f)
	res = r.apply(due.Add(2*time.Minute), KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "J Smith, IG lead"})
	if res.Err == nil || res.Err.Code != cluster.CodeConflict || !strings.Contains(res.Err.Message, "nothing is due") {
		t.Fatalf("second purge: %+v", res)
	}
	if dataHash(t, r.f) != hash {
		t.Fatal("a purge of nothing changed the state")
	}

	// The same log, replayed in one batch and one entry at a time, gives
	// the same state: what is due is decided in Apply.
	replica, _ := deterministic(t, r.logs, len(r.logs))
	if dataHash(t, replica) != dataHash(t, r.f) {
		t.Fatal("a replica replaying the log differs")
	}
}

// TestRetentionChildKeptUntilBirthday: a child's attendance is not due 8
// years on, and is due on their 25th birthday.
func TestRetentionChildKeptUntilBirthday(t *testing.T) {
	r := retentionFixture(t)
	for _, tt := range []struct {
		asOf time.Time
		due  bool
	}{
		{testEpoch.AddDate(9, 0, 0), false},
		{day("2040-12-31"), false},
		{day("2041-01-01").Add(-time.Second), false},
		{day("2041-01-01"), true},
	} {
		rv := r.review(tt.asOf, 0)
		has := false
		for _, d := range rv.Due {
			if d.ID == "A2" {
				has = d.Period == PeriodChild
			}
		}
		if has != tt.due {
			t.Errorf("as of %s: A2 due %v, want %v (%+v)", tt.asOf, has, tt.due, rv.Due)
		}
	}
}

// TestRetentionPurgeRefusals: bad payloads and a purge with nothing due
// are refused and change nothing.
func TestRetentionPurgeRefusals(t *testing.T) {
	r := retentionFixture(t)
	soon := testEpoch.AddDate(1, 0, 0)
	future := testEpoch.AddDate(30, 0, 0)
	// The FSM clock never goes back: the purge dated a year on comes first.
	refused := [][]byte{
		kindEnv(t, KindRetentionPurge, int(soon.Sub(testEpoch)/time.Second), testAdmin, RetentionPurge{ApprovedBy: "x"}),
		kindEnv(t, KindRetentionPurge, int(future.Sub(testEpoch)/time.Second), testAdmin, RetentionPurge{}),
		kindEnv(t, KindRetentionPurge, int(future.Sub(testEpoch)/time.Second), testAdmin, RetentionPurge{ApprovedBy: "x", ExtraYears: -1}),
		kindEnv(t, KindRetentionPurge, int(future.Sub(testEpoch)/time.Second), testAdmin, RetentionPurge{ApprovedBy: "x", Limit: RetentionPurgeMaxLimit + 1}),
		// Dated 30 years on, but the review approved was a year on.
		kindEnv(t, KindRetentionPurge, int(future.Sub(testEpoch)/time.Second), testAdmin, RetentionPurge{ApprovedBy: "x", AsOf: &soon}),
	}
	refusalsChangeNothing(t, r.logs, refused)
}

// TestRetentionPurgeLimit: a purge takes at most its limit and reports the
// rest as remaining; the next takes them.
func TestRetentionPurgeLimit(t *testing.T) {
	r := retentionFixture(t)
	later := testEpoch.AddDate(30, 0, 0)
	res := r.ok(later, KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "IG lead", Limit: 2})
	var got RetentionPurged
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Attendances != 2 || got.Remaining != 1 || strings.Join(got.AttendanceIDs, ",") != "A1,A2" {
		t.Fatalf("first purge: %+v", got)
	}
	res = r.ok(later, KindRetentionPurge, testAdmin, RetentionPurge{ApprovedBy: "IG lead", Limit: 2})
	if err := json.Unmarshal(res.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Attendances != 1 || got.Remaining != 0 || got.AttendanceIDs[0] != "A3" {
		t.Fatalf("second purge: %+v", got)
	}
	if rv := r.review(later, 0); rv.Attendances != 0 || rv.Patients != 0 {
		t.Fatalf("review after: %+v", rv)
	}
}

// TestRetentionCountsTheStoredTimeline: treatment concludes at the last
// status change, wherever the timeline is stored (in a/<id> up to logic
// version 14, in the log ap/<id>/tl from 15). An adult who arrived and
// left 20 days later is due 8 years after they left, not after they came.
func TestRetentionCountsTheStoredTimeline(t *testing.T) {
	for _, lv := range []int{14, cluster.LogicVersion} {
		t.Run("logic version "+strconv.Itoa(lv), func(t *testing.T) {
			r := &retentionRun{t: t, f: newTestFSM(t), lv: lv}
			demo, err := routing.DemoDirectory()
			if err != nil {
				t.Fatal(err)
			}
			r.ok(testEpoch, directory.KindDirectoryLoad, cluster.SystemActor, demo)
			r.ok(testEpoch, KindAttendanceCreate, testDesk, AttendanceCreate{Complaint: "my ankle has been swollen since the weekend",
				Patient: Patient{GivenName: "Ada", FamilyName: "Smith", DateOfBirth: "1980-05-05"}}, "A1")
			left := testEpoch.AddDate(0, 0, 20)
			r.ok(left, KindAttendanceStatus, testDesk, AttendanceStatusChange{AttendanceID: "A1", Status: AttendanceLeft})
			logged := 0
			for k := range r.keys() {
				if strings.HasPrefix(k, prefixAttendanceParts+"A1/"+logTimeline+"/") {
					logged++
				}
			}
			if want := map[bool]int{true: 2, false: 0}[lv >= logicTriagePart]; logged != want {
				t.Fatalf("%d status changes in the timeline log, want %d", logged, want)
			}
			due := left.AddDate(RetentionAdultYears, 0, 0)
			if rv := r.review(due.Add(-time.Hour), 0); rv.Attendances != 0 {
				t.Fatalf("an hour before 8 years from leaving: %+v", rv)
			}
			if rv := r.review(due, 0); rv.Attendances != 1 || rv.Due[0].ID != "A1" {
				t.Fatalf("8 years from leaving: %+v", rv)
			}
		})
	}
}
