package care

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
)

// TestKeyServiceScopeValidatedInApply: a key's service_id must name a
// service in the directory (a rapid_response team for a responder key) and
// only reception, clinician and responder keys may carry one; Apply
// decides against the state the command applies to, and the key's Actor
// carries the scope.
func TestKeyServiceScopeValidatedInApply(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	admin := cluster.Actor{ID: "K1", Name: "bootstrap admin", Role: access.RoleAdmin}
	r.ok(3600, access.KindKeyCreate, cluster.SystemActor, access.KeyCreate{Name: "bootstrap admin", Role: access.RoleAdmin, Hash: access.HashKey("a"), Bootstrap: true}, "K1")
	r.ok(3601, directory.KindDirectoryLoad, cluster.SystemActor, demoWithSouthCovering(t))

	refused := []struct {
		name string
		in   access.KeyCreate
	}{
		{"unknown service", access.KeyCreate{Name: "UCR West", Role: access.RoleResponder, ServiceID: "ucr-west", Hash: access.HashKey("b")}},
		{"not a rapid response team", access.KeyCreate{Name: "Market pharmacy", Role: access.RoleResponder, ServiceID: "ph-market", Hash: access.HashKey("c")}},
		{"an NHS 111 key", access.KeyCreate{Name: "111 handler", Role: access.RoleNHS111, ServiceID: "ucr-north", Hash: access.HashKey("d")}},
		{"an admin key", access.KeyCreate{Name: "Admin 2", Role: access.RoleAdmin, ServiceID: "ph-market", Hash: access.HashKey("d2")}},
		{"reception key, unknown service", access.KeyCreate{Name: "Desk 1", Role: access.RoleReception, ServiceID: "nowhere", Hash: access.HashKey("d3")}},
	}
	for i, tc := range refused {
		res := r.apply(3602+i, access.KindKeyCreate, admin, tc.in, "KX")
		if res.Err == nil || res.Err.Code != cluster.CodeInvalid || res.Err.Fields["service_id"] == "" {
			t.Errorf("%s: want invalid service_id, got %+v", tc.name, res.Err)
		}
	}

	res := r.ok(3610, access.KindKeyCreate, admin, access.KeyCreate{Name: "UCR North", Role: access.RoleResponder, ServiceID: "ucr-north", Hash: access.HashKey("e")}, "K2")
	var k access.APIKey
	if err := json.Unmarshal(res.Value, &k); err != nil {
		t.Fatal(err)
	}
	if a := k.Actor(); k.ServiceID != "ucr-north" || a.ServiceID != "ucr-north" || a.Role != access.RoleResponder {
		t.Fatalf("scoped key %+v, actor %+v", k, a)
	}
	// From logic version 8 a reception or clinician key may belong to any
	// service's staff; before it only a responder key had a scope.
	pharmacist := access.KeyCreate{Name: "Market pharmacist", Role: access.RoleClinician, ServiceID: "ph-market", Hash: access.HashKey("f")}
	l := cmdLog(uint64(len(r.logs)+1), kindEnvAt(t, access.ScopeSince-1, access.KindKeyCreate, 3620, admin, pharmacist, "K3"))
	r.logs = append(r.logs, l)
	if res := resultValue(t, r.f.ApplyBatch([]*raft.Log{l})[0]); res.Err == nil || res.Err.Fields["service_id"] != "only a responder key can be scoped to a service" {
		t.Fatalf("a scoped clinician key at logic version 7: %+v", res.Err)
	}
	res = r.ok(3630, access.KindKeyCreate, admin, pharmacist, "K4")
	r.view(func(v *cluster.View) {
		keys, err := access.In(v).APIKeys()
		if err != nil || len(keys) != 3 || keys[1].ServiceID != "ucr-north" || keys[0].ServiceID != "" || keys[2].ServiceID != "ph-market" || keys[2].Role != access.RoleClinician {
			t.Fatalf("keys in state %+v (%v)", keys, err)
		}
	})
}

// TestServiceStatusOnlyByItsStaff: from logic version 8 a service's status
// is set by an admin key or a key scoped to that service; a key scoped to
// another service (another team's responder, another service's desk) and
// an unscoped key are refused as forbidden and nothing changes. At logic
// version 7 (entries already in the log) any of them was allowed, and
// replays so.
func TestServiceStatusOnlyByItsStaff(t *testing.T) {
	admin := cluster.Actor{ID: "k-admin", Name: "Admin", Role: access.RoleAdmin}
	north := cluster.Actor{ID: "k-north", Name: "UCR North", Role: access.RoleResponder, ServiceID: "ucr-north"}
	pharmacist := cluster.Actor{ID: "k-ph", Name: "Market pharmacist", Role: access.RoleClinician, ServiceID: "ph-market"}
	desk := cluster.Actor{ID: "k-desk", Name: "Desk 1", Role: access.RoleReception}
	cases := []struct {
		name    string
		lv      int
		actor   cluster.Actor
		service string
		allowed bool
	}{
		{"admin", 8, admin, "ucr-south", true},
		{"own team's responder", 8, north, "ucr-north", true},
		{"another team's responder", 8, north, "ucr-south", false},
		{"a responder against the ED", 8, north, "ed-castlegate", false},
		{"own service's clinician", 8, pharmacist, "ph-market", true},
		{"another service's clinician", 8, pharmacist, "ucr-north", false},
		{"an unscoped reception key", 8, desk, "ph-market", false},
		{"another team's responder, version 7", 7, north, "ucr-south", true},
		{"an unscoped reception key, version 7", 7, desk, "ph-market", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &dispatchRun{t: t, f: newTestFSM(t)}
			r.ok(3600, directory.KindDirectoryLoad, cluster.SystemActor, demoWithSouthCovering(t))
			l := cmdLog(uint64(len(r.logs)+1), kindEnvAt(t, tc.lv, directory.KindServiceStatus, 3610, tc.actor,
				directory.ServiceStatus{ServiceID: tc.service, Status: "red", Note: "scope test"}))
			r.logs = append(r.logs, l)
			res := resultValue(t, r.f.ApplyBatch([]*raft.Log{l})[0])
			var rag string
			r.view(func(v *cluster.View) {
				svc, err := directory.In(v).Service(tc.service)
				if err != nil {
					t.Fatal(err)
				}
				rag = string(svc.RAG.Status)
			})
			switch {
			case tc.allowed && (res.Err != nil || rag != "red"):
				t.Fatalf("want allowed: %+v, status %q", res.Err, rag)
			case !tc.allowed && (res.Err == nil || res.Err.Code != access.CodeForbidden):
				t.Fatalf("want forbidden, got %+v", res.Err)
			case !tc.allowed && rag == "red":
				t.Fatalf("a refused status change changed the service")
			}
		})
	}
}

// TestScopedResponderActsOnlyForItsTeam: a responder key scoped to one team
// cannot accept, decline or update another team's dispatch (forbidden,
// nothing changes); it can act on its own team's; an unscoped responder key
// still acts on any team's dispatch.
func TestScopedResponderActsOnlyForItsTeam(t *testing.T) {
	r := &dispatchRun{t: t, f: newTestFSM(t)}
	north := cluster.Actor{ID: "k-north", Name: "UCR North", Role: access.RoleResponder, ServiceID: "ucr-north"}
	south := cluster.Actor{ID: "k-south", Name: "UCR South", Role: access.RoleResponder, ServiceID: "ucr-south"}
	r.ok(3600, directory.KindDirectoryLoad, cluster.SystemActor, demoWithSouthCovering(t))
	r.ok(3601, KindAttendanceCreate, testDesk, fallCall(), "A1")
	d := r.dispatch("A1-d1")
	if d.ServiceID != "ucr-north" {
		t.Fatalf("dispatch to %s, want ucr-north", d.ServiceID)
	}
	eta := testEpoch.Add(3601*time.Second + 40*time.Minute)

	for _, cmd := range []struct {
		kind    cluster.Kind
		payload any
	}{
		{KindDispatchAccept, DispatchAccept{DispatchID: "A1-d1", ETA: eta}},
		{KindDispatchDecline, DispatchDecline{DispatchID: "A1-d1", Reason: "not ours"}},
		{KindDispatchStatus, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchEnRoute}},
	} {
		res := r.apply(3610, cmd.kind, south, cmd.payload)
		if res.Err == nil || res.Err.Code != access.CodeForbidden {
			t.Errorf("%s by another team's key: want forbidden, got %+v", cmd.kind, res.Err)
		}
	}
	if got := r.dispatch("A1-d1"); got.Status != DispatchPending || got.AcceptedBy != nil || got.DeclineReason != "" {
		t.Fatalf("refused commands changed the dispatch: %+v", got)
	}

	r.ok(3620, KindDispatchAccept, north, DispatchAccept{DispatchID: "A1-d1", ETA: eta})
	r.ok(3630, KindDispatchStatus, north, DispatchStatusChange{DispatchID: "A1-d1", Status: DispatchEnRoute})
	if got := r.dispatch("A1-d1"); got.Status != DispatchEnRoute || got.AcceptedBy == nil || got.AcceptedBy.ServiceID != "ucr-north" {
		t.Fatalf("own team's dispatch: %+v", got)
	}

	// An unscoped responder key (dispResponder) keeps acting for any team.
	call := fallCall()
	call.CaseRef = "111-CASE-0002"
	r.ok(3700, KindAttendanceCreate, testDesk, call, "A2")
	d2 := r.dispatch("A2-d1")
	r.ok(3710, KindDispatchDecline, dispResponder, DispatchDecline{DispatchID: d2.ID, Reason: "both crews out"})
	if got := r.dispatch("A2-d1"); got.Status != DispatchDeclined {
		t.Fatalf("unscoped decline: %+v", got)
	}
	next := r.dispatch("A2-d2")
	if next.ServiceID == d2.ServiceID {
		t.Fatalf("declined dispatch went back to %s", next.ServiceID)
	}
	r.ok(3720, KindDispatchAccept, dispResponder, DispatchAccept{DispatchID: "A2-d2", ETA: testEpoch.Add(3720*time.Second + 30*time.Minute)})
}
