package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// practiceAttendance is the part of an attendance the practice tests read.
type practiceAttendance struct {
	ID      string `json:"id"`
	Context struct {
		RegisteredPractice string `json:"registered_practice"`
	} `json:"context"`
	Routing struct {
		Patient  routing.Patient  `json:"patient"`
		Decision routing.Decision `json:"decision"`
	} `json:"routing"`
}

// TestRegisteredPracticeRoutesThroughTheAPI is the practice question
// through the cluster: an NHS 111 referral (GP within 6 hours) naming the
// person's practice as GET /v1/practices lists it is stored with its ODS
// code and routed to that practice while it is open with capacity; "none"
// is recorded as "none" and goes to the centre's GP service; an unknown
// practice is a 422 problem naming the field that changes nothing; and
// with the centre's GP service shut a 2-hour referral goes to the ED and
// the explanation shows the gap in words.
func TestRegisteredPracticeRoutesThroughTheAPI(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon) // Monday 14:00: the practices' afternoon session
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	nhs111 := nodetest.BearerHeader(tc.Key(t, access.RoleNHS111, "NHS 111"))
	doc := nodetest.BearerHeader(tc.Key(t, access.RoleClinician, "Dr Patel"))

	// The list the page offers.
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/practices", "", desk)
	var list struct {
		Practices []routing.Practice `json:"practices"`
	}
	nodetest.DecodeJSON(t, b, &list)
	name := ""
	for _, p := range list.Practices {
		if p.ODSCode == "X99001" {
			name = p.Name
		}
	}
	if resp.StatusCode != http.StatusOK || name == "" {
		t.Fatalf("practices: %d %s", resp.StatusCode, b)
	}
	dx := "Dx06"
	referral := func(practice string) string {
		ctx, _ := json.Marshal(map[string]any{"age_years": 52, "sex": "male", "registered_practice": practice})
		return `{"complaint":"cough for three weeks","channel":"nhs111","dx":{"code":"` + dx + `"},"patient":{"postcode":"DY1 1AC"},"context":` + string(ctx) + `}`
	}
	create := func(practice string) practiceAttendance {
		t.Helper()
		resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances", referral(practice), nhs111)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create with practice %q: %d %s", practice, resp.StatusCode, b)
		}
		var a practiceAttendance
		nodetest.DecodeJSON(t, b, &a)
		return a
	}

	a := create(name)
	if a.Context.RegisteredPractice != "X99001" || a.Routing.Patient.RegisteredPractice != "X99001" || a.Routing.Decision.ServiceID != "gp-x99001" {
		t.Fatalf("named %q: stored %q, routed to %s for practice %q", name, a.Context.RegisteredPractice,
			a.Routing.Decision.ServiceID, a.Routing.Patient.RegisteredPractice)
	}
	if r := rejection(a.Routing.Decision, "gp-ucc-stream"); r.Reason != "suitable, but the patient's own practice comes first" {
		t.Errorf("the centre's GP service: %+v", r)
	}
	if r := rejection(a.Routing.Decision, "miu-castlegate"); r.Code != routing.RejectCareNeedsOnly || !strings.Contains(r.Reason, "minor injury treatment (minor_injury)") {
		t.Errorf("minor injuries: %+v", r)
	}

	none := create("none")
	if none.Context.RegisteredPractice != "none" || none.Routing.Patient.RegisteredPractice != "" || none.Routing.Decision.ServiceID != "gp-ucc-stream" {
		t.Fatalf("none: stored %q, routed to %s", none.Context.RegisteredPractice, none.Routing.Decision.ServiceID)
	}
	if r := rejection(none.Routing.Decision, "gp-x99001"); r.Code != routing.RejectNotRegistered {
		t.Errorf("a practice for someone without one: %+v", r)
	}

	lead := tc.Leader(t)
	before := lead.N.Store().Status().LastIndex
	for _, tn := range []*nodetest.Node{lead, tc.Follower(t)} {
		resp, b = tc.DoRetry(t, tn, http.MethodPost, "/v1/attendances", referral("Nowhere Surgery"), nhs111)
		p := expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "context.registered_practice")
		if !strings.Contains(p.Errors["context.registered_practice"], "GET /v1/practices") {
			t.Errorf("problem %+v", p)
		}
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft last index moved from %d to %d on an unknown practice", before, after)
	}

	// The centre's GP service shut: nothing at the GP level can see them
	// within 2 hours (the access hub opens at 18:30).
	dx = "Dx05"
	streamDesk := nodetest.BearerHeader(tc.ScopedKey(t, access.RoleReception, "GP stream desk", "gp-ucc-stream")) // its own staff
	if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/services/gp-ucc-stream/status", `{"status":"red"}`, streamDesk); resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	gap := create("none")
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/attendances/"+gap.ID+"/explain", "", doc)
	var ex api.ExplainBody
	nodetest.DecodeJSON(t, b, &ex)
	if resp.StatusCode != http.StatusOK || ex.Routing == nil || ex.Routing.Chosen.ServiceID != "ed-castlegate" || ex.Routing.Gap == nil ||
		ex.Routing.Gap.Reason != "no GP service could see them within 2 hours, so they go to Castlegate General Hospital Emergency Department (fictional) instead" {
		t.Fatalf("explanation of the gap: %d %s", resp.StatusCode, b)
	}
}

func rejection(d routing.Decision, id string) routing.Rejection {
	for _, r := range d.Rejections.All() {
		if r.ServiceID == id {
			return r
		}
	}
	return routing.Rejection{}
}

// TestExplanationCarriesGapAndFallbackReasons: the explanation passes on
// the routing's words for a gap and a fallback.
func TestExplanationCarriesGapAndFallbackReasons(t *testing.T) {
	a := &care.Attendance{ID: "A1", Routing: &care.RoutingRecord{Decision: routing.Decision{ServiceID: "ed-castlegate", Fallback: true,
		FallbackReason: "nothing suitable from pharmacy level up could see them within 1 hour: the ED is the safe default (always open)",
		Gap:            &routing.ServiceGap{Tier: routing.TierPharmacy, Reason: "no pharmacy service could see them within 1 hour"}}}}
	b, err := json.Marshal(api.ExplainOf(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"fallback":true`, `"fallback_reason":"nothing suitable from pharmacy level up`, `"reason":"no pharmacy service could see them within 1 hour"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("explanation lacks %s: %s", want, b)
		}
	}
}

// TestOpenAPIListsRegisteredPractice: /openapi.json lists the context's
// registered_practice with a description.
func TestOpenAPIListsRegisteredPractice(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	b, err := json.Marshal(api.BuildOpenAPI("dev"))
	if err != nil {
		t.Fatal(err)
	}
	nodetest.DecodeJSON(t, b, &doc)
	prop, ok := doc.Components.Schemas["TriageContext"].Properties["registered_practice"]
	if d, _ := prop["description"].(string); !ok || !strings.Contains(d, "GET /v1/practices") || !strings.Contains(d, `"none"`) {
		t.Errorf("TriageContext.registered_practice: %v", prop)
	}
}
