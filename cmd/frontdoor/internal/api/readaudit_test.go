package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestPatientReadsAreAudited: who viewed whom. A receptionist reads a
// patient's record on a follower and on the leader, a clinician finds her
// by name; each read becomes a record.read event on patient/<id> naming
// the reader as its actor, the route and the node that served it, visible
// in GET /v1/audit?entity=patient/<id> on every node. Reads of another
// patient are not on her trail.
func TestPatientReadsAreAudited(t *testing.T) {
	tc := nodetest.New(t, 3)
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/patients",
		`{"given_name":"Priya","family_name":"Shah","date_of_birth":"1994-05-17","postcode":"DY2 8AD","nhs_number":"943 476 5919"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var p care.PatientRecord
	nodetest.DecodeJSON(t, b, &p)
	resp, b = tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/patients",
		`{"given_name":"Tom","family_name":"Other","date_of_birth":"1960-01-01","confirm_new":true}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create other: %d %s", resp.StatusCode, b)
	}
	var other care.PatientRecord
	nodetest.DecodeJSON(t, b, &other)

	desk := tc.Key(t, access.RoleReception, "Desk 4 (Sam Lee)")
	doc := tc.Key(t, access.RoleClinician, "Dr Ng")
	reads := []struct {
		tn    *nodetest.Node
		key   string
		path  string
		route string
	}{
		{tc.Follower(t), desk, "/v1/patients/" + p.ID + "?consistency=stale", "GET /v1/patients/:id"},
		{tc.Leader(t), desk, "/v1/patients/" + p.ID, "GET /v1/patients/:id"},
		{tc.Follower(t), doc, "/v1/patients?family_name=Shah&given_name=Priya&date_of_birth=1994-05-17&consistency=stale", "GET /v1/patients"},
		{tc.Leader(t), doc, "/v1/patients/" + other.ID, "GET /v1/patients/:id"},
	}
	for _, r := range reads {
		if resp, b := tc.Do(t, r.tn, http.MethodGet, r.path, "", nodetest.BearerHeader(r.key)); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), p.ID+`"`) && !strings.Contains(r.path, other.ID) {
			t.Fatalf("%s: %d %s", r.path, resp.StatusCode, b)
		}
	}
	want := map[string]int{"Desk 4 (Sam Lee)|GET /v1/patients/:id": 2, "Dr Ng|GET /v1/patients": 1}
	var got map[string]int
	deadline := time.Now().Add(40 * time.Second) // the auditor retries a batch for about 30 s
	for {
		got = map[string]int{}
		_, b := tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/audit?consistency=stale&entity=patient/"+p.ID, "", nil)
		var page struct {
			Events []cluster.AuditEvent `json:"events"`
		}
		nodetest.DecodeJSON(t, b, &page)
		for _, ev := range page.Events {
			if ev.Action != "record.read" {
				continue
			}
			if ev.Kind != care.KindRecordRead || ev.Entity != "patient/"+p.ID || !strings.Contains(string(ev.Details), `"node":"node`) {
				t.Fatalf("read event %+v %s", ev, ev.Details)
			}
			var route string
			if _, rest, ok := strings.Cut(string(ev.Details), `"route":"`); ok {
				route, _, _ = strings.Cut(rest, `"`)
			}
			got[ev.Actor.Name+"|"+route]++
		}
		if len(got) == len(want) && got["Desk 4 (Sam Lee)|GET /v1/patients/:id"] == 2 && got["Dr Ng|GET /v1/patients"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record.read events on patient/%s: %v, want %v", p.ID, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Dr Ng's read of the other patient is on that patient's trail only.
	_, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=patient/"+other.ID, "", nil)
	if !strings.Contains(string(b), `"name":"Dr Ng"`) {
		// Not yet applied: the first loop proved the batches arrive; wait
		// for this one too.
		waitAudit(t, tc, "patient/"+other.ID, `"name":"Dr Ng"`)
	}
}

// waitAudit waits (10 s at most) until the entity's trail contains s.
func waitAudit(t *testing.T, tc *nodetest.Cluster, entity, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity="+entity, "", nil)
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's trail never showed %s: %s", entity, s, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestForgedReadAuditsAreRefused: POST /v1/cluster/read-audit takes a
// member's batch over the raft port only; the same body from a client,
// even with the admin key, is refused (403) and proposes nothing, so no
// one can write "X viewed Y" into the trail. POST /v1/cluster/key-lease
// answers anyone the access generation (no patient data); the member's
// confirmation in it counts only from a member (grantKeyLease).
func TestForgedReadAuditsAreRefused(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead := tc.Leader(t)
	before := lead.N.Store().Status().LastIndex
	body := `{"node":"node2","reads":[{"actor":{"id":"k1","name":"Dr Framed","role":"clinician"},"entity":"patient/P1","route":"GET /v1/patients/:id","at":"2026-12-06T10:00:00Z"}]}`
	for _, hdr := range []map[string]string{nil, {"Authorization": ""}} {
		resp, b := tc.Do(t, lead, http.MethodPost, "/v1/cluster/read-audit", body, hdr)
		expectProblem(t, resp, b, http.StatusForbidden, api.ProblemForbidden, "")
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("a forged read audit moved the raft index %d -> %d", before, after)
	}
	resp, b := tc.Do(t, lead, http.MethodPost, "/v1/cluster/key-lease", `{"node_id":"node2","gen":999999}`, map[string]string{"Authorization": ""})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"gen":`) {
		t.Fatalf("key lease: %d %s", resp.StatusCode, b)
	}
}

// TestRetriedWriteIsARead: a write retried with its Idempotency-Key gets
// the attendance as it is now, which may hold what others wrote since, so
// the retry is recorded as a read of it (on the node that answered, with
// the write's route and the retrying key); the first write is not.
func TestRetriedWriteIsARead(t *testing.T) {
	tc := nodetest.New(t, 3)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 9"))
	hdr := withKey(desk, "arrival-once")
	body := `{"complaint":"cut on the hand","patient":{"given_name":"Ann","family_name":"Ley","postcode":"DY1 1AA"}}`
	resp, first := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/attendances", body, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, first)
	}
	var a care.Attendance
	nodetest.DecodeJSON(t, first, &a)
	// The write alone leaves no read: a read batch would have arrived by
	// the time a later write (here, a second attendance) is applied.
	waitAudit(t, tc, "attendance/"+a.ID, `"action":"attendance.create"`)
	time.Sleep(500 * time.Millisecond) // more than two read-batch intervals
	if _, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=attendance/"+a.ID, "", nil); strings.Contains(string(b), "record.read") {
		t.Fatalf("the first write was recorded as a read: %s", b)
	}
	resp, again := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/attendances", body, hdr)
	if resp.StatusCode != http.StatusCreated || string(again) != string(first) {
		t.Fatalf("retry: %d %s\nfirst: %s", resp.StatusCode, again, first)
	}
	waitAudit(t, tc, "attendance/"+a.ID, `"route":"POST /v1/attendances"`)
	_, b := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=attendance/"+a.ID, "", nil)
	if !strings.Contains(string(b), `"name":"Desk 9"`) || strings.Count(string(b), `"action":"record.read"`) != 1 {
		t.Fatalf("trail after the retry: %s", b)
	}
}
