package care

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestContextAgeReachesEngineInDays: an age given in months, weeks or days
// (no date of birth) reaches the engine as an age in days, so a 9-week-old
// is 63 days old (NICE NG143's under-3-months rule can fire); whole years
// stay years; a date of birth wins.
func TestContextAgeReachesEngineInDays(t *testing.T) {
	now := time.Date(2030, 1, 7, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		dob       string
		ctx       TriageContext
		wantDays  *int
		wantYears *int
	}{
		{"9 weeks", "", TriageContext{AgeWeeks: ip(9)}, ip(63), nil},
		{"2 months", "", TriageContext{AgeMonths: ip(2)}, ip(60), nil},
		{"40 days", "", TriageContext{AgeDays: ip(40)}, ip(40), nil},
		{"3 years", "", TriageContext{AgeYears: ip(3)}, nil, ip(3)},
		{"date of birth wins", "2029-12-31", TriageContext{AgeWeeks: ip(30)}, ip(7), nil},
		{"nothing known", "", TriageContext{}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Attendance{Patient: Patient{DateOfBirth: tc.dob}, Channel: ChannelWalkIn}
			p := triagePatient(now, a, &tc.ctx, nil)
			if !sameInt(p.AgeDays, tc.wantDays) || !sameInt(p.AgeYears, tc.wantYears) {
				t.Fatalf("age days %v years %v, want %v %v", deref(p.AgeDays), deref(p.AgeYears), deref(tc.wantDays), deref(tc.wantYears))
			}
		})
	}
}

func sameInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestContextValidation: bad context values are refused with the field
// named; good ones pass.
func TestContextValidation(t *testing.T) {
	cases := []struct {
		name  string
		ctx   TriageContext
		field string // "" = valid
	}{
		{"age in weeks", TriageContext{AgeWeeks: ip(9)}, ""},
		{"two ages", TriageContext{AgeYears: ip(0), AgeWeeks: ip(9)}, "context.age_weeks"},
		{"negative months", TriageContext{AgeMonths: ip(-1)}, "context.age_months"},
		{"days beyond 130 years", TriageContext{AgeDays: ip(maxAgeDays + 1)}, "context.age_days"},
		{"gestation", TriageContext{Pregnant: "yes", GestationWeeks: ip(33)}, ""},
		{"gestation implies pregnant", TriageContext{GestationWeeks: ip(33)}, ""},
		{"gestation but not pregnant", TriageContext{Pregnant: "no", GestationWeeks: ip(33)}, "context.gestation_weeks"},
		{"gestation 46 weeks", TriageContext{GestationWeeks: ip(46)}, "context.gestation_weeks"},
		{"postnatal 53 weeks", TriageContext{PostnatalWeeks: ip(53)}, "context.postnatal_weeks"},
		{"new flags", TriageContext{Flags: []string{"infection", "dnacpr", "advance_care_plan", "alone"}}, ""},
		{"unknown flag", TriageContext{Flags: []string{"frail"}}, "context.flags[0]"},
		{"diastolic", TriageContext{Observations: &triage.Observations{DiastolicBP: ip(112)}}, ""},
		{"diastolic 201", TriageContext{Observations: &triage.Observations{DiastolicBP: ip(201)}}, "context.observations.diastolic_bp"},
		{"diastolic 19", TriageContext{Observations: &triage.Observations{DiastolicBP: ip(19)}}, "context.observations.diastolic_bp"},
		{"contacts", TriageContext{EarlierContacts: []EarlierContact{{Service: "nhs111", HoursAgo: 30}, {Service: "this_centre", HoursAgo: 0}}}, ""},
		{"contact service", TriageContext{EarlierContacts: []EarlierContact{{Service: "walk_in_centre", HoursAgo: 3}}}, "context.earlier_contacts[0].service"},
		{"contact too long ago", TriageContext{EarlierContacts: []EarlierContact{{Service: "gp", HoursAgo: 97}}}, "context.earlier_contacts[0].hours_ago"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := AttendanceCreate{Complaint: "x", Context: &tc.ctx}
			f := req.Validate(testEpoch)
			switch {
			case tc.field == "" && f != nil:
				t.Fatalf("refused: %v", f)
			case tc.field != "" && f[tc.field] == "":
				t.Fatalf("not refused on %s: %v", tc.field, f)
			}
		})
	}
}

// TestContactsWithReported: reported contacts add to the recorded ones; a
// reported contact with this centre counts only beyond what the record
// shows.
func TestContactsWithReported(t *testing.T) {
	c := func(services ...string) *TriageContext {
		ctx := &TriageContext{}
		for _, s := range services {
			ctx.EarlierContacts = append(ctx.EarlierContacts, EarlierContact{Service: s, HoursAgo: 24})
		}
		return ctx
	}
	cases := []struct {
		name     string
		recorded int
		ctx      *TriageContext
		want     int
	}{
		{"none", 0, nil, 0},
		{"recorded only", 1, c(), 1},
		{"two reported", 0, c("nhs111", "gp"), 2},
		{"this centre already recorded", 1, c("this_centre"), 1},
		{"this centre beyond the record", 1, c("this_centre", "this_centre"), 2},
		{"this centre and 111", 1, c("this_centre", "nhs111"), 2},
	}
	for _, tc := range cases {
		if got := contactsWithReported(tc.recorded, tc.ctx); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestLogicVersionGatesTriageRules: an attendance.create of logic version 2
// (an old log replayed, or a cluster still running an old binary) starts
// its session under the engine's rules 0 (one question at a time) and
// refuses the context fields version 2 did not know, changing nothing;
// the same entry at version 3 starts under rules 1 (the desk form).
func TestLogicVersionGatesTriageRules(t *testing.T) {
	age := 30
	create := AttendanceCreate{Complaint: "burning pee", Protocol: "urinary-symptoms", Patient: Patient{Postcode: "DY1 1AA"},
		Context: &TriageContext{AgeYears: &age, Sex: "female", Pregnant: "no"}}
	weeks := AttendanceCreate{Complaint: "hot baby", Protocol: "fever-under-5", Context: &TriageContext{AgeWeeks: ip(9)}}
	cases := []struct {
		name      string
		lv        int
		req       AttendanceCreate
		refused   bool
		rules     int
		questions int
	}{
		{"v2 walk-in: rules 0, one question", 2, create, false, 0, 1},
		{"v3 walk-in: rules 1, the desk form", 3, create, false, 1, 9},
		{"v2 refuses age_weeks", 2, weeks, true, 0, 0},
		{"v3 takes age_weeks", 3, weeks, false, 1, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t)
			applyOne(t, f, 1, kindEnvAt(t, tc.lv, protocolset.KindProtocolsLoad, 1, bootstrap, protocolsLoadPayload()))
			before := dataHash(t, f)
			r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(2, kindEnvAt(t, tc.lv, KindAttendanceCreate, 2, testReception, tc.req, "G1"))})[0])
			if tc.refused {
				if r.Err == nil || r.Err.Fields["context.age_weeks"] == "" {
					t.Fatalf("not refused: %+v", r)
				}
				if dataHash(t, f) != before {
					t.Fatal("a refused entry changed the state")
				}
				return
			}
			var a Attendance
			if r.Err != nil || json.Unmarshal(r.Value, &a) != nil {
				t.Fatalf("create: %+v", r)
			}
			if a.Triage.Session.Rules != tc.rules || len(a.Triage.Questions) != tc.questions {
				t.Fatalf("rules %d with %d questions, want %d with %d", a.Triage.Session.Rules, len(a.Triage.Questions), tc.rules, tc.questions)
			}
		})
	}
}

// TestDiastolicPressureGatedByLogicVersion: an observation of logic
// version 2 carrying a diastolic pressure is refused as version 2 refused
// it, changing nothing; at version 3 it is recorded.
func TestDiastolicPressureGatedByLogicVersion(t *testing.T) {
	for _, tc := range []struct {
		lv      int
		refused bool
	}{{2, true}, {3, false}} {
		f := newTestFSM(t)
		envs := clinicianFirstLog(t, tc.lv)
		applyAll(t, f, envs)
		before := dataHash(t, f)
		obs := AttendanceObservations{AttendanceID: "H1", Observations: triage.Observations{SystolicBP: ip(150), DiastolicBP: ip(95)}}
		r := resultValue(t, f.ApplyBatch([]*raft.Log{cmdLog(uint64(len(envs)+1), kindEnvAt(t, tc.lv, KindAttendanceObserve, 10, testClinician, obs))})[0])
		switch {
		case tc.refused && (r.Err == nil || r.Err.Fields["observations.diastolic_bp"] == "" || dataHash(t, f) != before):
			t.Fatalf("logic version %d: %v", tc.lv, r.Err)
		case !tc.refused && r.Err != nil:
			t.Fatalf("logic version %d refused: %v", tc.lv, r.Err)
		}
	}
}
