package care

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

var (
	dispResponder = cluster.Actor{ID: "k-ucr", Name: "UCR North", Role: access.RoleResponder}
	dispClinician = cluster.Actor{ID: "k-clin", Name: "Dr Who", Role: access.RoleClinician}
)

// dispatchRun applies commands one entry at a time to an FSM, at given
// seconds after testEpoch, and keeps the log so a second replica can replay
// it in one batch.
type dispatchRun struct {
	t    *testing.T
	f    *testFSM
	logs []*raft.Log
}

func (r *dispatchRun) apply(sec int, kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) *cluster.Result {
	r.t.Helper()
	l := cmdLog(uint64(len(r.logs)+1), kindEnv(r.t, kind, sec, actor, payload, ids...))
	r.logs = append(r.logs, l)
	return resultValue(r.t, r.f.ApplyBatch([]*raft.Log{l})[0])
}

func (r *dispatchRun) ok(sec int, kind cluster.Kind, actor cluster.Actor, payload any, ids ...string) *cluster.Result {
	r.t.Helper()
	res := r.apply(sec, kind, actor, payload, ids...)
	if res.Err != nil {
		r.t.Fatalf("%s: %v", kind, res.Err)
	}
	return res
}

func (r *dispatchRun) view(fn func(v *cluster.View)) {
	r.t.Helper()
	r.f.ReadState(r.t, func(v *cluster.View) error { fn(v); return nil })
}

func (r *dispatchRun) dispatch(id string) *Dispatch {
	r.t.Helper()
	var d *Dispatch
	r.view(func(v *cluster.View) {
		var err error
		if d, err = In(v).Dispatch(id); err != nil {
			r.t.Fatalf("dispatch %s: %v", id, err)
		}
	})
	return d
}

// fallCall is an NHS 111 urgent community response referral as a Dx-only
// attendance: an 84-year-old at home on the floor, uninjured (Dx9001, the
// 2-hour urgent community response).
func fallCall() AttendanceCreate {
	age := 84
	return AttendanceCreate{
		Channel:   ChannelNHS111,
		Complaint: "fell at home and cannot get up, no injury",
		Patient:   Patient{GivenName: "Edith", FamilyName: "Crawley", Postcode: "DY1 1AA"},
		Dx:        &DxReferral{Code: "Dx9001"},
		Context:   &TriageContext{AgeYears: &age, Sex: "female", Flags: []string{"usual_residence"}},
		CaseRef:   "111-CASE-0001",
		Dispatch: &DispatchDetails{Address: "4 Mill Lane, Castlegate DY1 1AA", AccessNotes: "key safe by the back door, code 1945",
			CarerContact: "daughter Mary 07700 900123", CallbackNumber: "01384 000111", Safeguarding: []string{"lives alone"}},
	}
}

// demoWithSouthCovering returns the demo directory with both UCR teams
// covering DY1 and always open, so a decline has a second team to go to.
func demoWithSouthCovering(t *testing.T) *routing.Directory {
	t.Helper()
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	for i := range demo.Services {
		s := &demo.Services[i]
		if s.Tier == routing.TierRapidResponse {
			s.AlwaysOpen, s.Sessions, s.BankHoliday = true, nil, nil
			s.Eligibility.Catchment = append(s.Eligibility.Catchment, "DY1")
		}
	}
	return demo
}

// TestDispatchCreatedWithRoutingAndClockInFSM, at the FSM level: routing to rapid response writes the dispatch and its
// outbox entry in the same Apply; an escalation before the deadline is
// refused in FSM time; delivery, acceptance, on scene and completion move it
// on and the clock is recorded; two replicas applying the same log one entry
// at a time or in one batch end in the same state.
func TestDispatchCreatedWithRoutingAndClockInFSM(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	r.ok(3600, directory.KindDirectoryLoad, cluster.SystemActor, demo)
	res := r.ok(3601, KindAttendanceCreate, testDesk, fallCall(), "A1")
	var a Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		t.Fatal(err)
	}
	if a.Routing == nil || a.Routing.Decision.ServiceID != "ucr-north" {
		t.Fatalf("attendance not routed to ucr-north: %+v", a.Routing)
	}
	d := r.dispatch("A1-d1")
	created := testEpoch.Add(3601 * time.Second)
	if d.Status != DispatchPending || d.ServiceID != "ucr-north" || d.AttendanceID != "A1" || d.CaseRef != "111-CASE-0001" ||
		d.Patient.FamilyName != "Crawley" || d.Patient.AgeYears == nil || *d.Patient.AgeYears != 84 ||
		!d.AcceptBy.Equal(created.Add(15*time.Minute)) || !d.Clock.TargetAt.Equal(created.Add(2*time.Hour)) ||
		d.Delivery.WebhookID != "msg_A1-d1" || d.CreatedIndex != 2 || d.Details.AccessNotes != "key safe by the back door, code 1945" ||
		d.Details.CallbackNumber != "01384 000111" || d.Details.CarerContact == "" || len(d.Details.Safeguarding) != 1 {
		t.Fatalf("dispatch %+v", d)
	}
	var e *OutboxEntry
	r.view(func(v *cluster.View) {
		pend, err := In(v).PendingOutbox()
		if err != nil || len(pend) != 1 {
			t.Fatalf("pending outbox %v %v", pend, err)
		}
		e = pend[0]
	})
	var msg WebhookMessage
	if err := json.Unmarshal(e.Body, &msg); err != nil || msg.Type != "dispatch.created" || msg.Data.ID != "A1-d1" || e.ID != "msg_A1-d1" {
		t.Fatalf("outbox %+v (%v)", e, err)
	}

	// Escalation before the deadline (FSM time) is refused.
	res = r.apply(3601+14*60, KindDispatchEscalate, cluster.SystemActor, DispatchEscalate{DispatchID: "A1-d1"})
	if res.Err == nil || res.Err.Code != cluster.CodeConflict || !strings.Contains(res.Err.Message, ErrDeadlineNotPassed) {
		t.Fatalf("early escalation: %+v", res.Err)
	}
	if got := r.dispatch("A1-d1"); got.Status != DispatchPending || got.EscalatedAt != nil {
		t.Fatalf("refused escalation changed the dispatch: %+v", got)
	}

	r.ok(3605, KindDispatchDelivered, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A1-d1", Attempts: 1, HTTPStatus: 200})
	if res := r.apply(3605, KindDispatchEscalate, testDesk, DispatchEscalate{DispatchID: "A1-d1"}); res.Err == nil || res.Err.Code != access.CodeForbidden {
		t.Fatalf("escalation by a person: %+v", res.Err)
	}
	if res := r.apply(3606, KindDispatchDelivered, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A1-d1", Attempts: 1, HTTPStatus: 200}); res.Err == nil || res.Err.Code != cluster.CodeConflict {
		t.Fatalf("second delivery report: %+v", res.Err)
	}
	// Invalid accept: no ETA; conflicting status: on scene before accepting.
	if res := r.apply(3610, KindDispatchAccept, dispResponder, DispatchAccept{DispatchID: "A1-d1"}); res.Err == nil || res.Err.Fields["eta"] == "" {
		t.Fatalf("accept without eta: %+v", res.Err)
	}
	if res := r.apply(3610, KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchOnScene}); res.Err == nil || res.Err.Code != cluster.CodeConflict {
		t.Fatalf("on scene before accept: %+v", res.Err)
	}
	eta := testEpoch.Add(3620*time.Second + 40*time.Minute)
	r.ok(3620, KindDispatchAccept, dispResponder, DispatchAccept{DispatchID: "A1-d1", ETA: eta})
	r.ok(3700, KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchEnRoute})
	r.ok(3601+90*60, KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchOnScene})
	if res := r.apply(3601+91*60, KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchCompleted, Outcome: "cured"}); res.Err == nil || res.Err.Fields["outcome"] == "" {
		t.Fatalf("bad outcome: %+v", res.Err)
	}
	holdsPlace := func() bool {
		held := false
		r.view(func(v *cluster.View) {
			recs, err := directory.In(v).Allocations("ucr-north")
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				held = held || rec.AttendanceID == "A1"
			}
		})
		return held
	}
	if !holdsPlace() {
		t.Fatal("the team's place is not held while the visit is on")
	}
	r.ok(3601+150*60, KindDispatchStatus, dispResponder, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchCompleted, Outcome: OutcomeStayedAtHome})
	if holdsPlace() {
		t.Fatal("a completed visit still holds the team's place")
	}
	d = r.dispatch("A1-d1")
	if d.Status != DispatchCompleted || d.Outcome != OutcomeStayedAtHome || d.Clock.Met == nil || !*d.Clock.Met ||
		d.Clock.Minutes == nil || *d.Clock.Minutes != 90 || d.AcceptedBy == nil || d.AcceptedBy.ID != dispResponder.ID ||
		d.ETA == nil || !d.ETA.Equal(eta) || d.Delivery.Status != DeliveryDelivered {
		t.Fatalf("completed dispatch %+v", d)
	}
	var statuses []string
	for _, c := range d.Timeline {
		statuses = append(statuses, c.Status)
	}
	if strings.Join(statuses, ",") != "pending,notified,accepted,en_route,on_scene,completed" {
		t.Fatalf("timeline %v", statuses)
	}
	r.view(func(v *cluster.View) {
		st, err := In(v).DispatchStats()
		if err != nil || st.Completed != 1 || st.CompletedWithin != 1 || st.Ratio() != 1 || len(st.AcceptSeconds) != 1 || st.AcceptSeconds[0] != 14*60 { // the FSM clock had reached the refused escalation's stamp
			t.Fatalf("stats %+v %v", st, err)
		}
		open, _ := In(v).Dispatches(DispatchQuery{OpenOnly: true})
		evs, err := In(v).DispatchEvents("", 0)
		if err != nil || len(open) != 0 || len(evs) != 6 {
			t.Fatalf("open %d, events %d (%v)", len(open), len(evs), err)
		}
		rest, _ := In(v).DispatchEvents(evs[3].ID, 0)
		if len(rest) != 2 || rest[0].ID != evs[4].ID {
			t.Fatalf("events after %s: %v", evs[3].ID, rest)
		}
		audit, err := v.Audit("dispatch/A1-d1")
		if err != nil || len(audit) < 6 {
			t.Fatalf("audit %d %v", len(audit), err)
		}
	})

	// The same log on another replica, in one batch: same state.
	other := newTestFSM(t)
	applyInBatches(other, r.logs, len(r.logs))
	if dataHash(t, r.f) != dataHash(t, other) {
		t.Fatal("replicas differ")
	}
}

// TestDispatchEscalationInFSM, at the FSM level: a
// decline goes to the second team; that team's deadline passing (in FSM
// time) escalates to ED with an alert; a permanent webhook failure raises
// an alert and escalates; alerts stay until a person acknowledges them.
func TestDispatchEscalationInFSM(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	r.ok(3600, directory.KindDirectoryLoad, cluster.SystemActor, demoWithSouthCovering(t))
	r.ok(3601, KindAttendanceCreate, testDesk, fallCall(), "A1")
	first := r.dispatch("A1-d1")
	if res := r.apply(3602, KindDispatchDecline, dispResponder, DispatchDecline{DispatchID: "A1-d1"}); res.Err == nil || res.Err.Fields["reason"] == "" {
		t.Fatalf("decline without reason: %+v", res.Err)
	}
	r.ok(3610, KindDispatchDecline, dispResponder, DispatchDecline{DispatchID: "A1-d1", Reason: "both crews out"})
	d1, d2 := r.dispatch("A1-d1"), r.dispatch("A1-d2")
	if d1.Status != DispatchDeclined || d1.EscalatedTo != "A1-d2" || d1.EscalatedToED {
		t.Fatalf("declined dispatch %+v", d1)
	}
	if d2.Status != DispatchPending || d2.ServiceID == first.ServiceID || d2.PreviousID != "A1-d1" ||
		len(d2.Tried) != 1 || d2.Tried[0] != first.ServiceID || !d2.Clock.ReferralAt.Equal(first.Clock.ReferralAt) {
		t.Fatalf("second dispatch %+v (first to %s)", d2, first.ServiceID)
	}
	deadline := int(d2.AcceptBy.Sub(testEpoch).Seconds())
	if res := r.apply(deadline-1, KindDispatchEscalate, cluster.SystemActor, DispatchEscalate{DispatchID: "A1-d2"}); res.Err == nil ||
		!strings.Contains(res.Err.Message, ErrDeadlineNotPassed) {
		t.Fatalf("escalation a second early: %+v", res.Err)
	}
	r.ok(deadline, KindDispatchEscalate, cluster.SystemActor, DispatchEscalate{DispatchID: "A1-d2"})
	d2 = r.dispatch("A1-d2")
	if d2.Status != DispatchEscalated || !d2.EscalatedToED || d2.EscalatedTo != "ed-castlegate" || d2.Escalation != "deadline" {
		t.Fatalf("escalated dispatch %+v", d2)
	}
	r.view(func(v *cluster.View) {
		a, err := In(v).Attendance("A1")
		if err != nil || a.Routing.Decision.Tier != routing.TierED {
			t.Fatalf("attendance not re-routed to ED: %+v %v", a.Routing, err)
		}
		al, err := In(v).Alerts(true)
		if err != nil || len(al) != 1 || al[0].Kind != AlertEscalatedToED || al[0].DispatchID != "A1-d2" {
			t.Fatalf("open alerts %+v %v", al, err)
		}
	})

	// A second attendance: the webhook fails for good (HTTP 410).
	r.ok(deadline+10, KindAttendanceCreate, testDesk, fallCall(), "A2")
	res := r.apply(deadline+11, KindDispatchDeliveryFailed, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A2-d1", Attempts: 1, HTTPStatus: 410})
	if res.Err == nil || res.Err.Fields["result"] == "" {
		t.Fatalf("failure without result: %+v", res.Err)
	}
	r.ok(deadline+12, KindDispatchDeliveryFailed, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A2-d1", Attempts: 1, HTTPStatus: 410,
		Result: NotifyPermanent, Error: "notify: permanent failure: HTTP 410"})
	f1 := r.dispatch("A2-d1")
	if f1.Status != DispatchEscalated || f1.Escalation != "delivery_failed" || f1.Delivery.Status != DeliveryFailed || f1.EscalatedTo != "A2-d2" {
		t.Fatalf("failed dispatch %+v", f1)
	}
	var alerts []*Alert
	r.view(func(v *cluster.View) {
		var err error
		if alerts, err = In(v).Alerts(true); err != nil || len(alerts) != 2 || alerts[1].Kind != AlertDeliveryFailed {
			t.Fatalf("open alerts %+v %v", alerts, err)
		}
	})
	// Only a person acknowledges; once.
	if res := r.apply(deadline+20, KindAlertAck, cluster.SystemActor, AlertAck{AlertID: alerts[1].ID}); res.Err == nil {
		t.Fatal("system acknowledged an alert")
	}
	if res := r.apply(deadline+20, KindAlertAck, dispResponder, AlertAck{AlertID: alerts[1].ID}); res.Err == nil {
		t.Fatal("a responder acknowledged an alert")
	}
	r.ok(deadline+21, KindAlertAck, dispClinician, AlertAck{AlertID: alerts[1].ID, Note: "rang the team"})
	if res := r.apply(deadline+22, KindAlertAck, testDesk, AlertAck{AlertID: alerts[1].ID}); res.Err == nil || res.Err.Code != cluster.CodeConflict {
		t.Fatalf("second ack: %+v", res.Err)
	}
	r.view(func(v *cluster.View) {
		open, _ := In(v).Alerts(true)
		all, _ := In(v).Alerts(false)
		if len(open) != 1 || open[0].ID != alerts[0].ID || len(all) != 2 {
			t.Fatalf("open %d all %d", len(open), len(all))
		}
		evs, err := In(v).DispatchEvents("", 0)
		var alertEvents []string
		for _, ev := range evs {
			if ev.Type == "alert" {
				var al Alert
				if err := json.Unmarshal(ev.Data, &al); err != nil {
					t.Fatal(err)
				}
				alertEvents = append(alertEvents, fmt.Sprintf("%s:%v", al.Kind, al.Open))
			}
		}
		if err != nil || strings.Join(alertEvents, ",") != "escalated_to_ed:true,delivery_failed:true,delivery_failed:false" {
			t.Fatalf("alert events %v %v", alertEvents, err)
		}
	})
	other := newTestFSM(t)
	applyInBatches(other, r.logs, 3)
	if dataHash(t, r.f) != dataHash(t, other) {
		t.Fatal("replicas differ")
	}
}

// TestDispatchStoodDownWhenRerouted: observations that raise the
// disposition to ED re-route the attendance; the open dispatch is closed
// (escalated, "rerouted") in the same Apply and the team, which had the
// webhook, is sent a stand-down message with its own webhook-id.
func TestDispatchStoodDownWhenRerouted(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	r.ok(3600, directory.KindDirectoryLoad, cluster.SystemActor, demo)
	r.ok(3601, KindAttendanceCreate, testDesk, fallCall(), "A1")
	r.ok(3602, KindDispatchDelivered, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A1-d1", Attempts: 1, HTTPStatus: 200})
	rr, spo2, sbp, pulse := 30, 88, 85, 130
	r.ok(3700, KindAttendanceObserve, testDesk, AttendanceObservations{AttendanceID: "A1",
		Observations: triage.Observations{RespiratoryRate: &rr, SpO2: &spo2, SystolicBP: &sbp, Pulse: &pulse}})
	d := r.dispatch("A1-d1")
	if d.Status != DispatchEscalated || d.Escalation != "rerouted" || d.EscalatedTo == "" || d.EscalatedTo == "ucr-north" {
		t.Fatalf("dispatch after re-route: %+v", d)
	}
	r.view(func(v *cluster.View) {
		pend, err := In(v).PendingOutbox()
		if err != nil || len(pend) != 1 || pend[0].ID != "msg_A1-d1_stood_down" || pend[0].Type != webhookStoodDown {
			t.Fatalf("pending outbox %+v %v", pend, err)
		}
		open, _ := In(v).Dispatches(DispatchQuery{OpenOnly: true})
		if len(open) != 0 {
			t.Fatalf("still open: %+v", open)
		}
	})
	// The stand-down's delivery does not touch the creation delivery.
	r.ok(3701, KindDispatchDelivered, cluster.SystemActor, DispatchDeliveryReport{WebhookID: "msg_A1-d1_stood_down", Attempts: 1, HTTPStatus: 200})
	if d := r.dispatch("A1-d1"); d.Delivery.WebhookID != "msg_A1-d1" || d.Status != DispatchEscalated {
		t.Fatalf("after stand-down delivery: %+v", d)
	}
}

// BenchmarkDispatchRouting applies NHS 111 fall calls routed to rapid
// response (routing + dispatch + outbox in one Apply), one command per
// entry (the worst case: no group commit), and the same with the Dx of a
// self-care disposition for comparison (routing without a dispatch).
func BenchmarkDispatchRouting(b *testing.B) {
	for _, tc := range []struct {
		name string
		dx   string
	}{{"rapid_response", "Dx9001"}, {"no_dispatch", "Dx25"}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newTestFSM(b)
			dir, err := routing.DemoDirectory()
			if err != nil {
				b.Fatal(err)
			}
			for i := range dir.Services {
				if dir.Services[i].Tier == routing.TierRapidResponse {
					dir.Services[i].AlwaysOpen, dir.Services[i].Sessions = true, nil
					dir.Services[i].Capacity = routing.Capacity{}
				}
			}
			f.ApplyBatch([]*raft.Log{cmdLog(1, kindEnv(b, directory.KindDirectoryLoad, 3600, cluster.SystemActor, dir))})
			call := fallCall()
			call.Dx = &DxReferral{Code: tc.dx}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				env := kindEnv(b, KindAttendanceCreate, 3601, testDesk, call, fmt.Sprintf("A%09d", i))
				r := resultValue(b, f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+2), env)})[0])
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
