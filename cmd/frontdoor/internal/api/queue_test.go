package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// queueEntries reads GET /v1/queue on a node.
func queueEntries(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, hdr map[string]string) (*http.Response, api.QueueBody) {
	t.Helper()
	resp, b := tc.DoRetry(t, tn, http.MethodGet, "/v1/queue", "", hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue on %s: %d %s", tn.ID, resp.StatusCode, b)
	}
	var q api.QueueBody
	nodetest.DecodeJSON(t, b, &q)
	return resp, q
}

func queueEntry(q api.QueueBody, id string) *care.QueueEntry {
	for i := range q.Entries {
		if q.Entries[i].AttendanceID == id {
			return &q.Entries[i]
		}
	}
	return nil
}

// TestWorkflowQueueStream: the SSE feed carries queue changes with raft
// indexes as ids and resumes after Last-Event-ID without loss.
func TestWorkflowQueueStream(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	tn := tc.Follower(t)
	a1 := createAttendance(t, tc, tn, utiWomanBody, desk)
	a1 = walkTriage(t, tc, tn, a1, utiWoman, desk)
	if a1.service() != "ph-high-street" {
		t.Fatalf("a1 routed to %q", a1.service())
	}
	read := func(last uint64, want int) []care.QueueEvent {
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
		var out []care.QueueEvent
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
				var ev care.QueueEvent
				nodetest.DecodeJSON(t, []byte(strings.TrimPrefix(line, "data: ")), &ev)
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
	if len(evs) != 2 || evs[0].AttendanceID != a2.ID || evs[1].AttendanceID != a1.ID || evs[1].Status != care.AttendanceLeft || evs[1].InQueue {
		t.Fatalf("resumed events %+v", evs)
	}
}

// TestWorkflowQueueOrderAndIdempotency: the queue orders by clinical
// priority then arrival and flags waits over 4 hours; a retried answer with
// the same Idempotency-Key returns the first result and records nothing new.
func TestWorkflowQueueOrderAndIdempotency(t *testing.T) {
	tc, clk := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
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
	var ex api.ExplainBody
	_, b := tc.DoRetry(t, tc.Leader(t), http.MethodGet, "/v1/attendances/"+first.ID+"/explain", "", nil)
	nodetest.DecodeJSON(t, b, &ex)
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
