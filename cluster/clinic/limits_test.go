package clinic_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestApplyHoldsLimitsAndWebhookRules: a command that reaches the log
// without the HTTP layer's checks (another binary's leader, a forwarded
// proposal) is refused by Apply from logic version 8 with CodeInvalid and
// writes nothing; the same entry at logic version 7 applies as it did
// when it was first written.
func TestApplyHoldsLimitsAndWebhookRules(t *testing.T) {
	admin := cluster.Actor{ID: "k-admin", Name: "Admin", Role: "admin"}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	team := demo.Services[0]
	for _, s := range demo.Services {
		if s.Webhook != nil {
			team = s
		}
	}
	withHook := func(url, secret string) json.RawMessage {
		s := team
		s.Webhook = &routing.Webhook{URL: url, Secret: secret}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const secret = "whsec_c2FmZS13ZWJob29rLXNlY3JldC0zMi1ieXRlcy0hIQ=="
	tests := []struct {
		name    string
		kind    cluster.Kind
		payload json.RawMessage
		field   string
	}{
		{"date of birth in 1800", care.KindPatientCreate, json.RawMessage(`{"given_name":"Ann","family_name":"Old","date_of_birth":"1800-01-01","confirm_new":true}`), "date_of_birth"},
		{"bidi override in a name", care.KindPatientCreate, json.RawMessage(`{"given_name":"Ann\u202e","family_name":"Smith","date_of_birth":"1970-01-01","confirm_new":true}`), "given_name"},
		{"duplicate key", care.KindPatientCreate, json.RawMessage(`{"given_name":"Ann","given_name":"Bob","family_name":"Smith","date_of_birth":"1970-01-01","confirm_new":true}`), "given_name"},
		{"a long family name", care.KindPatientCreate, json.RawMessage(`{"given_name":"Ann","family_name":"` + strings.Repeat("s", 101) + `","date_of_birth":"1970-01-01","confirm_new":true}`), "family_name"},
		{"metadata webhook", directory.KindServicePut, withHook("https://169.254.169.254/latest/meta-data/", secret), "webhook.url"},
		{"gopher webhook", directory.KindServicePut, withHook("gopher://127.0.0.1:70/_x", secret), "webhook.url"},
		{"unlisted private webhook", directory.KindServicePut, withHook("https://10.1.2.3/hook", secret), "webhook.url"},
		{"one-letter secret", directory.KindServicePut, withHook("http://127.0.0.1:9/hook", "a"), "webhook.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fsmtest.Open(t, clinic.Commands())
			if r := fsmtest.ApplyOne(t, f, 1, fsmtest.KindEnv(t, directory.KindDirectoryLoad, 1, admin, demo)); r.Err != nil {
				t.Fatalf("demo directory at logic %d: %v", cluster.LogicVersion, r.Err)
			}
			before := fsmtest.DataHash(t, f)
			r := fsmtest.ApplyOne(t, f, 2, fsmtest.KindEnvAt(t, 8, tt.kind, 2, admin, tt.payload, "P1"))
			if r.Err == nil || r.Err.Code != cluster.CodeInvalid {
				t.Fatalf("logic 8: %+v %s", r.Err, r.Value)
			}
			if _, ok := r.Err.Fields[tt.field]; !ok {
				t.Fatalf("logic 8: errors %v do not name %s", r.Err.Fields, tt.field)
			}
			if fsmtest.DataHash(t, f) != before {
				t.Fatal("a refused command changed the state")
			}
			if r := fsmtest.ApplyOne(t, f, 3, fsmtest.KindEnvAt(t, 7, tt.kind, 3, admin, tt.payload, "P1")); r.Err != nil {
				t.Fatalf("logic 7 replays as before, accepted: %v", r.Err)
			}
		})
	}
}
