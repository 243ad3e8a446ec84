package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Uncertainty through the API: an unsure person is triaged safely without
// being sent to the ED (clinician first), the context that decides (ages in
// weeks, pregnancy weeks, earlier contacts, where the patient is), and
// observations that raise at once.

// postAttendance posts to an attendance route and decodes the attendance.
func postAttendance(t *testing.T, tc *nodetest.Cluster, path, body string, hdr map[string]string) *care.Attendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, path, body, hdr)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	var a care.Attendance
	nodetest.DecodeJSON(t, b, &a)
	return &a
}

// answerStep answers the questions the attendance asks now: from answers,
// else "no" (a number 0); a choice question must be in answers.
func answerStep(t *testing.T, tc *nodetest.Cluster, a *care.Attendance, answers map[string]string, hdr map[string]string) *care.Attendance {
	t.Helper()
	var replies []triage.Reply
	for _, q := range a.Triage.Questions {
		v, ok := answers[q.ID]
		switch {
		case ok:
		case q.Type == triage.Number:
			v = "0"
		case q.Type == triage.Choice:
			t.Fatalf("choice question %s (%s) has no answer", q.ID, q.Text)
		default:
			v = "no"
		}
		replies = append(replies, triage.Reply{Question: q.ID, Value: v})
	}
	body, err := json.Marshal(map[string]any{"answers": replies})
	if err != nil {
		t.Fatal(err)
	}
	return postAttendance(t, tc, "/v1/attendances/"+a.ID+"/answers", string(body), hdr)
}

// answerAll answers step by step until no question remains; seen gets
// every intermediate attendance.
func answerAll(t *testing.T, tc *nodetest.Cluster, a *care.Attendance, answers map[string]string, hdr map[string]string, seen func(*care.Attendance)) *care.Attendance {
	t.Helper()
	for step := 0; len(a.Triage.Questions) > 0; step++ {
		if step == 60 {
			t.Fatal("triage did not finish in 60 steps")
		}
		a = answerStep(t, tc, a, answers, hdr)
		if seen != nil {
			seen(a)
		}
	}
	return a
}

// statusAt is when the attendance last entered status.
func statusAt(a *care.Attendance, status string) time.Time {
	var at time.Time
	for _, c := range a.Timeline {
		if c.Status == status {
			at = c.At
		}
	}
	return at
}

// TestClinicianFirstAndContextThroughTheAPI: the uncertainty cases, each with
// the exact tier, timeframe and Dx it must reach, through the HTTP API of a
// 3-node cluster on a Monday afternoon.
func TestClinicianFirstAndContextThroughTheAPI(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	cough := func(channel string) string {
		return `{"complaint":"cough and a cold","protocol":"cough-cold-sore-throat","channel":"` + channel +
			`","patient":{"postcode":"DY1 1AA"},"context":{"age_years":35,"sex":"female","pregnant":"no"}}`
	}
	cases := []struct {
		name      string
		body      string
		hdr       map[string]string
		answers   map[string]string
		tier      triage.Tier
		timeframe triage.Timeframe
		dx        string
		status    string
		decidedBy string
		careNeed  string // "" = none required
		service   string // "" = not routed
		stream    string // clinician-first stream
		due       time.Duration
		then      func(t *testing.T, a *care.Attendance)
	}{
		{
			name: "(a) walk-in, normal desk signs but one not sure: clinician now, the protocol goes on", body: cough("walk_in"), hdr: desk,
			answers: map[string]string{"screen.desk_swelling": "not_sure"},
			tier:    triage.GP, timeframe: triage.Immediate, dx: "Dx9002", status: care.AttendanceAwaitingClinician, decidedBy: "clinician_first",
			stream: triage.StreamClinicianNow, due: 15 * time.Minute,
			then: func(t *testing.T, a *care.Attendance) {
				cf := a.Triage.Disposition.ClinicianFirst
				if cf.Then == nil || cf.Then.Tier != triage.SelfCare || cf.Then.Dx != "Dx25" || len(cf.Reasons) == 0 {
					t.Fatalf("then %+v, reasons %v: want the protocol's self care (Dx25)", cf.Then, cf.Reasons)
				}
				if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, desk); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("reception settling a clinician floor: %d %s", resp.StatusCode, b)
				}
				got := postAttendance(t, tc, "/v1/attendances/"+a.ID+"/confirm", `{"note":"no swelling, a cold"}`, doc)
				d := got.Triage.Disposition
				if got.Status != care.AttendanceRouted || d.Tier != triage.SelfCare || d.Timeframe != triage.NoTime || d.Dx != "Dx25" ||
					got.Routing == nil || got.Routing.Decision.ServiceID != "sc-online" || got.Confirmations[0].Settled != triage.StreamClinicianNow {
					t.Fatalf("after the clinician's confirm: %s %+v -> %+v", got.Status, d, got.Routing)
				}
			},
		},
		{
			name: "(b) NHS 111 caller, one not sure after its follow-up: a clinician call-back in the worklist", body: cough("nhs111"), hdr: nhs111,
			answers: map[string]string{"screen.self_swelling": "not_sure", "screen.anaphylaxis_followup": "not_sure"},
			tier:    triage.GP, timeframe: triage.Within1h, dx: "Dx11", status: care.AttendanceAwaitingClinician, decidedBy: "clinician_first",
			stream: triage.StreamClinicianCallback, due: time.Hour,
			then: func(t *testing.T, a *care.Attendance) {
				for stream, want := range map[string]bool{"clinician_callback": true, "clinician_now": false} {
					resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/queue?stream="+stream, "", doc)
					var q api.QueueBody
					nodetest.DecodeJSON(t, b, &q)
					if resp.StatusCode != http.StatusOK || (queueEntry(q, a.ID) != nil) != want {
						t.Fatalf("worklist %s: %d, has the caller %v, want %v: %s", stream, resp.StatusCode, queueEntry(q, a.ID) != nil, want, b)
					}
					if e := queueEntry(q, a.ID); want && (e.ClinicianDue == nil || !e.ClinicianDue.Equal(*a.ClinicianDue) || e.Then == nil) {
						t.Fatalf("worklist entry %+v", e)
					}
				}
				got := postAttendance(t, tc, "/v1/attendances/"+a.ID+"/confirm", `{"note":"called back: a cold"}`, doc)
				if got.Status != care.AttendanceRouted || got.Triage.Disposition.Dx != "Dx25" || got.Routing.Decision.ServiceID != "sc-online" {
					t.Fatalf("after the call-back: %s %+v", got.Status, got.Triage.Disposition)
				}
			},
		},
		{
			name: "(b2) the same caller referred with an NHS 111 Dx06: the call-back settles no lower than the Dx", hdr: nhs111,
			body: `{"complaint":"cough, lips feel odd","protocol":"cough-cold-sore-throat","channel":"nhs111","dx":{"code":"Dx06"},` +
				`"patient":{"postcode":"DY1 1AA"},"context":{"age_years":35,"sex":"female","pregnant":"no"}}`,
			answers: map[string]string{"screen.self_swelling": "not_sure", "screen.anaphylaxis_followup": "not_sure"},
			tier:    triage.GP, timeframe: triage.Within1h, dx: "Dx11", status: care.AttendanceAwaitingClinician, decidedBy: "clinician_first",
			stream: triage.StreamClinicianCallback, due: time.Hour,
			then: func(t *testing.T, a *care.Attendance) {
				got := postAttendance(t, tc, "/v1/attendances/"+a.ID+"/confirm", `{"note":"called back"}`, doc)
				if d := got.Triage.Disposition; got.Status != care.AttendanceRouted || d.Tier != triage.GP || d.Timeframe != triage.Within6h || d.Dx != "Dx06" {
					t.Fatalf("after the call-back: %s %+v, want the Dx06 floor (gp 6h)", got.Status, d)
				}
			},
		},
		{
			name: "(c) not responding, breathing not sure: treated as not breathing", body: cough("walk_in"), hdr: desk,
			answers: map[string]string{"screen.desk_responding": "yes", "screen.desk_unresponsive_breathing": "not_sure"},
			tier:    triage.ED, timeframe: triage.Immediate, dx: "Dx011", status: care.AttendanceRouted, decidedBy: "screen", service: "ed-castlegate",
		},
		{
			name: "(d) 9 weeks old by age in weeks, 38.0C: NG143 red", hdr: desk,
			body:    `{"complaint":"hot baby","protocol":"fever-under-5","patient":{"postcode":"DY1 1AA"},"context":{"age_weeks":9,"observations":{"temperature_c":38.0}}}`,
			answers: map[string]string{"age": "under_3_months", "infant_fever": "yes", "screen.infant_fever": "yes"},
			tier:    triage.ED, timeframe: triage.Within1h, dx: "Dx02", status: care.AttendanceRouted, service: "ed-castlegate",
			then: func(t *testing.T, a *care.Attendance) {
				if d := a.Triage.Session.Patient.AgeDays; d == nil || *d != 63 || a.Routing.Patient.AgeDays != 63 || !a.Routing.Patient.AgeKnown {
					t.Fatalf("engine age %v days, routing %d days: want 63", a.Triage.Session.Patient.AgeDays, a.Routing.Patient.AgeDays)
				}
				if ng := a.Triage.Session.Outcome.NG143; ng == nil || ng.Colour != triage.Red {
					t.Fatalf("NG143 %+v, want red", ng)
				}
			},
		},
		{
			name: "(e) 33 weeks pregnant, systolic 162 and a headache: maternity assessment now", hdr: desk,
			body: `{"complaint":"headache and blurred vision","protocol":"headache","patient":{"postcode":"DY1 1AA"},` +
				`"context":{"age_years":29,"sex":"female","pregnant":"yes","gestation_weeks":33,"observations":{"systolic_bp":162}}}`,
			answers: map[string]string{"screen.preeclampsia": "yes", "pregnant_late": "yes"},
			tier:    triage.ED, timeframe: triage.Immediate, dx: "Dx012", status: care.AttendanceRouted, decidedBy: "maternity_ng133",
			careNeed: "maternity", service: "mau-castlegate",
		},
		{
			name: "(f) two earlier contacts reported: a self-care cold is reviewed by a clinician", hdr: desk,
			body: `{"complaint":"cough","protocol":"cough-cold-sore-throat","patient":{"postcode":"DY1 1AA"},"context":{"age_years":35,"sex":"male",` +
				`"earlier_contacts":[{"service":"nhs111","hours_ago":30},{"service":"gp","hours_ago":20}]}}`,
			tier: triage.GP, timeframe: triage.Within2h, dx: "Dx05", status: care.AttendanceRouted, decidedBy: "repeat_contact",
			then: func(t *testing.T, a *care.Attendance) {
				if n := a.Triage.Session.Patient.PreviousContacts96h; n != 2 || a.Routing.Decision.Tier != "gp" {
					t.Fatalf("previous contacts %d, routed to %s", n, a.Routing.Decision.Tier)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := postAttendance(t, tc, "/v1/attendances", c.body, c.hdr)
			var firstFloor *care.Attendance // the first answer that set the clinician-first floor
			a = answerAll(t, tc, a, c.answers, c.hdr, func(x *care.Attendance) {
				if firstFloor == nil && x.Status == care.AttendanceAwaitingClinician {
					firstFloor = x
				}
			})
			d := a.Triage.Disposition
			if d == nil || d.Tier != c.tier || d.Timeframe != c.timeframe || d.Dx != c.dx || a.Status != c.status {
				t.Fatalf("%s %+v, want %s %s/%s/%s", a.Status, d, c.status, c.tier, c.timeframe, c.dx)
			}
			if c.decidedBy != "" && d.DecidedBy != c.decidedBy {
				t.Errorf("decided by %s, want %s", d.DecidedBy, c.decidedBy)
			}
			if c.careNeed != "" && !slices.Contains(d.CareNeeds, c.careNeed) {
				t.Errorf("care needs %v, want %s", d.CareNeeds, c.careNeed)
			}
			if c.service != "" && (a.Routing == nil || a.Routing.Decision.ServiceID != c.service) {
				t.Errorf("routed to %+v, want %s", a.Routing, c.service)
			}
			if c.stream != "" {
				if firstFloor == nil || len(firstFloor.Triage.Questions) == 0 || a.Routing != nil {
					t.Fatalf("the floor did not let the protocol go on, or the attendance was routed: %+v", firstFloor)
				}
				if d.ClinicianFirst == nil || d.ClinicianFirst.Stream != c.stream || a.ClinicianDue == nil {
					t.Fatalf("clinician first %+v, due %v", d.ClinicianFirst, a.ClinicianDue)
				}
				if want := statusAt(a, care.AttendanceAwaitingClinician).Add(c.due); !a.ClinicianDue.Equal(want) || !d.ClinicianFirst.Due.Equal(want) {
					t.Fatalf("clinician due %v, want %v (%v after the decision)", a.ClinicianDue, want, c.due)
				}
			}
			if c.then != nil {
				c.then(t, a)
			}
		})
	}
}

// TestClinicianFirstHeadsTheNonEmergencies: an attendance awaiting the
// clinician comes first among non-emergencies in the queue, with its
// clock, and its stream event carries the clock too.
func TestClinicianFirstHeadsTheNonEmergencies(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	gp := postAttendance(t, tc, "/v1/attendances", `{"complaint":"sore throat","channel":"nhs111","dx":{"code":"Dx05"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":40}}`, nhs111)
	ucr := postAttendance(t, tc, "/v1/attendances", `{"complaint":"fallen","channel":"nhs111","dx":{"code":"Dx9001"},"patient":{"postcode":"DY1 1AC"},"context":{"age_years":84,"flags":["usual_residence"]}}`, nhs111)
	ed := postAttendance(t, tc, "/v1/attendances", `{"complaint":"chest pain","channel":"nhs111","dx":{"code":"Dx03"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":60}}`, nhs111)
	a := postAttendance(t, tc, "/v1/attendances", `{"complaint":"cough","protocol":"cough-cold-sore-throat","context":{"age_years":35}}`, desk)
	a = answerStep(t, tc, a, map[string]string{"screen.desk_colour": "not_sure"}, desk)
	if a.Status != care.AttendanceAwaitingClinician || a.ClinicianDue == nil {
		t.Fatalf("after the desk form: %s due %v", a.Status, a.ClinicianDue)
	}
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	var order []string
	for _, e := range q.Entries {
		order = append(order, e.AttendanceID)
	}
	if want := []string{ed.ID, a.ID, ucr.ID, gp.ID}; !slices.Equal(order, want) {
		t.Fatalf("queue %v, want ED 4h, awaiting the clinician, rapid response, GP: %v", order, want)
	}
	if e := queueEntry(q, a.ID); e.Stream != triage.StreamClinicianNow || e.ClinicianDue == nil || !e.ClinicianDue.Equal(*a.ClinicianDue) ||
		len(e.Reasons) == 0 || e.Interim == nil {
		t.Fatalf("queue entry %+v", e)
	}
	resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/queue?stream=everyone", "", desk)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"stream"`) {
		t.Fatalf("unknown stream: %d %s", resp.StatusCode, b)
	}
	ev := lastQueueEvent(t, tc, a.ID, desk)
	if ev.Stream != triage.StreamClinicianNow || ev.ClinicianDue == nil || ev.Status != care.AttendanceAwaitingClinician {
		t.Fatalf("queue event %+v", ev)
	}
	// With questions still waiting there is no "then" to confirm yet; the
	// clinician may override as ever.
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, doc); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(string(b), "questions are not finished") {
		t.Fatalf("confirm with questions waiting: %d %s", resp.StatusCode, b)
	}
	got := postAttendance(t, tc, "/v1/attendances/"+a.ID+"/override", `{"tier":"gp","timeframe":"2h","reason":"seen: colour normal, a cold"}`, doc)
	if got.Status != care.AttendanceRouted || got.Triage.Disposition.Source != "override" || got.Routing == nil {
		t.Fatalf("override of a clinician-first floor: %s %+v", got.Status, got.Triage.Disposition)
	}
	// The questions finish with the same uncertainty on the path: the
	// clinician has assessed them, so it does not hold them again, and a
	// cold (self care) does not lower the override.
	got = answerAll(t, tc, got, nil, desk, nil)
	if d := got.Triage.Disposition; got.Status != care.AttendanceRouted || d.Tier != triage.GP || d.Timeframe != triage.Within2h || d.ClinicianFirst != nil {
		t.Fatalf("after the override the protocol ended at %s %+v", got.Status, d)
	}
}

// lastQueueEvent reads the queue stream from the start and returns the last
// event of attendance id.
func lastQueueEvent(t *testing.T, tc *nodetest.Cluster, id string, hdr map[string]string) care.QueueEvent {
	t.Helper()
	resp, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/queue/stream?last_event_id=1&max_seconds=1", "", hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue stream: %d %s", resp.StatusCode, b)
	}
	var last care.QueueEvent
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev care.QueueEvent
		if json.Unmarshal([]byte(data), &ev) == nil && ev.AttendanceID == id {
			last = ev
		}
	}
	return last
}

// TestClinicianFirstLapseRaisesOneAlert: a clinician-first floor nobody
// confirms raises exactly one alert once its clinician_due passes, checked
// against the FSM clock; acknowledged, it does not come back.
func TestClinicianFirstLapseRaisesOneAlert(t *testing.T) {
	tc, clk := newClockedCluster(t, 1, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	a := postAttendance(t, tc, "/v1/attendances", `{"complaint":"cough","protocol":"cough-cold-sore-throat","context":{"age_years":35}}`, desk)
	a = answerStep(t, tc, a, map[string]string{"screen.desk_fast": "not_sure"}, desk)
	if a.Status != care.AttendanceAwaitingClinician || a.ClinicianDue == nil {
		t.Fatalf("after the desk form: %s", a.Status)
	}
	lapsed := func() []care.Alert {
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/alerts?all=true", "", desk)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("alerts: %d %s", resp.StatusCode, b)
		}
		var body struct {
			Alerts []care.Alert `json:"alerts"`
		}
		nodetest.DecodeJSON(t, b, &body)
		var out []care.Alert
		for _, al := range body.Alerts {
			if al.Kind == care.AlertClinicianFirstLapsed && al.AttendanceID == a.ID {
				out = append(out, al)
			}
		}
		return out
	}
	time.Sleep(1500 * time.Millisecond) // the worker has looked at least once before the due time
	if n := len(lapsed()); n != 0 {
		t.Fatalf("%d lapse alerts before clinician_due", n)
	}
	clk.set(a.ClinicianDue.Add(time.Minute))
	postAttendance(t, tc, "/v1/attendances", `{"complaint":"moves the clock on"}`, desk)
	nodetest.Eventually(t, "the lapse alert", func() error {
		if len(lapsed()) != 1 {
			return fmt.Errorf("no alert yet")
		}
		return nil
	})
	time.Sleep(2500 * time.Millisecond) // more worker passes: still one
	als := lapsed()
	if len(als) != 1 || !als[0].Open || !strings.Contains(als[0].Message, "clinician now") {
		t.Fatalf("lapse alerts %+v, want exactly one, open", als)
	}
	got := getAttendanceFull(t, tc, a.ID)
	if !got.ClinicianLapsed || got.Status != care.AttendanceAwaitingClinician {
		t.Fatalf("attendance after the lapse: %s lapsed %v", got.Status, got.ClinicianLapsed)
	}
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/alerts/"+als[0].ID+"/ack", `{"note":"seen by Dr Patel"}`, desk); resp.StatusCode != http.StatusOK {
		t.Fatalf("ack: %d %s", resp.StatusCode, b)
	}
	time.Sleep(1500 * time.Millisecond)
	if als := lapsed(); len(als) != 1 || als[0].Open {
		t.Fatalf("after the acknowledgement: %+v", als)
	}
}

func getAttendanceFull(t *testing.T, tc *nodetest.Cluster, id string) *care.Attendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+id, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get attendance: %d %s", resp.StatusCode, b)
	}
	var a care.Attendance
	nodetest.DecodeJSON(t, b, &a)
	return &a
}

// fallAnswers walk an NHS 111 call about an 84-year-old on the floor at
// home to the urgent community response (falls, 2 hours).
var fallAnswers = map[string]string{"fallen": "yes", "hip": "no", "fall_collapse": "no", "head": "no", "injury": "no",
	"fall_need": "yes", "fall_at_home": "yes"}

// TestRapidResponseAsksWhereThePatientIs: a rapid response outcome with no
// postcode asks for it instead of falling back to ED, and is routed to the
// team as soon as it is given; a postcode no team covers falls back to ED
// with an alert.
func TestRapidResponseAsksWhereThePatientIs(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	cases := []struct {
		name     string
		postcode string
		service  string
		fallback bool
	}{
		{"postcode in the north team's catchment", "DY1 1AC", "ucr-north", false},
		{"postcode no team covers: ED, with an alert", "B1 1AA", "ed-castlegate", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := postAttendance(t, tc, "/v1/attendances", `{"complaint":"fallen, cannot get up","channel":"nhs111","protocol":"older-person-unwell-fallen","context":{"age_years":84,"sex":"female"}}`, nhs111)
			a = answerAll(t, tc, a, fallAnswers, nhs111, nil)
			d := a.Triage.Disposition
			if d == nil || d.Tier != triage.RapidResponse || d.Timeframe != triage.Within2h || d.Dx != "Dx9001" {
				t.Fatalf("disposition %+v, want rapid_response 2h Dx9001", d)
			}
			if a.Status != care.AttendanceAwaitingAddress || a.Routing != nil || !slices.Contains(a.AskingFor, "patient.postcode") {
				t.Fatalf("without a postcode: %s routed %+v asking for %v", a.Status, a.Routing, a.AskingFor)
			}
			_, q := queueEntries(t, tc, tc.Leader(t), desk)
			if e := queueEntry(q, a.ID); e == nil || !slices.Contains(e.AskingFor, "patient.postcode") {
				t.Fatalf("queue entry %+v", e)
			}
			a = postAttendance(t, tc, "/v1/attendances/"+a.ID+"/address",
				`{"postcode":"`+c.postcode+`","address":"12 Mill Lane","access_notes":"key safe 1234"}`, nhs111)
			if a.Status != care.AttendanceRouted || a.Routing == nil || a.Routing.Decision.ServiceID != c.service ||
				a.Routing.Decision.Fallback != c.fallback || len(a.AskingFor) != 0 || a.Dispatch == nil || a.Dispatch.Address != "12 Mill Lane" {
				t.Fatalf("after the address: %s %+v asking %v", a.Status, a.Routing, a.AskingFor)
			}
			resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/alerts", "", desk)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("alerts: %d", resp.StatusCode)
			}
			raised := strings.Contains(string(b), `"kind":"`+care.AlertRapidResponseFallback+`","attendance_id":"`+a.ID+`"`)
			if raised != c.fallback {
				t.Fatalf("fallback alert raised %v, want %v: %s", raised, c.fallback, b)
			}
		})
	}
}

// TestObservationsRaiseBeforeTheScreenIsFinished: observations recorded
// while the screen's questions remain are scored at once: NEWS2 5 raises
// the interim (the queue orders by it) and the response says so and why;
// the same observations again raise nothing new.
func TestObservationsRaiseBeforeTheScreenIsFinished(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	a := postAttendance(t, tc, "/v1/attendances", `{"complaint":"cough","protocol":"cough-cold-sore-throat","patient":{"postcode":"DY1 1AA"},"context":{"age_years":35,"sex":"male"}}`, desk)
	obs := `{"respiratory_rate":22,"spo2":95,"pulse":112,"systolic_bp":118}` // NEWS2 5
	cases := []struct {
		name   string
		raised bool
	}{
		{"NEWS2 5 before any answer: raised at once", true},
		{"the same again: nothing new", false},
	}
	for _, c := range cases {
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/observations", obs, doc)
		var got struct {
			care.Attendance
			Raised       bool   `json:"raised"`
			RaisedReason string `json:"raised_reason"`
		}
		nodetest.DecodeJSON(t, b, &got)
		if resp.StatusCode != http.StatusOK || got.Raised != c.raised {
			t.Fatalf("%s: %d raised %v: %s", c.name, resp.StatusCode, got.Raised, b)
		}
		in := got.Triage.Interim
		if len(got.Triage.Questions) == 0 || in == nil || in.Tier != triage.ED || in.Timeframe != triage.Within1h || in.Dx != "Dx02" || in.DecidedBy != "news2" {
			t.Fatalf("%s: interim %+v with %d questions waiting", c.name, in, len(got.Triage.Questions))
		}
		if c.raised && !strings.Contains(got.RaisedReason, "NEWS2 5") {
			t.Fatalf("%s: reason %q", c.name, got.RaisedReason)
		}
	}
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	if e := queueEntry(q, a.ID); e == nil || e.Priority != triage.Intensity(triage.ED, triage.Within1h) || e.Interim == nil {
		t.Fatalf("queue entry %+v: want the interim's ED 1h priority", e)
	}
	a = answerAll(t, tc, getAttendanceFull(t, tc, a.ID), nil, desk, nil)
	if d := a.Triage.Disposition; d == nil || d.Tier != triage.ED || d.Timeframe != triage.Within1h || d.Dx != "Dx02" || a.Triage.Interim != nil ||
		a.Routing.Decision.ServiceID != "ed-castlegate" {
		t.Fatalf("at the end: %+v interim %+v", d, a.Triage.Interim)
	}
}
