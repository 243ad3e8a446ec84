package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// fakeClock is the proposal clock of a test cluster: every node stamps
// commands with it, so the FSM clock (and so opening hours) is the test's.
// It only moves forward, as the FSM clock does.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // distinct, increasing stamps
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.t) {
		panic("fake clock set backwards")
	}
	c.t = t
}

// london parses a wall-clock time in Europe/London.
func londonTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, london)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// Monday 7 January 2030, 14:00 in London: a weekday afternoon, and later
// than any real clock the tests run on (the FSM clock never goes back).
const mondayAfternoon = "2030-01-07 14:00"

func newClockedCluster(t *testing.T, n int, start string) (*testCluster, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: londonTime(t, start)}
	tc := newTestClusterWith(t, n, func(cfg *Config) { cfg.Clock = clk.now })
	return tc, clk
}

// wfAttendance is the part of an attendance the workflow tests read.
type wfAttendance struct {
	ID      string `json:"id"`
	Index   uint64 `json:"index"`
	Status  string `json:"status"`
	Channel string `json:"channel"`
	Triage  *struct {
		SetKey    string `json:"set_key"`
		Questions []struct {
			ID      string   `json:"id"`
			Type    string   `json:"type"`
			Group   string   `json:"group"`
			Allowed []string `json:"allowed"`
		} `json:"questions"`
		Session *struct {
			Protocol string `json:"protocol"`
			Version  int    `json:"version"`
			Hash     string `json:"hash"`
		} `json:"session"`
		Disposition *cluster.Disposition `json:"disposition"`
		Review      string               `json:"review"`
	} `json:"triage"`
	Routing *struct {
		Decision struct {
			ServiceID string    `json:"service_id"`
			Tier      string    `json:"tier"`
			SeeFrom   time.Time `json:"see_from"`
			Fallback  bool      `json:"fallback"`
		} `json:"decision"`
		History []cluster.RouteChange `json:"history"`
	} `json:"routing"`
	Confirmations []cluster.Confirmation `json:"confirmations"`
}

func (a *wfAttendance) service() string {
	if a.Routing == nil {
		return ""
	}
	return a.Routing.Decision.ServiceID
}

// createAttendance posts an attendance and decodes it.
func createAttendance(t *testing.T, tc *testCluster, tn *testNode, body string, hdr map[string]string) wfAttendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodPost, "/v1/attendances", body, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create attendance: %d %s", resp.StatusCode, b)
	}
	var a wfAttendance
	decodeJSON(t, b, &a)
	return a
}

// walkTriage answers the questions the attendance asks, one step at a time:
// screen questions "no" (a number, such as the earlier contacts, 0) unless
// given, the presentation's from answers (a question missing there fails
// the test), until the outcome.
func walkTriage(t *testing.T, tc *testCluster, tn *testNode, a wfAttendance, answers map[string]string, hdr map[string]string) wfAttendance {
	t.Helper()
	for step := 0; step < 60; step++ {
		if a.Triage == nil {
			t.Fatalf("attendance %s has no triage", a.ID)
		}
		if len(a.Triage.Questions) == 0 {
			return a
		}
		var replies []string
		for _, q := range a.Triage.Questions {
			v, ok := answers[q.ID]
			if !ok {
				if !strings.HasPrefix(q.ID, "screen.") {
					t.Fatalf("step %d: unexpected question %s (allowed %v)", step, q.ID, q.Allowed)
				}
				v = "no"
				if q.Type == "number" {
					v = "0"
				}
			}
			replies = append(replies, fmt.Sprintf(`{"question":%q,"value":%q}`, q.ID, v))
		}
		resp, b := tc.DoRetry(t, tn, http.MethodPost, "/v1/attendances/"+a.ID+"/answers", `{"answers":[`+strings.Join(replies, ",")+`]}`, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("answers: %d %s", resp.StatusCode, b)
		}
		a = wfAttendance{}
		decodeJSON(t, b, &a)
	}
	t.Fatal("triage did not finish in 60 steps")
	return a
}

func getAttendanceWF(t *testing.T, tc *testCluster, tn *testNode, id string) wfAttendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/attendances/"+id+"?consistency=stale", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get attendance: %d %s", resp.StatusCode, b)
	}
	var a wfAttendance
	decodeJSON(t, b, &a)
	return a
}

var (
	utiWoman = map[string]string{"very_unwell": "no", "retention": "no", "catheter": "no", "upper_tract": "no",
		"visible_blood": "no", "ask_pregnant": "no", "recurrent": "no", "vaginal": "no"}
	utiMan = map[string]string{"very_unwell": "no", "retention": "no", "catheter": "no", "upper_tract": "no", "visible_blood": "no"}
)

const (
	utiWomanBody = `{"complaint":"burning when peeing","protocol":"urinary-symptoms","patient":{"postcode":"DY1 1AA"},"context":{"age_years":30,"sex":"female","pregnant":"no"}}`
	utiManBody   = `{"complaint":"burning when peeing","protocol":"urinary-symptoms","patient":{"postcode":"DY1 1AA"},"context":{"age_years":30,"sex":"male"}}`
)

// TestWorkflowAcceptance1 is issue 6 acceptance 1 on a 3-node cluster.
func TestWorkflowAcceptance1(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	doc := bearerHeader(tc.Key(t, cluster.RoleClinician, "Dr Patel"))

	t.Run("chest pain with red flags: ED immediate", func(t *testing.T) {
		a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"crushing chest pain","protocol":"chest-pain","context":{"age_years":58,"sex":"male"}}`, desk)
		if a.Status != cluster.AttendanceArrived || a.Triage == nil || len(a.Triage.Questions) == 0 || !strings.HasPrefix(a.Triage.Questions[0].ID, "screen.") {
			t.Fatalf("a new attendance starts with the life-threat screen: %+v", a)
		}
		a = walkTriage(t, tc, tc.Follower(t), a, map[string]string{"heavy_or_spreading": "yes"}, desk)
		d := a.Triage.Disposition
		if d == nil || d.Tier != "ed" || d.Timeframe != "immediate" || d.Dx != "Dx012" {
			t.Fatalf("disposition %+v, want ed immediate Dx012", d)
		}
		if a.service() != "ed-castlegate" || a.Status != cluster.AttendanceRouted {
			t.Fatalf("routed to %q status %s, want ed-castlegate routed", a.service(), a.Status)
		}
	})

	t.Run("woman of 30 with uncomplicated UTI, weekday afternoon: open pharmacy after confirmation", func(t *testing.T) {
		a := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
		a = walkTriage(t, tc, tc.Follower(t), a, utiWoman, desk)
		if d := a.Triage.Disposition; d == nil || d.Tier != "pharmacy" || d.Dx != "Dx28" {
			t.Fatalf("disposition %+v, want pharmacy Dx28", d)
		}
		// The nearest pharmacy offering Pharmacy First UTI, open Mon-Sat 09:00-18:00.
		if a.service() != "ph-high-street" || a.Status != cluster.AttendanceAwaitingConfirmation {
			t.Fatalf("routed to %q status %s, want ph-high-street awaiting confirmation", a.service(), a.Status)
		}
		if a.Routing.Decision.SeeFrom.After(londonTime(t, mondayAfternoon).Add(time.Minute)) {
			t.Fatalf("open now, yet see from %v", a.Routing.Decision.SeeFrom)
		}
		// Reception cannot confirm; a clinician does, once.
		if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, desk); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("reception confirm: %d %s", resp.StatusCode, b)
		}
		resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{"note":"UTI, no red flags"}`, doc)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("confirm: %d %s", resp.StatusCode, b)
		}
		decodeJSON(t, b, &a)
		if a.Status != cluster.AttendanceRouted || len(a.Confirmations) != 1 || a.Confirmations[0].By.Name != "Dr Patel" {
			t.Fatalf("after confirmation: %s %+v", a.Status, a.Confirmations)
		}
		if resp, _ := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, doc); resp.StatusCode != http.StatusConflict {
			t.Fatalf("second confirm: %d", resp.StatusCode)
		}
	})

	t.Run("a man with the same symptoms: not a pharmacy", func(t *testing.T) {
		a := createAttendance(t, tc, tc.Leader(t), utiManBody, desk)
		a = walkTriage(t, tc, tc.Leader(t), a, utiMan, desk)
		if a.Triage.Disposition == nil || a.Triage.Disposition.Tier == "pharmacy" || a.Routing == nil || a.Routing.Decision.Tier == "pharmacy" {
			t.Fatalf("man routed to %+v", a.Routing)
		}
	})

	t.Run("the same woman at 03:00", func(t *testing.T) {
		clk.set(londonTime(t, "2030-01-08 03:00")) // Tuesday night
		a := createAttendance(t, tc, tc.Follower(t), utiWomanBody, desk)
		a = walkTriage(t, tc, tc.Follower(t), a, utiWoman, desk)
		// Pharmacy First UTI has 24h. Every UTI pharmacy is closed at 03:00;
		// the first to open is ph-superstore (daily 07:00-02:00; ph-late-night
		// also opens at 07:00 but is further), not the nearest, ph-high-street
		// (09:00).
		if a.service() != "ph-superstore" {
			t.Fatalf("routed to %q, want ph-superstore", a.service())
		}
		if want := londonTime(t, "2030-01-08 07:00"); !a.Routing.Decision.SeeFrom.Equal(want) {
			t.Fatalf("see from %v, want %v (opening)", a.Routing.Decision.SeeFrom, want)
		}
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+a.ID+"/explain", "", doc)
		var ex explainBody
		decodeJSON(t, b, &ex)
		found := false
		for _, r := range ex.Routing.Considered {
			if r.ServiceID == "ph-high-street" {
				found = strings.Contains(r.Reason, "09:00")
			}
		}
		if resp.StatusCode != http.StatusOK || !found {
			t.Fatalf("the explanation does not say ph-high-street opens later: %+v", ex.Routing.Considered)
		}
		// The slip tells the patient where and when.
		resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+a.ID+"/slip", "", desk)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "clinician is checking") {
			t.Fatalf("slip before confirmation: %d %s", resp.StatusCode, b)
		}
		tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, doc)
		resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+a.ID+"/slip", "", desk)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "07:00") || !strings.Contains(string(b), "Pharmacy First") {
			t.Fatalf("slip: %d %s", resp.StatusCode, b)
		}
	})
}
