package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// answer is what a client saw: status, headers (less Date) and body.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

func answerOf(resp *http.Response, body []byte) answer {
	h := resp.Header.Clone()
	h.Del("Date")
	return answer{Status: resp.StatusCode, Header: h, Body: string(body)}
}

// TestFollowerAnswersAsTheLeader: a write sent to a follower (its proposal
// forwarded to the leader) gets byte for byte the answer the leader gives:
// the first answer and its replays with the same Idempotency-Key, a
// refusal decided on the leader, a reused key, a key's creation.
func TestFollowerAnswersAsTheLeader(t *testing.T) {
	tc := nodetest.New(t, 3)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	lead, follower := tc.Leader(t), tc.Follower(t)
	with := func(hdr map[string]string, key string) map[string]string {
		h := map[string]string{"Idempotency-Key": key}
		for k, v := range hdr {
			h[k] = v
		}
		return h
	}
	send := func(tn *nodetest.Node, method, path, body string, hdr map[string]string) answer {
		t.Helper()
		resp, b := tc.DoRetry(t, tn, method, path, body, hdr)
		return answerOf(resp, b)
	}
	for _, tt := range []struct {
		name         string
		method, path string
		body         string
		hdr          map[string]string
		status       int
	}{
		{"create, then its replays", http.MethodPost, "/v1/attendances", adaBody, with(desk, "fwd-create"), http.StatusCreated},
		{"a key reused with another body", http.MethodPost, "/v1/attendances", `{"complaint":"other"}`, with(desk, "fwd-create"), http.StatusUnprocessableEntity},
		{"refused by the leader's state", http.MethodPost, "/v1/attendances/no-such-attendance/status", `{"status":"left"}`, with(desk, "fwd-missing"), http.StatusNotFound},
		{"refused by the handler", http.MethodPost, "/v1/attendances", `{"complaint":""}`, desk, http.StatusUnprocessableEntity},
		{"an API key, then its replays", http.MethodPost, "/v1/keys", `{"name":"Desk 2","role":"reception"}`, with(nil, "fwd-key"), http.StatusCreated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := send(follower, tt.method, tt.path, tt.body, tt.hdr)
			if first.Status != tt.status {
				t.Fatalf("through the follower: %d %s, want %d", first.Status, first.Body, tt.status)
			}
			fromLeader := send(lead, tt.method, tt.path, tt.body, tt.hdr)
			again := send(follower, tt.method, tt.path, tt.body, tt.hdr)
			if !reflect.DeepEqual(fromLeader, again) {
				t.Fatalf("the leader answered\n%+v\nthe follower\n%+v", fromLeader, again)
			}
			if tt.path != "/v1/keys" && !reflect.DeepEqual(first, fromLeader) {
				// (A key's first answer alone shows its secret.)
				t.Fatalf("first answer, through the follower\n%+v\nthe leader's replay\n%+v", first, fromLeader)
			}
			if tt.status == http.StatusCreated && first.Header.Get("Location") == "" {
				t.Fatalf("no Location: %+v", first)
			}
		})
	}
}

// TestForgedForwardedProposalsAreRefused: POST /v1/cluster/forward can do
// nothing the caller's key could not do by calling the leader directly: the
// leader proposes as the key's holder, for a route that key may call, of a
// kind that route proposes, with that route's Idempotency route; an unknown,
// revoked or missing key is a 401; a node that is not the leader refuses
// rather than forwards on.
func TestForgedForwardedProposalsAreRefused(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead := tc.Leader(t)
	deskKey := tc.Key(t, access.RoleReception, "Desk 1")
	leaverKey := tc.Key(t, access.RoleReception, "Leaver")
	whoami := func(key string) cluster.Actor {
		t.Helper()
		resp, b := tc.Do(t, lead, http.MethodGet, "/v1/whoami", "", nodetest.BearerHeader(key))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("whoami: %d %s", resp.StatusCode, b)
		}
		var a cluster.Actor
		nodetest.DecodeJSON(t, b, &a)
		return a
	}
	desk, admin, leaver := whoami(deskKey), whoami(tc.AdminKey), whoami(leaverKey)
	if resp, b := tc.Do(t, lead, http.MethodDelete, "/v1/keys/"+leaver.ID, "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	keysBefore := countKeys(t, tc, lead)

	arrival := []byte(`{"complaint":"cut hand"}`)
	adminKey := []byte(`{"name":"Mallory","role":"admin","hash":"` + access.HashKey("fdk_mallory") + `"}`)
	idem := func(route string) *cluster.Idempotency {
		return &cluster.Idempotency{Key: "forged-" + route, Route: route, BodyHash: "00"}
	}
	for _, tt := range []struct {
		name    string
		key     string
		body    []byte
		status  int
		problem string
	}{
		{"reception key claiming the admin actor", deskKey,
			api.EncodeForwarded("POST /v1/attendances", admin.ID, care.KindAttendanceCreate, nil, arrival), 403, api.ProblemForbidden},
		{"reception key on an admin-only route", deskKey,
			api.EncodeForwarded("POST /v1/keys", desk.ID, access.KindKeyCreate, nil, adminKey), 403, api.ProblemForbidden},
		{"reception key, its route, an admin-only kind", deskKey,
			api.EncodeForwarded("POST /v1/attendances", desk.ID, access.KindKeyCreate, nil, adminKey), 403, api.ProblemForbidden},
		{"a kind no route proposes", deskKey,
			api.EncodeForwarded("POST /v1/attendances", desk.ID, care.KindDispatchEscalate, nil, []byte(`{}`)), 403, api.ProblemForbidden},
		{"a route that proposes nothing", deskKey,
			api.EncodeForwarded("GET /v1/attendances", desk.ID, care.KindAttendanceCreate, nil, arrival), 403, api.ProblemForbidden},
		{"a join-token route", deskKey,
			api.EncodeForwarded("POST /v1/cluster/join", desk.ID, care.KindAttendanceCreate, nil, arrival), 403, api.ProblemForbidden},
		{"another route's Idempotency route", deskKey,
			api.EncodeForwarded("POST /v1/attendances", desk.ID, care.KindAttendanceCreate, idem("POST /v1/keys"), arrival), 403, api.ProblemForbidden},
		{"unknown key", "fdk_not-a-key",
			api.EncodeForwarded("POST /v1/attendances", desk.ID, care.KindAttendanceCreate, nil, arrival), 401, api.ProblemUnauthorized},
		{"revoked key", leaverKey,
			api.EncodeForwarded("POST /v1/attendances", leaver.ID, care.KindAttendanceCreate, nil, arrival), 401, api.ProblemUnauthorized},
		{"no key", "",
			api.EncodeForwarded("POST /v1/attendances", desk.ID, care.KindAttendanceCreate, nil, arrival), 401, api.ProblemUnauthorized},
		{"not a forwarded proposal", deskKey, arrival, 400, api.ProblemBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": ""}
			if tt.key != "" {
				hdr = nodetest.BearerHeader(tt.key)
			}
			resp, b := peerDo(t, tc.Follower(t), lead, http.MethodPost, api.ForwardPath, string(tt.body), hdr)
			expectProblem(t, resp, b, tt.status, tt.problem, "")
			if resp.Header.Get(api.HeaderForwardProtocol) == "" {
				t.Fatalf("answer without %s", api.HeaderForwardProtocol)
			}
		})
	}
	if n := countKeys(t, tc, lead); n != keysBefore {
		t.Fatalf("%d keys after the forgeries, %d before", n, keysBefore)
	}

	// The same key, honestly: proposed as the key's holder; refused from a
	// client that is not a member, accepted over a member's mutual TLS.
	honest := api.EncodeForwarded("POST /v1/attendances", desk.ID, care.KindAttendanceCreate, nil, arrival)
	resp, b := tc.Do(t, lead, http.MethodPost, api.ForwardPath, string(honest), nodetest.BearerHeader(deskKey))
	expectProblem(t, resp, b, http.StatusForbidden, api.ProblemForbidden, "")
	resp, b = peerDo(t, tc.Follower(t), lead, http.MethodPost, api.ForwardPath, string(honest), nodetest.BearerHeader(deskKey))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("honest forwarded proposal: %d %s", resp.StatusCode, b)
	}
	res, err := api.DecodeResult(b)
	if err != nil || res.Err != nil {
		t.Fatalf("result %+v, %v", res, err)
	}
	var a struct {
		CreatedBy cluster.Actor `json:"created_by"`
	}
	if err := json.Unmarshal(res.Value, &a); err != nil || a.CreatedBy != desk {
		t.Fatalf("created by %+v (%v), want %+v", a.CreatedBy, err, desk)
	}
	// A node that is not the leader does not forward it on.
	var other *nodetest.Node
	for _, tn := range tc.Nodes {
		if tn != lead && tn != tc.Follower(t) {
			other = tn
		}
	}
	resp, b = peerDo(t, other, tc.Follower(t), http.MethodPost, api.ForwardPath, string(honest), nodetest.BearerHeader(deskKey))
	expectProblem(t, resp, b, http.StatusServiceUnavailable, api.ProblemNotAccepted, "")
}

func countKeys(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node) int {
	t.Helper()
	resp, b := tc.Do(t, tn, http.MethodGet, "/v1/keys?consistency=linearizable", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list keys: %d %s", resp.StatusCode, b)
	}
	var l api.KeyList
	nodetest.DecodeJSON(t, b, &l)
	return len(l.Keys)
}

// TestFollowerForwardingToAStoppedLeader: a write sent to a follower just
// after the leader crashed is refused 503 not-accepted with Retry-After
// (the forwarded proposal never reached a leader), and the client's retry
// with the same Idempotency-Key is applied once a new leader is elected.
func TestFollowerForwardingToAStoppedLeader(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead, follower := tc.Leader(t), tc.Follower(t)
	tc.Kill(t, lead.Index)
	hdr := map[string]string{api.HeaderIdempotencyKey: "after-the-crash"}
	resp, b := tc.Do(t, follower, http.MethodPost, "/v1/attendances", adaBody, hdr)
	expectProblem(t, resp, b, http.StatusServiceUnavailable, api.ProblemNotAccepted, "")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	resp, b = tc.DoRetry(t, follower, http.MethodPost, "/v1/attendances", adaBody, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("retry after the election: %d %s", resp.StatusCode, b)
	}
	again := answerOf(tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", adaBody, hdr))
	if first := answerOf(resp, b); !reflect.DeepEqual(first, again) {
		t.Fatalf("retry through the new leader\n%+v\nfirst answer\n%+v", again, first)
	}
}

// peerDo sends a request to to's node-to-node channel (the raft port, mutual
// TLS) with from's member certificate, as a forwarding follower does.
func peerDo(t *testing.T, from, to *nodetest.Node, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return from.N.Store().DialPeerHTTP(to.HTTPAddr)
		},
	}}
	req, err := http.NewRequest(method, "http://"+to.HTTPAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
