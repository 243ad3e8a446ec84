package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// dispatchWorkload is --workload dispatch: NHS 111 refers older people
// who have fallen or become frail at home for an urgent community
// response (local Dx9001); the cluster routes each to a rapid response
// team and dispatches it through a webhook. loadtest plays the teams: at
// setup it points every rapid response service's webhook at its own
// receiver (with a fresh signing secret) and opens the services round the
// clock, and for each dispatch it waits for the webhook, then accepts,
// reports en route, on scene and completed, and the centre closes the
// attendance as handed over, which frees the team's place for the next
// referral. The dispatch check then matches every dispatched
// attendance to a delivered, correctly signed webhook.
//
// It changes the directory, so it runs only on a cluster loadtest spawned.
type dispatchWorkload struct {
	bytes    int
	receiver *WebhookReceiver
	check    *DispatchCheck

	referred, dispatched, completed, noWebhook atomic.Int64
}

// Operation names in the report.
const (
	opDispatchRefer  = "attendance.nhs111_ucr"
	opDispatchAccept = "dispatch.accept"
	opDispatchStatus = "dispatch.status"
)

func newDispatchWorkload(seed uint64) Workload {
	s := newSynth(seed, 1<<34)
	total := 0
	const n = 100
	for range n {
		b, _ := json.Marshal(s.ucrReferral(time.Now()))
		total += len(b)
	}
	return &dispatchWorkload{bytes: total / n}
}

func (w *dispatchWorkload) CommandBytes() int  { return w.bytes }
func (*dispatchWorkload) AllocatesSlots() bool { return true }
func (*dispatchWorkload) Dispatches() bool     { return true }

// DispatchCheck implements dispatcher.
func (w *dispatchWorkload) DispatchCheck() *DispatchCheck { return w.check }

func (w *dispatchWorkload) Summary() string {
	return fmt.Sprintf("%d urgent community response referrals: %d dispatched, %d completed by the teams, %d webhooks not seen within 10s during the run",
		w.referred.Load(), w.dispatched.Load(), w.completed.Load(), w.noWebhook.Load())
}

// Close stops the webhook receiver.
func (w *dispatchWorkload) Close() error {
	if w.receiver == nil {
		return nil
	}
	return w.receiver.Close()
}

// Setup starts the receiver and points the rapid response services at it.
func (w *dispatchWorkload) Setup(ctx context.Context, s *Session) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	r, err := StartWebhookReceiver(key, func(body []byte) string {
		var m struct {
			Type string `json:"type"`
			Data struct {
				AttendanceID string `json:"attendance_id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &m) != nil || m.Type != "dispatch.created" {
			return ""
		}
		return m.Data.AttendanceID
	})
	if err != nil {
		return err
	}
	w.receiver = r
	w.check = &DispatchCheck{Op: opDispatchRefer, Receiver: r}

	var list struct {
		Services []map[string]any `json:"services"`
	}
	if _, err := s.client.GetJSON(ctx, 0, "/v1/services?consistency=linearizable", &list); err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	n := 0
	for _, svc := range list.Services {
		if svc["tier"] != "rapid_response" {
			continue
		}
		id, _ := svc["id"].(string)
		svc["webhook"] = map[string]any{"url": r.URL() + "/" + url.PathEscape(id), "secret": secret}
		svc["always_open"] = true
		delete(svc, "sessions")
		delete(svc, "bank_holiday_sessions")
		b, _ := json.Marshal(svc)
		resp, err := s.client.Do(ctx, Request{Method: http.MethodPut, Path: "/v1/services/" + url.PathEscape(id), Body: b, Node: 0})
		if err != nil {
			return fmt.Errorf("dispatch: PUT /v1/services/%s: %w", id, err)
		}
		if resp.Status/100 != 2 {
			return fmt.Errorf("dispatch: PUT /v1/services/%s: %d %s", id, resp.Status, trim(resp.Body, 300))
		}
		n++
	}
	if n == 0 {
		return errors.New("dispatch: the directory has no rapid response service to dispatch to")
	}
	return nil
}

// ucrPostcodes are in the demo rapid response teams' catchments.
var ucrPostcodes = []string{"DY1 1AA", "DY1 2HQ", "DY2 7AB", "DY2 8PL", "DY3 1SH", "DY4 7NH", "DY5 1XW", "DY6 9QP"}

var ucrComplaints = []string{"fall at home, cannot get up", "more confused than usual", "not coping at home", "fall, carer unable to lift",
	"unwell and off legs", "catheter blocked"}

// ucrReferral is an NHS 111 referral for an urgent community response: an
// older person at their usual residence in a team's catchment.
func (s *synth) ucrReferral(now time.Time) nhs111Request {
	age := 70 + s.r.IntN(26)
	a := attendanceRequest{Complaint: s.pick(ucrComplaints), Channel: "nhs111", Patient: attendancePatient{
		GivenName: s.pick(givenNames), FamilyName: s.pick(familyNames), NHSNumber: s.nhsNumber(),
		DateOfBirth: now.AddDate(-age, 0, -1-s.r.IntN(300)).Format("2006-01-02"), Postcode: s.pick(ucrPostcodes)}}
	return nhs111Request{attendanceRequest: a, Dx: map[string]string{"code": "Dx9001"},
		CaseRef: fmt.Sprintf("111-%08d", s.r.IntN(100000000)), Context: &walkinContext{AgeYears: &age, Flags: []string{"usual_residence"}}}
}

func (w *dispatchWorkload) Step(ctx context.Context, s *Session, n uint64) error {
	req := s.synth.ucrReferral(time.Now())
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	key := s.Key(n, "ucr")
	resp, err := s.Write(ctx, opDispatchRefer, http.MethodPost, "/v1/attendances", b, key)
	if err != nil {
		return err
	}
	var a walkinAttendance
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.ID == "" {
		return fmt.Errorf("%s: acknowledged with an unreadable body: %s", opDispatchRefer, trim(resp.Body, 200))
	}
	w.referred.Add(1)
	e := expectAttendance(a.ID, req.attendanceRequest)
	e["case_ref"] = req.CaseRef
	expect, err := NewExpect(e)
	if err != nil {
		return err
	}
	ack := AckedWrite{Op: opDispatchRefer, Key: key, Path: "/v1/attendances/" + a.ID, Node: resp.Node, AckedAt: time.Now(), Expect: expect}
	dispatched := a.Routing != nil && a.Routing.Decision.Tier == "rapid_response"
	if dispatched {
		ack.Ref = a.ID // the webhook must come
		w.dispatched.Add(1)
	}
	s.ledger.Add(ack)
	if !dispatched {
		return nil // no team could take it (all places busy): routed elsewhere
	}

	// The team hears of it by webhook, then accepts and goes.
	body, ok := w.receiver.wait(ctx, a.ID, 10*time.Second)
	if !ok {
		w.noWebhook.Add(1)
		return nil
	}
	var m struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &m) != nil || m.Data.ID == "" {
		return fmt.Errorf("dispatch webhook without a dispatch id: %s", trim(body, 200))
	}
	path := "/v1/dispatches/" + url.PathEscape(m.Data.ID)
	eta := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	steps := []struct {
		op, suffix, body, status string
	}{
		{opDispatchAccept, "/accept", `{"eta":"` + eta + `"}`, "accepted"},
		{opDispatchStatus, "/status", `{"status":"en_route"}`, "en_route"},
		{opDispatchStatus, "/status", `{"status":"on_scene"}`, "on_scene"},
		{opDispatchStatus, "/status", `{"status":"completed","outcome":"stayed_at_home"}`, "completed"},
	}
	for _, st := range steps {
		k := s.Key(n, st.status)
		resp, err := s.Write(ctx, st.op, http.MethodPost, path+st.suffix, []byte(st.body), k)
		if err != nil {
			return err
		}
		expect, err := NewExpect(map[string]any{"id": m.Data.ID, "timeline": []any{map[string]any{"status": st.status}}})
		if err != nil {
			return err
		}
		s.ledger.Add(AckedWrite{Op: st.op, Key: k, Path: path, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	}
	// The centre closes the attendance as handed over to the team, which
	// frees the team's place for the next referral.
	k := s.Key(n, "handed_over")
	resp, err = s.Write(ctx, opAttendanceState, http.MethodPost, "/v1/attendances/"+a.ID+"/status", []byte(`{"status":"handed_over"}`), k)
	if err != nil {
		return err
	}
	expect, err = NewExpect(map[string]any{"timeline": []any{map[string]any{"status": "handed_over"}}})
	if err != nil {
		return err
	}
	s.ledger.Add(AckedWrite{Op: opAttendanceState, Key: k, Path: "/v1/attendances/" + a.ID, Node: resp.Node, AckedAt: time.Now(), Expect: expect})
	w.completed.Add(1)
	return nil
}
