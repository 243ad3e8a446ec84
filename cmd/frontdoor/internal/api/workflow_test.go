package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
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

// api.London parses a wall-clock time in Europe/London.
func londonTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", s, api.London)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// Monday 7 January 2030, 14:00 in London: a weekday afternoon, and later
// than any real clock the tests run on (the FSM clock never goes back).
const mondayAfternoon = "2030-01-07 14:00"

func newClockedCluster(t *testing.T, n int, start string) (*nodetest.Cluster, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: londonTime(t, start)}
	tc := nodetest.NewWith(t, n, func(cfg *node.Config) { cfg.Clock = clk.now })
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
		Disposition *care.Disposition `json:"disposition"`
		Review      string            `json:"review"`
	} `json:"triage"`
	Routing *struct {
		Decision struct {
			ServiceID string    `json:"service_id"`
			Tier      string    `json:"tier"`
			SeeFrom   time.Time `json:"see_from"`
			Fallback  bool      `json:"fallback"`
		} `json:"decision"`
		History []care.RouteChange `json:"history"`
	} `json:"routing"`
	Confirmations []care.Confirmation `json:"confirmations"`
}

func (a *wfAttendance) service() string {
	if a.Routing == nil {
		return ""
	}
	return a.Routing.Decision.ServiceID
}

// createAttendance posts an attendance and decodes it.
func createAttendance(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, body string, hdr map[string]string) wfAttendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodPost, "/v1/attendances", body, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create attendance: %d %s", resp.StatusCode, b)
	}
	var a wfAttendance
	nodetest.DecodeJSON(t, b, &a)
	return a
}

// walkTriage answers the questions the attendance asks, one step at a time:
// screen questions "no" (a number, such as the earlier contacts, 0) unless
// given, the presentation's from answers (a question missing there fails
// the test), until the outcome.
func walkTriage(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, a wfAttendance, answers map[string]string, hdr map[string]string) wfAttendance {
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
		nodetest.DecodeJSON(t, b, &a)
	}
	t.Fatal("triage did not finish in 60 steps")
	return a
}

func getAttendanceWF(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, id string) wfAttendance {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/attendances/"+id+"?consistency=stale", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get attendance: %d %s", resp.StatusCode, b)
	}
	var a wfAttendance
	nodetest.DecodeJSON(t, b, &a)
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

// TestWorkflowEndToEnd: the attendance workflow end to end on a 3-node
// cluster: arrival, triage answers, outcome and routing, the queue.
func TestWorkflowEndToEnd(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))

	t.Run("chest pain with red flags: ED immediate", func(t *testing.T) {
		a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"crushing chest pain","protocol":"chest-pain","context":{"age_years":58,"sex":"male"}}`, desk)
		if a.Status != care.AttendanceArrived || a.Triage == nil || len(a.Triage.Questions) == 0 || !strings.HasPrefix(a.Triage.Questions[0].ID, "screen.") {
			t.Fatalf("a new attendance starts with the life-threat screen: %+v", a)
		}
		a = walkTriage(t, tc, tc.Follower(t), a, map[string]string{"heavy_or_spreading": "yes"}, desk)
		d := a.Triage.Disposition
		if d == nil || d.Tier != "ed" || d.Timeframe != "immediate" || d.Dx != "Dx012" {
			t.Fatalf("disposition %+v, want ed immediate Dx012", d)
		}
		if a.service() != "ed-castlegate" || a.Status != care.AttendanceRouted {
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
		if a.service() != "ph-high-street" || a.Status != care.AttendanceAwaitingConfirmation {
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
		nodetest.DecodeJSON(t, b, &a)
		if a.Status != care.AttendanceRouted || len(a.Confirmations) != 1 || a.Confirmations[0].By.Name != "Dr Patel" {
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
		var ex api.ExplainBody
		nodetest.DecodeJSON(t, b, &ex)
		found := false
		for _, r := range ex.Routing.Considered.All() {
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

// The workflow routes' sample requests for the role x route test
// (auth_test.go): each returns a request an allowed role can make
// successfully, creating a fresh attendance where the request consumes it.

var sampleVersion atomic.Int64

func workflowRouteSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	newAttendance := func(t *testing.T) string {
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", utiWomanBody, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("fixture attendance: %d %s", resp.StatusCode, b)
		}
		var a wfAttendance
		nodetest.DecodeJSON(t, b, &a)
		return a.ID
	}
	// newVersion is an upload body of chest-pain under a fresh version.
	newVersion := func(t *testing.T) (int, string) {
		src, err := protocolSource("chest-pain.yaml")
		if err != nil {
			t.Fatal(err)
		}
		v := 100 + int(sampleVersion.Add(1))
		i := strings.Index(src, "\nversion: ")
		j := i + 1 + strings.IndexByte(src[i+1:], '\n')
		body, _ := json.Marshal(map[string]string{"content": src[:i] + fmt.Sprintf("\nversion: %d", v) + src[j:]})
		return v, string(body)
	}
	fixed := newAttendance(t)
	static := func(path, body string) sampleFunc {
		return func(*testing.T) (string, string) { return path, body }
	}
	return map[string]sampleFunc{
		"GET /v1/protocols": static("/v1/protocols?q=chest", ""),
		"POST /v1/protocols": func(t *testing.T) (string, string) {
			_, body := newVersion(t)
			return "/v1/protocols", body
		},
		"POST /v1/protocols/:id/activate": func(t *testing.T) (string, string) {
			v, body := newVersion(t)
			if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/protocols", body, nil); resp.StatusCode != http.StatusCreated {
				t.Fatalf("fixture upload: %d %s", resp.StatusCode, b)
			}
			tc.WaitReady(t) // let the cluster settle before the request under test
			return "/v1/protocols/chest-pain/activate", fmt.Sprintf(`{"version":%d}`, v)
		},
		"POST /v1/attendances/:id/answers": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/answers", `{"question":"screen.desk_responding","value":"no"}`
		},
		"POST /v1/attendances/:id/observations": static("/v1/attendances/"+fixed+"/observations", `{"pulse":80}`),
		"POST /v1/attendances/:id/address":      static("/v1/attendances/"+fixed+"/address", `{"postcode":"DY1 1AA","address":"1 High Street"}`),
		"POST /v1/attendances/:id/confirm": func(t *testing.T) (string, string) {
			// A woman of 30 with an uncomplicated UTI, screen "no" as asked:
			// redirected to a pharmacy, awaiting a clinician's confirmation.
			id := newAttendance(t)
			a := walkTriage(t, tc, tc.Leader(t), getAttendanceWF(t, tc, tc.Leader(t), id), utiWoman, nil)
			if a.Status != care.AttendanceAwaitingConfirmation {
				t.Fatalf("fixture awaiting confirmation: %s %+v", a.Status, a.Triage.Disposition)
			}
			return "/v1/attendances/" + id + "/confirm", `{"note":"sample"}`
		},
		"POST /v1/attendances/:id/override": static("/v1/attendances/"+fixed+"/override", `{"tier":"gp","reason":"sample override"}`),
		"POST /v1/attendances/:id/status": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/status", `{"status":"called"}`
		},
		"POST /v1/attendances/:id/check-in": func(t *testing.T) (string, string) {
			resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"sent by 111","channel":"nhs111","expected":true,"dx":{"code":"Dx06"}}`, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("fixture expected attendance: %d %s", resp.StatusCode, b)
			}
			var a wfAttendance
			nodetest.DecodeJSON(t, b, &a)
			return "/v1/attendances/" + a.ID + "/check-in", ""
		},
		"GET /v1/attendances/:id/explain": static("/v1/attendances/"+fixed+"/explain", ""),
		"GET /v1/attendances/:id/slip":    static("/v1/attendances/"+fixed+"/slip", ""),
		"GET /v1/queue":                   static("/v1/queue", ""),
		"GET /v1/queue/stream":            static("/v1/queue/stream?max_seconds=1", ""),
	}
}

// TestWorkflowContention: 20 concurrent NHS 111
// bookings (Dx06, GP within 6 hours) for a GP service with 5 slots, sent
// to different nodes: exactly 5 get it, the others go to their next
// option, and every node lists the same allocations.
func TestWorkflowContention(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	// gp-ucc-stream's afternoon session (14:00-22:00) gets 5 slots.
	resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/services/gp-ucc-stream", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get service: %d %s", resp.StatusCode, b)
	}
	var svc routing.Service
	nodetest.DecodeJSON(t, b, &svc)
	for i := range svc.Sessions {
		if svc.Sessions[i].Start == "14:00" {
			svc.Sessions[i].Slots = 5
		}
	}
	put, _ := json.Marshal(&svc)
	if resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPut, "/v1/services/gp-ucc-stream", string(put), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("put service: %d %s", resp.StatusCode, b)
	}
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	const n = 20
	got := make([]wfAttendance, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"complaint":"sore throat and fever %d","channel":"nhs111","case_ref":"111-%04d","dx":{"code":"Dx06","symptom_group":"1000","discriminator":"4003"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":40,"sex":"female"}}`, i, i)
			tn := tc.Nodes[i%len(tc.Nodes)]
			resp, b, err := tc.Try(tn, http.MethodPost, "/v1/attendances", body, nhs111)
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Errorf("booking %d on %s: %v %v %s", i, tn.ID, err, resp, b)
				return
			}
			json.Unmarshal(b, &got[i])
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var onUCC []string
	for i, a := range got {
		if a.Routing == nil || a.Status != care.AttendanceRouted {
			t.Fatalf("booking %d not routed: %+v", i, a)
		}
		switch {
		case a.service() == "gp-ucc-stream":
			onUCC = append(onUCC, a.ID)
		case routing.Tier(a.Routing.Decision.Tier).Rank() < routing.TierGP.Rank():
			t.Fatalf("booking %d routed below GP: %+v", i, a.Routing.Decision)
		}
	}
	if len(onUCC) != 5 {
		t.Fatalf("%d bookings got gp-ucc-stream, want exactly 5", len(onUCC))
	}
	sort.Strings(onUCC)
	index := uint64(0)
	for _, a := range got {
		index = max(index, a.Index)
	}
	for _, tn := range tc.Nodes {
		nodetest.Eventually(t, tn.ID+" lists the allocations", func() error {
			if tn.N.Store().AppliedIndex() < index {
				return fmt.Errorf("applied %d < %d", tn.N.Store().AppliedIndex(), index)
			}
			resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/services/gp-ucc-stream/allocations?consistency=stale", "", nil)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%d %s", resp.StatusCode, b)
			}
			var l struct {
				Allocations []directory.SlotRecord `json:"allocations"`
			}
			nodetest.DecodeJSON(t, b, &l)
			var ids []string
			for _, r := range l.Allocations {
				ids = append(ids, r.AttendanceID)
			}
			sort.Strings(ids)
			if strings.Join(ids, ",") != strings.Join(onUCC, ",") {
				t.Fatalf("%s lists %v, want %v", tn.ID, ids, onUCC)
			}
			return nil
		})
	}
}

// TestWorkflowRisingNEWS2: observations after
// routing to a pharmacy raise NEWS2; the attendance is re-routed upward,
// the pharmacy slot is freed, and the queue shows it; lower observations
// later never route it down again.
func TestWorkflowRisingNEWS2(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	a := createAttendance(t, tc, tc.Follower(t), utiWomanBody, desk)
	a = walkTriage(t, tc, tc.Follower(t), a, utiWoman, desk)
	if a.service() != "ph-high-street" {
		t.Fatalf("routed to %q, want ph-high-street", a.service())
	}
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/confirm", `{}`, doc); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, b)
	}
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	before := queueEntry(q, a.ID)
	if before == nil || before.Tier != "pharmacy" || before.ServiceID != "ph-high-street" {
		t.Fatalf("queue before: %+v", before)
	}
	// Respiratory rate 26 (3), SpO2 91 (3), pulse 125 (2): NEWS2 8.
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/observations",
		`{"respiratory_rate":26,"spo2":91,"pulse":125,"systolic_bp":105,"consciousness":"alert","temperature_c":38.6}`, doc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("observations: %d %s", resp.StatusCode, b)
	}
	var up wfAttendance
	nodetest.DecodeJSON(t, b, &up)
	if up.Triage.Disposition.Tier != "ed" || up.service() != "ed-castlegate" || len(up.Routing.History) != 1 || up.Routing.History[0].ServiceID != "ph-high-street" {
		t.Fatalf("after rising NEWS2: %+v routing %+v", up.Triage.Disposition, up.Routing)
	}
	for _, tn := range tc.Nodes {
		nodetest.Eventually(t, tn.ID+" queue shows the re-routing", func() error {
			_, q := queueEntries(t, tc, tn, desk)
			e := queueEntry(q, a.ID)
			if e == nil || e.Tier != "ed" || e.ServiceID != "ed-castlegate" || e.Priority <= before.Priority {
				return fmt.Errorf("queue entry %+v", e)
			}
			if q.Entries[0].AttendanceID != a.ID {
				return fmt.Errorf("not first in the queue: %+v", q.Entries[0])
			}
			return nil
		})
	}
	// The pharmacy slot is free again.
	resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street/allocations", "", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), a.ID) {
		t.Fatalf("pharmacy allocations still hold %s: %s", a.ID, b)
	}
	// Normal observations later do not route it back down.
	resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/observations",
		`{"respiratory_rate":16,"spo2":98,"pulse":70,"systolic_bp":125,"consciousness":"alert","temperature_c":37.0}`, doc)
	var down wfAttendance
	nodetest.DecodeJSON(t, b, &down)
	if resp.StatusCode != http.StatusOK || down.service() != "ed-castlegate" || down.Triage.Disposition.Tier != "ed" {
		t.Fatalf("after normal observations: %d %+v", resp.StatusCode, down.Routing)
	}
	// The explanation tells the story.
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/attendances/"+a.ID+"/explain", "", doc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("explain: %d %s", resp.StatusCode, b)
	}
	var ex api.ExplainBody
	nodetest.DecodeJSON(t, b, &ex)
	if ex.Protocol == nil || ex.Protocol.ID != "urinary-symptoms" || ex.Protocol.Hash == "" || len(ex.Answers) == 0 ||
		ex.Answers[0].By.Name != "Desk 1" || ex.Scores.NEWS2 == nil || len(ex.Observations) != 2 || !ex.Observations[0].Raised ||
		ex.Decision.DecidedBy != "news2" || ex.Decision.TreeOutcome != "pharmacy_uti" || ex.Routing == nil ||
		len(ex.Routing.History) != 1 || ex.Routing.History[0].Rejections.Len() == 0 || len(ex.Confirmations) != 1 || len(ex.Audit) == 0 {
		t.Fatalf("explanation incomplete: %s", b)
	}
}

// stateHashes returns every running node's state hash and applied index.
func stateOf(t *testing.T, tc *nodetest.Cluster) string {
	t.Helper()
	var parts []string
	for _, tn := range tc.Running() {
		h, idx, err := tn.N.Store().StateHash()
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%s@%d/%d", tn.ID, h, idx, tn.N.Store().CommitIndex()))
	}
	return strings.Join(parts, " ")
}

// TestWorkflowBadInput: bad input to the workflow routes gets a
// 4xx problem naming the field, and neither the raft index nor the state
// hash changes.
func TestWorkflowBadInput(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	a := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	q := a.Triage.Questions[0].ID
	gone := createAttendance(t, tc, tc.Leader(t), `{"complaint":"fed up waiting"}`, desk)
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+gone.ID+"/status", `{"status":"left"}`, desk); resp.StatusCode != http.StatusOK {
		t.Fatalf("left: %d %s", resp.StatusCode, b)
	}
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		field            string
	}{
		{"malformed JSON", "/v1/attendances/" + a.ID + "/answers", `{"answers":[`, desk, 400, ""},
		{"unknown field", "/v1/attendances/" + a.ID + "/answers", `{"answers":[],"mood":"fine"}`, desk, 422, "mood"},
		{"answer outside the allowed values", "/v1/attendances/" + a.ID + "/answers", `{"answers":[{"question":"` + q + `","value":"maybe"}]}`, desk, 422, "answers[0]"},
		{"unknown question", "/v1/attendances/" + a.ID + "/answers", `{"question":"favourite_colour","value":"blue"}`, desk, 422, "answers[0]"},
		{"no answers", "/v1/attendances/" + a.ID + "/answers", `{}`, desk, 422, "answers"},
		{"override without a reason", "/v1/attendances/" + a.ID + "/override", `{"tier":"ed"}`, doc, 422, "reason"},
		{"override to an unknown tier", "/v1/attendances/" + a.ID + "/override", `{"tier":"hospital","reason":"x"}`, doc, 422, "tier"},
		{"invalid NHS number", "/v1/attendances", `{"complaint":"x","protocol":"urinary-symptoms","patient":{"nhs_number":"9434765911"}}`, desk, 422, "patient.nhs_number"},
		{"unknown protocol", "/v1/attendances", `{"complaint":"x","protocol":"toothache-deluxe"}`, desk, 422, "protocol"},
		{"protocol not for this age", "/v1/attendances", `{"complaint":"x","protocol":"fever-under-5","context":{"age_years":40}}`, desk, 422, "protocol"},
		{"bad triage context", "/v1/attendances", `{"complaint":"x","protocol":"chest-pain","context":{"sex":"other"}}`, desk, 422, "context.sex"},
		{"malformed Dx", "/v1/attendances", `{"complaint":"x","channel":"nhs111","dx":{"code":"DX-6"}}`, desk, 422, "dx.code"},
		{"implausible observation", "/v1/attendances/" + a.ID + "/observations", `{"spo2":140}`, doc, 422, "observations.spo2"},
		{"observation of the wrong type", "/v1/attendances/" + a.ID + "/observations", `{"pulse":"fast"}`, doc, 422, "pulse"},
		{"unknown status", "/v1/attendances/" + a.ID + "/status", `{"status":"teleported"}`, desk, 422, "status"},
		{"confirm with nothing to confirm", "/v1/attendances/" + a.ID + "/confirm", `{}`, doc, 409, ""},
		{"answers for no such attendance", "/v1/attendances/nope/answers", `{"question":"x","value":"y"}`, desk, 404, ""},
		{"activate no version", "/v1/protocols/chest-pain/activate", `{"version":0}`, nil, 422, "version"},
		{"observations after the patient left", "/v1/attendances/" + gone.ID + "/observations", `{"pulse":80}`, doc, 409, ""},
		{"status of a patient who left", "/v1/attendances/" + gone.ID + "/status", `{"status":"seen"}`, desk, 409, ""},
		{"check-in of a walk-in", "/v1/attendances/" + a.ID + "/check-in", ``, desk, 409, ""},
		{"two ages", "/v1/attendances", `{"complaint":"x","protocol":"fever-under-5","context":{"age_years":0,"age_weeks":9}}`, desk, 422, "context.age_weeks"},
		{"age in weeks below 0", "/v1/attendances", `{"complaint":"x","protocol":"fever-under-5","context":{"age_weeks":-1}}`, desk, 422, "context.age_weeks"},
		{"gestation when not pregnant", "/v1/attendances", `{"complaint":"x","protocol":"headache","context":{"pregnant":"no","gestation_weeks":33}}`, desk, 422, "context.gestation_weeks"},
		{"diastolic out of range", "/v1/attendances", `{"complaint":"x","protocol":"headache","context":{"observations":{"diastolic_bp":250}}}`, desk, 422, "context.observations.diastolic_bp"},
		{"unknown flag", "/v1/attendances", `{"complaint":"x","protocol":"headache","context":{"flags":["frail"]}}`, desk, 422, "context.flags[0]"},
		{"earlier contact with an unknown service", "/v1/attendances", `{"complaint":"x","protocol":"headache","context":{"earlier_contacts":[{"service":"pharmacy","hours_ago":3}]}}`, desk, 422, "context.earlier_contacts[0].service"},
		{"earlier contact too long ago", "/v1/attendances", `{"complaint":"x","protocol":"headache","context":{"earlier_contacts":[{"service":"gp","hours_ago":100}]}}`, desk, 422, "context.earlier_contacts[0].hours_ago"},
		{"diastolic observation out of range", "/v1/attendances/" + a.ID + "/observations", `{"diastolic_bp":10}`, doc, 422, "observations.diastolic_bp"},
		{"address without a postcode", "/v1/attendances/" + a.ID + "/address", `{"address":"1 High Street"}`, desk, 422, "postcode"},
		{"address with a bad postcode", "/v1/attendances/" + a.ID + "/address", `{"postcode":"nowhere"}`, desk, 422, "postcode"},
	}
	// settled is the cluster's state once every node holds the same one
	// (hash and index), as one string to compare.
	settled := func() string {
		var s string
		nodetest.Eventually(t, "every node at the same state", func() error {
			s = stateOf(t, tc)
			var first string
			for _, part := range strings.Fields(s) {
				_, v, _ := strings.Cut(part, "=")
				if first == "" {
					first = v
				} else if v != first {
					return fmt.Errorf("%s", s)
				}
			}
			return nil
		})
		return s
	}
	before := settled()
	for _, c := range cases {
		for _, tn := range tc.Nodes {
			resp, b := tc.DoRetry(t, tn, http.MethodPost, c.path, c.body, c.hdr)
			if resp.StatusCode != c.status {
				t.Errorf("%s on %s: %d %s, want %d", c.name, tn.ID, resp.StatusCode, b, c.status)
				continue
			}
			var p api.Problem
			nodetest.DecodeJSON(t, b, &p)
			if _, ok := p.Errors[c.field]; c.field != "" && !ok {
				t.Errorf("%s: problem does not name %s: %s", c.name, c.field, b)
			}
			if c.field == "answers[0]" && c.name == "answer outside the allowed values" && !strings.Contains(p.Errors[c.field], "allowed: yes, no, not_sure") {
				t.Errorf("%s: allowed values not named: %s", c.name, b)
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // anything proposed would have applied by now
	if after := settled(); after != before {
		t.Fatalf("refused requests changed the cluster:\nbefore %s\nafter  %s", before, after)
	}
}

// TestWorkflowQuorumLoss: with 2 of 3 nodes down the survivor still
// serves the queue, marked stale, while its key lease lasts, and refuses
// writes with 503; once the lease has run out with no leader to renew it
// (a revocation could have been acknowledged by a majority it cannot
// see), it refuses every key with a 503 and Retry-After too.
func TestWorkflowQuorumLoss(t *testing.T) {
	clk := &fakeClock{t: londonTime(t, mondayAfternoon)}
	tc := nodetest.NewWith(t, 3, func(cfg *node.Config) { cfg.Clock = clk.now; cfg.KeyLease = 4 * time.Second })
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	a := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	survivor := tc.Follower(t)
	// The survivor must hold the attendance itself: its queue answering is
	// not enough, as a key it has not applied yet is forwarded to the leader.
	tc.WaitCaughtUp(t, survivor)
	if _, q := queueEntries(t, tc, survivor, desk); q.Stale || queueEntry(q, a.ID) == nil {
		t.Fatalf("survivor's queue before the loss: %+v", q)
	}
	if _, b := tc.Do(t, survivor, http.MethodGet, "/metrics", "", nil); !strings.Contains(string(b), "\nfrontdoor_key_lease_valid 1\n") {
		t.Fatalf("the survivor's metrics do not show its lease:\n%s", b)
	}
	for _, tn := range tc.Running() {
		if tn != survivor {
			tc.Kill(t, tn.Index)
		}
	}
	nodetest.Eventually(t, "survivor serves a stale queue", func() error {
		resp, q := queueEntries(t, tc, survivor, desk)
		if !q.Stale || resp.Header.Get(api.HeaderStale) != "true" {
			return fmt.Errorf("not marked stale: %+v", q)
		}
		if queueEntry(q, a.ID) == nil {
			return fmt.Errorf("attendance missing from the stale queue")
		}
		return nil
	})
	for _, w := range []struct{ path, body string }{
		{"/v1/attendances", `{"complaint":"cut finger"}`},
		{"/v1/attendances/" + a.ID + "/answers", `{"question":"screen.desk_responding","value":"no"}`},
		{"/v1/attendances/" + a.ID + "/status", `{"status":"left"}`},
	} {
		resp, b := tc.Do(t, survivor, http.MethodPost, w.path, w.body, desk)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("write %s without quorum: %d %s", w.path, resp.StatusCode, b)
		}
	}
	nodetest.Eventually(t, "survivor refuses keys once its lease is out", func() error {
		resp, b := tc.Do(t, survivor, http.MethodGet, "/v1/queue", "", desk)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			return fmt.Errorf("queue: %d %s", resp.StatusCode, b)
		}
		return nil
	})
	if _, b := tc.Do(t, survivor, http.MethodGet, "/metrics", "", nil); !strings.Contains(string(b), "\nfrontdoor_key_lease_valid 0\n") {
		t.Fatalf("the survivor's metrics do not show its lease out:\n%s", b)
	}
}

// TestWorkflowExpectedCheckIn: NHS 111 announces a patient (expected); they
// are triaged and routed at once but join the queue only when reception
// checks them in, and their wait counts from then.
func TestWorkflowExpectedCheckIn(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"walk-in","expected":true}`, desk); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"expected"`) {
		t.Fatalf("a walk-in announced: %d %s", resp.StatusCode, b)
	}
	a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"sore throat","channel":"nhs111","case_ref":"111-77","expected":true,"dx":{"code":"Dx06"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":40}}`, nhs111)
	if a.Status != care.AttendanceExpected || a.service() == "" {
		t.Fatalf("announced attendance: %s routed to %q", a.Status, a.service())
	}
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	if queueEntry(q, a.ID) != nil || len(q.Expected) != 1 || q.Expected[0].AttendanceID != a.ID {
		t.Fatalf("expected patient in the queue or missing from expected: %+v", q)
	}
	if resp, _ := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/check-in", "", nhs111); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("111 checking in: %d", resp.StatusCode)
	}
	clk.set(londonTime(t, "2030-01-07 15:30"))
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/check-in", "", desk)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("check-in: %d %s", resp.StatusCode, b)
	}
	var in struct {
		wfAttendance
		CheckedInAt *time.Time          `json:"checked_in_at"`
		Timeline    []care.StatusChange `json:"timeline"`
	}
	nodetest.DecodeJSON(t, b, &in)
	if in.Status != care.AttendanceRouted || in.CheckedInAt == nil || in.Timeline[0].Status != care.AttendanceExpected ||
		in.Timeline[len(in.Timeline)-1].Status != care.AttendanceRouted {
		t.Fatalf("after check-in: %s %+v", in.Status, in.Timeline)
	}
	if resp, _ := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+a.ID+"/check-in", "", desk); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second check-in: %d", resp.StatusCode)
	}
	_, q = queueEntries(t, tc, tc.Leader(t), desk)
	if e := queueEntry(q, a.ID); e == nil || len(q.Expected) != 0 || e.WaitingMinutes > 1 {
		t.Fatalf("after check-in the queue has %+v (expected %d)", e, len(q.Expected))
	}
}

// TestWorkflowUnnamedCollapseTriagedFirstNamedLater is the workflow half of
// "triage first, identity second": a collapsed patient with no name is screened and
// sent to a clinician at once; identity follows, and the triage, routing
// and queue place stay as they were.
func TestWorkflowUnnamedCollapseTriagedFirstNamedLater(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"collapsed in the waiting room","protocol":"palpitations-dizziness-collapse"}`, desk)
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/answers",
		`{"answers":[{"question":"screen.desk_responding","value":"yes"},{"question":"screen.desk_unresponsive_breathing","value":"no"}]}`, desk)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answers: %d %s", resp.StatusCode, b)
	}
	nodetest.DecodeJSON(t, b, &a)
	if d := a.Triage.Disposition; d == nil || d.Tier != "ed" || d.Timeframe != "immediate" || a.service() != "ed-castlegate" {
		t.Fatalf("unconscious: %+v -> %q", d, a.service())
	}
	resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/patients",
		`{"given_name":"Alex","family_name":"Unwin","date_of_birth":"1961-03-04","sex":"male","postcode":"DY1 1AA","confirm_new":true}`, desk)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("patient: %d %s", resp.StatusCode, b)
	}
	var p struct {
		ID string `json:"id"`
	}
	nodetest.DecodeJSON(t, b, &p)
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/patient", `{"patient_id":"`+p.ID+`"}`, desk)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("link: %d %s", resp.StatusCode, b)
	}
	named := getAttendanceWF(t, tc, tc.Leader(t), a.ID)
	if named.service() != "ed-castlegate" || named.Triage.Disposition.Tier != "ed" || named.Status != a.Status {
		t.Fatalf("naming changed the triage: %+v", named)
	}
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	if e := queueEntry(q, a.ID); e == nil || e.Name != "Alex Unwin" || q.Entries[0].AttendanceID != a.ID {
		t.Fatalf("queue after naming: %+v", q.Entries)
	}
}
