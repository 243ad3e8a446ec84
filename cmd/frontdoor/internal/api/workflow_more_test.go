package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/protocols"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestWorkflowContention is issue 6 acceptance 3: 20 concurrent NHS 111
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
	decodeJSON(t, b, &svc)
	for i := range svc.Sessions {
		if svc.Sessions[i].Start == "14:00" {
			svc.Sessions[i].Slots = 5
		}
	}
	put, _ := json.Marshal(&svc)
	if resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPut, "/v1/services/gp-ucc-stream", string(put), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("put service: %d %s", resp.StatusCode, b)
	}
	nhs111 := bearerHeader(tc.Key(t, cluster.RoleNHS111, "111 system"))
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
		if a.Routing == nil || a.Status != cluster.AttendanceRouted {
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
		eventually(t, tn.ID+" lists the allocations", func() error {
			if tn.N.Store().AppliedIndex() < index {
				return fmt.Errorf("applied %d < %d", tn.N.Store().AppliedIndex(), index)
			}
			resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/services/gp-ucc-stream/allocations?consistency=stale", "", nil)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%d %s", resp.StatusCode, b)
			}
			var l struct {
				Allocations []cluster.SlotRecord `json:"allocations"`
			}
			decodeJSON(t, b, &l)
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

// queueEntries reads GET /v1/queue on a node.
func queueEntries(t *testing.T, tc *testCluster, tn *testNode, hdr map[string]string) (*http.Response, queueBody) {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/queue", "", hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue on %s: %d %s", tn.ID, resp.StatusCode, b)
	}
	var q queueBody
	decodeJSON(t, b, &q)
	return resp, q
}

func queueEntry(q queueBody, id string) *cluster.QueueEntry {
	for i := range q.Entries {
		if q.Entries[i].AttendanceID == id {
			return &q.Entries[i]
		}
	}
	return nil
}

// TestWorkflowRisingNEWS2 is issue 6 acceptance 4: observations after
// routing to a pharmacy raise NEWS2; the attendance is re-routed upward,
// the pharmacy slot is freed, and the queue shows it; lower observations
// later never route it down again.
func TestWorkflowRisingNEWS2(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	doc := bearerHeader(tc.Key(t, cluster.RoleClinician, "Dr Patel"))
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
	decodeJSON(t, b, &up)
	if up.Triage.Disposition.Tier != "ed" || up.service() != "ed-castlegate" || len(up.Routing.History) != 1 || up.Routing.History[0].ServiceID != "ph-high-street" {
		t.Fatalf("after rising NEWS2: %+v routing %+v", up.Triage.Disposition, up.Routing)
	}
	for _, tn := range tc.Nodes {
		eventually(t, tn.ID+" queue shows the re-routing", func() error {
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
	decodeJSON(t, b, &down)
	if resp.StatusCode != http.StatusOK || down.service() != "ed-castlegate" || down.Triage.Disposition.Tier != "ed" {
		t.Fatalf("after normal observations: %d %+v", resp.StatusCode, down.Routing)
	}
	// The explanation tells the story.
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/attendances/"+a.ID+"/explain", "", doc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("explain: %d %s", resp.StatusCode, b)
	}
	var ex explainBody
	decodeJSON(t, b, &ex)
	if ex.Protocol == nil || ex.Protocol.ID != "urinary-symptoms" || ex.Protocol.Hash == "" || len(ex.Answers) == 0 ||
		ex.Answers[0].By.Name != "Desk 1" || ex.Scores.NEWS2 == nil || len(ex.Observations) != 2 || !ex.Observations[0].Raised ||
		ex.Decision.DecidedBy != "news2" || ex.Decision.TreeOutcome != "pharmacy_uti" || ex.Routing == nil ||
		len(ex.Routing.History) != 1 || len(ex.Routing.History[0].Rejections) == 0 || len(ex.Confirmations) != 1 || len(ex.Audit) == 0 {
		t.Fatalf("explanation incomplete: %s", b)
	}
}

// stateHashes returns every running node's state hash and applied index.
func stateOf(t *testing.T, tc *testCluster) string {
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

// TestWorkflowBadInput is issue 6 acceptance 6 for the workflow routes: a
// 4xx problem naming the field, and neither the raft index nor the state
// hash changes.
func TestWorkflowBadInput(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	doc := bearerHeader(tc.Key(t, cluster.RoleClinician, "Dr Patel"))
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
		eventually(t, "every node at the same state", func() error {
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
			var p Problem
			decodeJSON(t, b, &p)
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

// TestWorkflowQuorumLoss is issue 6 acceptance 7: with 2 of 3 nodes down
// the survivor still serves the queue, marked stale, and refuses writes
// with 503.
func TestWorkflowQuorumLoss(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	a := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	lead := tc.Leader(t)
	survivor := tc.Follower(t)
	eventually(t, "survivor has the attendance", func() error {
		_, q := queueEntries(t, tc, survivor, desk)
		if q.Stale || queueEntry(q, a.ID) == nil {
			return fmt.Errorf("queue %+v", q)
		}
		return nil
	})
	for _, tn := range tc.Running() {
		if tn != survivor {
			tc.Kill(t, tn.Index)
		}
	}
	_ = lead
	eventually(t, "survivor serves a stale queue", func() error {
		resp, q := queueEntries(t, tc, survivor, desk)
		if !q.Stale || resp.Header.Get(headerStale) != "true" {
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
}

// TestWorkflowQueueStream: the SSE feed carries queue changes with raft
// indexes as ids and resumes after Last-Event-ID without loss.
func TestWorkflowQueueStream(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	tn := tc.Follower(t)
	a1 := createAttendance(t, tc, tn, utiWomanBody, desk)
	a1 = walkTriage(t, tc, tn, a1, utiWoman, desk)
	if a1.service() != "ph-high-street" {
		t.Fatalf("a1 routed to %q", a1.service())
	}
	read := func(last uint64, want int) []cluster.QueueEvent {
		req, _ := http.NewRequest(http.MethodGet, tn.URL+"/v1/queue/stream", nil)
		req.Header.Set("Authorization", desk["Authorization"])
		req.Header.Set("Last-Event-ID", fmt.Sprint(last))
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var out []cluster.QueueEvent
		sc := bufio.NewScanner(resp.Body)
		id := ""
		for sc.Scan() && len(out) < want {
			line := sc.Text()
			switch {
			case line == "":
				id = "" // end of an event block
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: ") && strings.Contains(line, "attendance_id"):
				var ev cluster.QueueEvent
				decodeJSON(t, []byte(strings.TrimPrefix(line, "data: ")), &ev)
				if id != "" && fmt.Sprint(ev.Index) != id {
					t.Fatalf("event id %s, index %d", id, ev.Index)
				}
				out = append(out, ev)
			}
		}
		return out
	}
	evs := read(a1.Index-1, 1)
	if len(evs) != 1 || evs[0].AttendanceID != a1.ID || evs[0].Index != a1.Index || !evs[0].InQueue || evs[0].ServiceID != "ph-high-street" {
		t.Fatalf("first event %+v", evs)
	}
	// Two more changes while nobody listens; resuming from the first id
	// delivers both, in order.
	a2 := createAttendance(t, tc, tc.Leader(t), utiManBody, desk)
	resp, b := tc.DoRetry(t, tn, http.MethodPost, "/v1/attendances/"+a1.ID+"/status", `{"status":"left"}`, desk)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	// Leaving freed the slot a1 held at the pharmacy.
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street/allocations", "", nil); resp.StatusCode != http.StatusOK || strings.Contains(string(b), a1.ID) {
		t.Fatalf("slot of a departed patient still held: %d %s", resp.StatusCode, b)
	}
	evs = read(evs[0].Index, 2)
	if len(evs) != 2 || evs[0].AttendanceID != a2.ID || evs[1].AttendanceID != a1.ID || evs[1].Status != cluster.AttendanceLeft || evs[1].InQueue {
		t.Fatalf("resumed events %+v", evs)
	}
}

// TestWorkflowProtocolVersions: an upload is linted (file:line problems),
// activation is deliberate, and an attendance in progress keeps the version
// it started with.
func TestWorkflowProtocolVersions(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/protocols?q=burning+pee", "", desk)
	var list protocolList
	decodeJSON(t, b, &list)
	if resp.StatusCode != http.StatusOK || list.Search == nil || len(*list.Search) == 0 || (*list.Search)[0].ID != "urinary-symptoms" || len(list.Protocols) < 20 {
		t.Fatalf("search: %d %s", resp.StatusCode, b)
	}
	old := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	src, err := protocolSource("urinary-symptoms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var oldVersion int
	fmt.Sscanf(src[strings.Index(src, "\nversion: ")+1:], "version: %d", &oldVersion)
	newSrc := strings.Replace(src, fmt.Sprintf("\nversion: %d\n", oldVersion), fmt.Sprintf("\nversion: %d\n", oldVersion+1), 1)
	newSrc = strings.Replace(newSrc, "\ntitle: ", "\ntitle: Revised ", 1)
	// A broken file is refused with file:line errors and changes nothing.
	broken := strings.Replace(newSrc, "    tier: pharmacy\n", "    tier: chemist\n", 1)
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", broken, map[string]string{"Content-Type": "application/yaml"})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "urinary-symptoms.yaml:") {
		t.Fatalf("broken upload: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", newSrc, map[string]string{"Content-Type": "application/yaml"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	if resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", newSrc, map[string]string{"Content-Type": "application/yaml"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second upload of the same version: %d %s", resp.StatusCode, b)
	}
	// Uploaded, not active: new attendances still start on the old version.
	mid := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	if mid.Triage.Session.Version != oldVersion {
		t.Fatalf("upload activated by itself: version %d", mid.Triage.Session.Version)
	}
	resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/protocols/urinary-symptoms/activate", fmt.Sprintf(`{"version":%d}`, oldVersion+1), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("activate: %d %s", resp.StatusCode, b)
	}
	fresh := createAttendance(t, tc, tc.Follower(t), utiWomanBody, desk)
	if fresh.Triage.Session.Version != oldVersion+1 || fresh.Triage.Session.Hash == old.Triage.Session.Hash {
		t.Fatalf("new attendance on version %d", fresh.Triage.Session.Version)
	}
	// The attendance in progress finishes on its own version.
	done := walkTriage(t, tc, tc.Leader(t), old, utiWoman, desk)
	if done.Triage.Session.Version != oldVersion || done.Triage.Session.Hash != old.Triage.Session.Hash || done.service() != "ph-high-street" {
		t.Fatalf("attendance in progress: version %d service %s", done.Triage.Session.Version, done.service())
	}
}

// protocolSource is an embedded protocol file's text.
func protocolSource(name string) (string, error) {
	b, ok := protocols.Files()[name]
	if !ok {
		return "", fmt.Errorf("no embedded %s", name)
	}
	return string(b), nil
}

// TestWorkflowQueueOrderAndIdempotency: the queue orders by clinical
// priority then arrival and flags waits over 4 hours; a retried answer with
// the same Idempotency-Key returns the first result and records nothing new.
func TestWorkflowQueueOrderAndIdempotency(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	first := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk) // arrives first, not yet triaged
	chest := createAttendance(t, tc, tc.Follower(t), `{"complaint":"chest pain","protocol":"chest-pain","context":{"age_years":58,"sex":"male"}}`, desk)
	chest = walkTriage(t, tc, tc.Follower(t), chest, map[string]string{"heavy_or_spreading": "yes"}, desk)
	gp := createAttendance(t, tc, tc.Leader(t), `{"complaint":"sore throat","channel":"nhs111","dx":{"code":"Dx06"},"context":{"age_years":40}}`, desk)

	// Idempotent retry of an answer.
	hdr := map[string]string{"Authorization": desk["Authorization"], "Idempotency-Key": "answer-1"}
	body := `{"question":"screen.desk_responding","value":"no"}`
	resp1, b1 := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+first.ID+"/answers", body, hdr)
	resp2, b2 := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+first.ID+"/answers", body, hdr)
	if resp1.StatusCode != http.StatusOK || resp2.StatusCode != http.StatusOK || string(b1) != string(b2) {
		t.Fatalf("idempotent retry: %d %s / %d %s", resp1.StatusCode, b1, resp2.StatusCode, b2)
	}
	var ex explainBody
	_, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+first.ID+"/explain", "", nil)
	decodeJSON(t, b, &ex)
	if len(ex.Answers) != 1 {
		t.Fatalf("a replayed answer was recorded again: %d answers", len(ex.Answers))
	}
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances/"+first.ID+"/answers", `{"question":"screen.desk_responding","value":"yes"}`, hdr); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("same key, different body: %d %s", resp.StatusCode, b)
	}

	// Five hours later (any write moves the FSM clock on).
	clk.set(londonTime(t, "2030-01-07 19:01"))
	createAttendance(t, tc, tc.Leader(t), `{"complaint":"late arrival"}`, desk)
	_, q := queueEntries(t, tc, tc.Leader(t), desk)
	var order []string
	for _, e := range q.Entries {
		order = append(order, e.AttendanceID)
	}
	if len(order) != 4 || order[0] != chest.ID || order[1] != gp.ID || order[2] != first.ID {
		t.Fatalf("queue order %v, want chest pain (ed), Dx06 (gp), then untriaged by arrival", order)
	}
	if e := queueEntry(q, chest.ID); !e.Over4h || e.WaitingMinutes < 300 {
		t.Fatalf("5 hours of waiting not flagged: %+v", e)
	}
	if e := q.Entries[3]; e.Over4h {
		t.Fatalf("a new arrival flagged over 4h: %+v", e)
	}
}

// TestWorkflowExpectedCheckIn: NHS 111 announces a patient (expected); they
// are triaged and routed at once but join the queue only when reception
// checks them in, and their wait counts from then.
func TestWorkflowExpectedCheckIn(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	nhs111 := bearerHeader(tc.Key(t, cluster.RoleNHS111, "111 system"))
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"walk-in","expected":true}`, desk); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"expected"`) {
		t.Fatalf("a walk-in announced: %d %s", resp.StatusCode, b)
	}
	a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"sore throat","channel":"nhs111","case_ref":"111-77","expected":true,"dx":{"code":"Dx06"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":40}}`, nhs111)
	if a.Status != cluster.AttendanceExpected || a.service() == "" {
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
		CheckedInAt *time.Time             `json:"checked_in_at"`
		Timeline    []cluster.StatusChange `json:"timeline"`
	}
	decodeJSON(t, b, &in)
	if in.Status != cluster.AttendanceRouted || in.CheckedInAt == nil || in.Timeline[0].Status != cluster.AttendanceExpected ||
		in.Timeline[len(in.Timeline)-1].Status != cluster.AttendanceRouted {
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
// issue 6 acceptance 2: a collapsed patient with no name is screened and
// sent to a clinician at once; identity follows, and the triage, routing
// and queue place stay as they were.
func TestWorkflowUnnamedCollapseTriagedFirstNamedLater(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	a := createAttendance(t, tc, tc.Follower(t), `{"complaint":"collapsed in the waiting room","protocol":"palpitations-dizziness-collapse"}`, desk)
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+a.ID+"/answers",
		`{"answers":[{"question":"screen.desk_responding","value":"yes"},{"question":"screen.desk_unresponsive_breathing","value":"no"}]}`, desk)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answers: %d %s", resp.StatusCode, b)
	}
	decodeJSON(t, b, &a)
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
	decodeJSON(t, b, &p)
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
