package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

const adaBody = `{"patient":{"given_name":"Ada","family_name":"Lovelace","date_of_birth":"1990-12-10","nhs_number":"9434765919","postcode":"DY1 1AA"},"complaint":"sore throat"}`

// created is what the API answers to POST /v1/attendances.
type created struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	ArrivedAt string `json:"arrived_at"`
	Index     uint64 `json:"index"`
	Patient   struct {
		NHSNumber string `json:"nhs_number"`
	} `json:"patient"`
}

// problemBody is an RFC 9457 body as clients see it.
type problemBody struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

// TestWritesThroughFollowerAreLinearizableEverywhere: POSTs sent to a
// follower are forwarded, acknowledged with 201, and readable with
// ?consistency=linearizable from every node (a follower forwards that read).
func TestWritesThroughFollowerAreLinearizableEverywhere(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	var ids []string
	for i := 0; i < 5; i++ {
		resp, body := tc.Do(t, f, http.MethodPost, "/v1/attendances", adaBody, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST via follower: %d %s", resp.StatusCode, body)
		}
		var c created
		nodetest.DecodeJSON(t, body, &c)
		if c.ID == "" || c.Status != care.AttendanceArrived || c.Index == 0 || c.ArrivedAt == "" {
			t.Fatalf("created body incomplete: %s", body)
		}
		if loc := resp.Header.Get("Location"); loc != "/v1/attendances/"+c.ID {
			t.Fatalf("Location = %q", loc)
		}
		ids = append(ids, c.ID)
	}
	for _, tn := range tc.Nodes {
		for _, id := range ids {
			resp, body := tc.Do(t, tn, http.MethodGet, "/v1/attendances/"+id+"?consistency=linearizable", "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: GET %s: %d %s", tn.ID, id, resp.StatusCode, body)
			}
			var c created
			nodetest.DecodeJSON(t, body, &c)
			if c.ID != id || c.Patient.NHSNumber != "9434765919" {
				t.Fatalf("%s: read back %s", tn.ID, body)
			}
		}
		resp, body := tc.Do(t, tn, http.MethodGet, "/v1/attendances?status=arrived&consistency=linearizable", "", nil)
		var list struct {
			Attendances []created `json:"attendances"`
		}
		nodetest.DecodeJSON(t, body, &list)
		if resp.StatusCode != http.StatusOK || len(list.Attendances) != len(ids) {
			t.Fatalf("%s: list: %d, %d attendances, want %d", tn.ID, resp.StatusCode, len(list.Attendances), len(ids))
		}
		for i, a := range list.Attendances { // by arrival
			if a.ID != ids[i] {
				t.Fatalf("%s: list order: got %s at %d, want %s", tn.ID, a.ID, i, ids[i])
			}
		}
	}
	// The audit trail of one attendance, read on a follower.
	resp, body := tc.Do(t, f, http.MethodGet, "/v1/audit?entity=attendance/"+ids[0], "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "attendance.create") {
		t.Fatalf("audit: %d %s", resp.StatusCode, body)
	}
	// An entity that names no one record is refused, not read as a
	// prefix of every attendance's trail.
	for _, e := range []string{"attendance", "attendance/", "attendance/" + ids[0] + "/x", "/" + ids[0]} {
		resp, body = tc.Do(t, f, http.MethodGet, "/v1/audit?entity="+url.QueryEscape(e), "", nil)
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, api.ProblemInvalid, "entity")
	}
	// The trail comes a page at a time: limit=1 pages through the same
	// events with each page's next cursor (events are only ever appended,
	// so the pages agree with the whole trail read first).
	var whole struct {
		Events []cluster.AuditEvent `json:"events"`
		Next   string               `json:"next"`
	}
	_, body = tc.Do(t, f, http.MethodGet, "/v1/audit?entity=attendance/"+ids[0], "", nil)
	nodetest.DecodeJSON(t, body, &whole)
	if len(whole.Events) == 0 || whole.Next != "" {
		t.Fatalf("whole trail: %s", body)
	}
	cursor := ""
	for i, want := range whole.Events {
		resp, body = tc.Do(t, f, http.MethodGet, "/v1/audit?limit=1&entity=attendance/"+ids[0]+"&cursor="+url.QueryEscape(cursor), "", nil)
		var page struct {
			Events []cluster.AuditEvent `json:"events"`
			Next   string               `json:"next"`
		}
		nodetest.DecodeJSON(t, body, &page)
		if resp.StatusCode != http.StatusOK || len(page.Events) != 1 || page.Events[0].Index != want.Index || page.Events[0].Action != want.Action {
			t.Fatalf("page %d after %q: %d %s", i, cursor, resp.StatusCode, body)
		}
		if i < len(whole.Events)-1 && page.Next == "" {
			t.Fatalf("page %d of %d has no next: %s", i, len(whole.Events), body)
		}
		cursor = page.Next
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=1/2", "cursor=00000000000000000001/000a"} {
		resp, body = tc.Do(t, f, http.MethodGet, "/v1/audit?entity=attendance/"+ids[0]+"&"+q, "", nil)
		field := "limit"
		if strings.HasPrefix(q, "cursor") {
			field = "cursor"
		}
		expectProblem(t, resp, body, http.StatusUnprocessableEntity, api.ProblemInvalid, field)
	}
	// Unknown record and bad consistency.
	resp, body = tc.Do(t, f, http.MethodGet, "/v1/attendances/nope?consistency=stale", "", nil)
	expectProblem(t, resp, body, http.StatusNotFound, api.ProblemNotFound, "")
	resp, body = tc.Do(t, f, http.MethodGet, "/v1/attendances?consistency=eventual", "", nil)
	expectProblem(t, resp, body, http.StatusBadRequest, api.ProblemBadRequest, "consistency")
}

func expectProblem(t testing.TB, resp *http.Response, body []byte, status int, typ, field string) problemBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemBody
	nodetest.DecodeJSON(t, body, &p)
	if p.Type != typ || p.Status != status || p.Title == "" {
		t.Fatalf("problem %+v, want type %s status %d", p, typ, status)
	}
	if field != "" {
		if _, ok := p.Errors[field]; !ok {
			t.Fatalf("problem errors %v do not name %q", p.Errors, field)
		}
	}
	return p
}

// TestBadInputIsRefusedAndChangesNothing: malformed JSON, unknown fields and
// invalid values get problem responses, on the leader and through a
// follower, and the raft index does not move.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead := tc.Leader(t)
	tests := []struct {
		name   string
		body   string
		status int
		typ    string
		field  string
	}{
		{"malformed JSON", `{"patient":`, http.StatusBadRequest, api.ProblemBadRequest, ""},
		{"not an object", `[1,2]`, http.StatusUnprocessableEntity, api.ProblemInvalid, "(body)"},
		{"unknown field", `{"complaint":"cough","favourite_colour":"red"}`, http.StatusUnprocessableEntity, api.ProblemInvalid, "favourite_colour"},
		{"NHS number fails Modulus 11", `{"patient":{"nhs_number":"9434765918"},"complaint":"cough"}`, http.StatusUnprocessableEntity, api.ProblemInvalid, "patient.nhs_number"},
		{"NHS number all zeros", `{"patient":{"nhs_number":"0000000000"},"complaint":"cough"}`, http.StatusUnprocessableEntity, api.ProblemInvalid, "patient.nhs_number"},
		{"bad date of birth", `{"patient":{"date_of_birth":"1990-13-45"},"complaint":"cough"}`, http.StatusUnprocessableEntity, api.ProblemInvalid, "patient.date_of_birth"},
		{"missing complaint", `{"patient":{"given_name":"Ada"}}`, http.StatusUnprocessableEntity, api.ProblemInvalid, "complaint"},
	}
	before := lead.N.Store().Status().LastIndex
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{lead, tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, body := tc.Do(t, tn, http.MethodPost, "/v1/attendances", tt.body, nil)
				expectProblem(t, resp, body, tt.status, tt.typ, tt.field)
			})
		}
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft last index moved from %d to %d on refused input", before, after)
	}
}

// TestIdempotencyKey: a replay with the same key and body returns the first
// status and body without a second attendance; the same key with another
// body is 422.
func TestIdempotencyKey(t *testing.T) {
	tc := nodetest.New(t, 3)
	key := map[string]string{api.HeaderIdempotencyKey: "visit-123"}
	resp1, body1 := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/attendances", adaBody, key)
	if resp1.StatusCode != http.StatusCreated {
		t.Fatalf("first POST: %d %s", resp1.StatusCode, body1)
	}
	// Replays, on the leader and through a follower.
	for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
		resp2, body2 := tc.Do(t, tn, http.MethodPost, "/v1/attendances", adaBody, key)
		if resp2.StatusCode != resp1.StatusCode || string(body2) != string(body1) {
			t.Fatalf("replay via %s: %d %s\nfirst: %d %s", tn.ID, resp2.StatusCode, body2, resp1.StatusCode, body1)
		}
	}
	resp, body := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/attendances",
		strings.Replace(adaBody, "sore throat", "earache", 1), key)
	expectProblem(t, resp, body, http.StatusUnprocessableEntity, api.ProblemIdempotency, "")

	resp, body = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/attendances?consistency=linearizable", "", nil)
	var list struct {
		Attendances []created `json:"attendances"`
	}
	nodetest.DecodeJSON(t, body, &list)
	if resp.StatusCode != http.StatusOK || len(list.Attendances) != 1 {
		t.Fatalf("want exactly one attendance, got %d: %s", len(list.Attendances), body)
	}

	// Another API key with the same Idempotency-Key makes its own write:
	// a key is scoped to the API key that sent it, never answered with
	// another's record.
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Another desk"))
	desk[api.HeaderIdempotencyKey] = "visit-123"
	resp, body = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/attendances", adaBody, desk)
	var other created
	nodetest.DecodeJSON(t, body, &other)
	if resp.StatusCode != http.StatusCreated || other.ID == "" || other.ID == list.Attendances[0].ID {
		t.Fatalf("the same Idempotency-Key from another API key: %d %s, want a new attendance (not %s)", resp.StatusCode, body, list.Attendances[0].ID)
	}
}

// TestConcurrentWritesThroughEveryNode: 16 writers spread over all nodes;
// every acknowledged id is readable linearizably afterwards.
func TestConcurrentWritesThroughEveryNode(t *testing.T) {
	tc := nodetest.New(t, 3)
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn := tc.Nodes[w%len(tc.Nodes)]
			for i := range 10 {
				body := fmt.Sprintf(`{"complaint":"writer %d write %d"}`, w, i)
				resp, b, err := tc.Try(tn, http.MethodPost, "/v1/attendances", body, nil)
				if err != nil || resp.StatusCode != http.StatusCreated {
					t.Errorf("writer %d: %v %v %s", w, err, resp, b)
					return
				}
				var c created
				if err := json.Unmarshal(b, &c); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, c.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) != 160 {
		t.Fatalf("%d acknowledged writes, want 160", len(ids))
	}
	for _, tn := range tc.Nodes {
		resp, body := tc.Do(t, tn, http.MethodGet, "/v1/attendances?consistency=linearizable", "", nil)
		var list struct {
			Attendances []created `json:"attendances"`
		}
		nodetest.DecodeJSON(t, body, &list)
		got := map[string]bool{}
		for _, a := range list.Attendances {
			got[a.ID] = true
		}
		for _, id := range ids {
			if !got[id] {
				t.Fatalf("%s (%d): acknowledged %s missing", tn.ID, resp.StatusCode, id)
			}
		}
	}
}

// TestForwardLoopGuard: a request already forwarded once that reaches a
// non-leader is answered 503 not-accepted, never forwarded again; the same
// request without the header is forwarded and succeeds.
func TestForwardLoopGuard(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	resp, body := tc.Do(t, f, http.MethodPost, "/v1/attendances", adaBody, map[string]string{api.HeaderForwarded: "1"})
	p := expectProblem(t, resp, body, http.StatusServiceUnavailable, api.ProblemNotAccepted, "")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %+v", p)
	}
	resp, body = tc.Do(t, f, http.MethodGet, "/v1/attendances?consistency=leader", "", map[string]string{api.HeaderForwarded: "1"})
	expectProblem(t, resp, body, http.StatusServiceUnavailable, api.ProblemNotAccepted, "")
	// Stale reads are local: no forwarding, so no 503.
	resp, body = tc.Do(t, f, http.MethodGet, "/v1/attendances?consistency=stale", "", map[string]string{api.HeaderForwarded: "1"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stale read on a follower: %d %s", resp.StatusCode, body)
	}
	resp, body = tc.Do(t, f, http.MethodPost, "/v1/attendances", adaBody, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST via follower: %d %s", resp.StatusCode, body)
	}
	// Unknown routes are problems too.
	resp, body = tc.Do(t, f, http.MethodGet, "/v1/nothing-here", "", nil)
	expectProblem(t, resp, body, http.StatusNotFound, api.ProblemNotFound, "")
}

// TestKillLeaderWhileWriting: 16 writers through every node, each write
// retried with its Idempotency-Key on 503 or a broken connection; the
// leader is killed abruptly mid-run and restarted from its data dir. Every
// acknowledged write is on every node, exactly once.
func TestKillLeaderWhileWriting(t *testing.T) {
	tc := nodetest.New(t, 3)
	const writers, perWriter = 16, 12
	var (
		mu    sync.Mutex
		acked = map[string]string{}
		count atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"complaint":"writer %d write %d"}`, w, i)
				for attempt := 0; attempt < 200; attempt++ {
					tn := tc.Nodes[(w+i+attempt)%len(tc.Nodes)]
					resp, b, err := tc.Try(tn, http.MethodPost, "/v1/attendances", body, map[string]string{api.HeaderIdempotencyKey: key})
					if err == nil && resp.StatusCode == http.StatusCreated {
						var c created
						if err := json.Unmarshal(b, &c); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked[key] = c.ID
						mu.Unlock()
						count.Add(1)
						break
					}
					if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("%s: %d %s", key, resp.StatusCode, b)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	nodetest.Eventually(t, "writes under way", func() error {
		if count.Load() < writers*perWriter/4 {
			return fmt.Errorf("%d acknowledged", count.Load())
		}
		return nil
	})
	victim := tc.Leader(t)
	tc.Kill(t, victim.Index)
	nodetest.Eventually(t, "writes continue without the old leader", func() error {
		if count.Load() < writers*perWriter/2 {
			return fmt.Errorf("%d acknowledged", count.Load())
		}
		return nil
	})
	tc.Start(t, victim.Index)
	wg.Wait()
	if int(count.Load()) != writers*perWriter {
		t.Fatalf("%d of %d writes acknowledged", count.Load(), writers*perWriter)
	}
	tc.WaitReady(t)
	for _, tn := range tc.Nodes {
		nodetest.Eventually(t, tn.ID+" has every acknowledged write once", func() error {
			resp, body, err := tc.Try(tn, http.MethodGet, "/v1/attendances?consistency=stale", "", nil)
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("list: %v", err)
			}
			var list struct {
				Attendances []created `json:"attendances"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				return err
			}
			if len(list.Attendances) != len(acked) {
				return fmt.Errorf("%d attendances, %d acknowledged", len(list.Attendances), len(acked))
			}
			have := map[string]bool{}
			for _, a := range list.Attendances {
				have[a.ID] = true
			}
			for key, id := range acked {
				if !have[id] {
					return fmt.Errorf("acknowledged %s (%s) missing", key, id)
				}
			}
			return nil
		})
	}
}

// TestNHSNumberValidationAgreesWithRouting: the API accepts exactly the NHS
// numbers routing.ValidateNHSNumber (the one Modulus 11 check) accepts.
func TestNHSNumberValidationAgreesWithRouting(t *testing.T) {
	tc := nodetest.New(t, 1)
	for _, nhs := range []string{"9434765919", "9434765918", "0000000000", "943476591", "94347659190", "94347659x9", "4010232137", "1111111111", "9999999999"} {
		body := fmt.Sprintf(`{"patient":{"nhs_number":%q},"complaint":"cough"}`, nhs)
		resp, b := tc.Do(t, tc.Nodes[0], http.MethodPost, "/v1/attendances", body, nil)
		valid := routing.ValidateNHSNumber(nhs) == nil
		switch {
		case valid && resp.StatusCode != http.StatusCreated:
			t.Errorf("%s: routing accepts it, the API answered %d %s", nhs, resp.StatusCode, b)
		case !valid:
			expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "patient.nhs_number")
		}
	}
}
