package api_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// keyed is one write sent with an Idempotency-Key and the answer it got.
type keyed struct {
	name, path, body string
	hdr              map[string]string
	status           int
	answer           string
}

// indexAtEnd is the last field of a write's answer: the raft index of the
// write.
var indexAtEnd = regexp.MustCompile(`,"index":[0-9]+}$`)

func withKey(auth map[string]string, key string) map[string]string {
	return map[string]string{"Authorization": auth["Authorization"], "Idempotency-Key": key}
}

// TestRetryWithTheSameKeyGetsTheFirstAnswer: a client that did not hear the
// answer to a write which finished something — the final triage answer, a
// clinician's confirmation, a check-in, "left" — retries it with the same
// Idempotency-Key and gets the first answer, not a 409 from a state the
// first request itself changed: on the same node, on another node, and on
// a new leader after the old one stopped. The answer is the attendance as
// it is now (logic version 12: the record names it, cluster/resource.go):
// byte for byte the first answer while nothing has changed it since, the
// newer attendance once a later write has (the final answer and the
// confirmation, retried after "left", get the attendance that left).
func TestRetryWithTheSameKeyGetsTheFirstAnswer(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "111 system"))
	var writes []*keyed
	send := func(w *keyed, tn *nodetest.Node) {
		t.Helper()
		resp, b := tc.DoRetry(t, tn, http.MethodPost, w.path, w.body, w.hdr)
		w.status, w.answer = resp.StatusCode, string(b)
		if w.status != http.StatusOK {
			t.Fatalf("%s: %d %s", w.name, w.status, b)
		}
		writes = append(writes, w)
	}

	// The final answer: walk the triage one step at a time, each step with
	// its own key, and keep the step that reached the outcome.
	a := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	for step := 0; len(a.Triage.Questions) > 0; step++ {
		if step == 60 {
			t.Fatal("triage did not finish")
		}
		var replies []string
		for _, q := range a.Triage.Questions {
			v, ok := utiWoman[q.ID]
			if !ok {
				v = "no"
				if q.Type == "number" {
					v = "0"
				}
			}
			replies = append(replies, fmt.Sprintf(`{"question":%q,"value":%q}`, q.ID, v))
		}
		w := &keyed{name: "final answer", path: "/v1/attendances/" + a.ID + "/answers",
			body: `{"answers":[` + strings.Join(replies, ",") + `]}`, hdr: withKey(desk, fmt.Sprintf("answer-%s-%d", a.ID, step))}
		send(w, tc.Follower(t))
		writes = writes[:len(writes)-1]
		a = wfAttendance{}
		nodetest.DecodeJSON(t, []byte(w.answer), &a)
		if len(a.Triage.Questions) == 0 {
			writes = append(writes, w)
		}
	}
	if a.Status != care.AttendanceAwaitingConfirmation {
		t.Fatalf("after the final answer: %s, want awaiting confirmation", a.Status)
	}
	send(&keyed{name: "confirmation", path: "/v1/attendances/" + a.ID + "/confirm", body: `{"note":"UTI, no red flags"}`,
		hdr: withKey(doc, "confirm-"+a.ID)}, tc.Leader(t))
	send(&keyed{name: "left", path: "/v1/attendances/" + a.ID + "/status", body: `{"status":"left"}`,
		hdr: withKey(desk, "left-"+a.ID)}, tc.Follower(t))
	expected := createAttendance(t, tc, tc.Leader(t), `{"complaint":"sore throat","channel":"nhs111","case_ref":"111-78","expected":true,"dx":{"code":"Dx06"},"patient":{"postcode":"DY1 1AA"},"context":{"age_years":40}}`, nhs111)
	send(&keyed{name: "check-in", path: "/v1/attendances/" + expected.ID + "/check-in", body: "",
		hdr: withKey(desk, "checkin-"+expected.ID)}, tc.Leader(t))

	// What a retry gets: the first answer, or for a write a later one
	// changed, the later write's answer (the attendance as it is now).
	left := writes[2]
	if left.name != "left" {
		t.Fatalf("writes in another order: %s", left.name)
	}
	now := map[*keyed]string{writes[0]: left.answer, writes[1]: left.answer}
	if writes[0].answer == left.answer || writes[1].answer == left.answer {
		t.Fatal("the attendance did not change after the final answer")
	}
	retryAll := func(where string, tn *nodetest.Node) {
		t.Helper()
		for _, w := range writes {
			want, ok := now[w]
			if !ok {
				want = w.answer
			}
			if ok {
				// The body ends with the index of the write it answers:
				// the retried write's own.
				want = indexAtEnd.ReplaceAllString(want, indexAtEnd.FindString(w.answer))
			}
			resp, b := tc.DoRetry(t, tn, http.MethodPost, w.path, w.body, w.hdr)
			if resp.StatusCode != w.status || string(b) != want {
				t.Errorf("%s retried on %s: %d %s\nwant: %d %s", w.name, where, resp.StatusCode, b, w.status, want)
			}
		}
	}
	retryAll("the leader", tc.Leader(t))
	retryAll("a follower", tc.Follower(t))

	// Without the key the same requests are refused by the state they made.
	for _, w := range writes {
		hdr := map[string]string{"Authorization": w.hdr["Authorization"]}
		if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, w.path, w.body, hdr); resp.StatusCode != http.StatusConflict {
			t.Errorf("%s again without its key: %d %s, want 409", w.name, resp.StatusCode, b)
		}
	}

	old := tc.Leader(t)
	tc.Stop(t, old.Index)
	next := tc.Leader(t)
	if next.Index == old.Index {
		t.Fatal("no new leader")
	}
	retryAll("the new leader", next)
	retryAll("the new leader's follower", tc.Follower(t))
}
