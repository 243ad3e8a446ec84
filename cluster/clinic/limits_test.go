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

// TestDirectoryLoadWebhookRules: from logic version 8 a directory whose
// webhooks break the rules is not loaded; one that lists its teams'
// destinations in webhook_allowlist is, and that list becomes the state's.
func TestDirectoryLoadWebhookRules(t *testing.T) {
	admin := cluster.Actor{ID: "k-admin", Name: "Admin", Role: "admin"}
	load := func(t *testing.T, lv int, edit func(d *routing.Directory)) (*fsmtest.FSM, *cluster.Result) {
		d, err := routing.DemoDirectory()
		if err != nil {
			t.Fatal(err)
		}
		edit(d)
		f := fsmtest.Open(t, clinic.Commands())
		return f, fsmtest.ApplyOne(t, f, 1, fsmtest.KindEnvAt(t, lv, directory.KindDirectoryLoad, 1, admin, d))
	}
	setHook := func(url string) func(d *routing.Directory) {
		return func(d *routing.Directory) {
			for i := range d.Services {
				if d.Services[i].Webhook != nil {
					d.Services[i].Webhook.URL = url
					return
				}
			}
		}
	}
	for _, url := range []string{"gopher://10.0.0.1:70/_x", "https://169.254.169.254/", "https://ucr.trust.example/hook", "not a url"} {
		if _, r := load(t, 8, setHook(url)); r.Err == nil || r.Err.Code != cluster.CodeInvalid {
			t.Fatalf("%s: loaded at logic 8 (%v)", url, r.Err)
		}
		if url != "not a url" {
			if _, r := load(t, 7, setHook(url)); r.Err != nil {
				t.Fatalf("%s at logic 7: %v", url, r.Err)
			}
		}
	}
	f, r := load(t, 8, func(d *routing.Directory) {
		setHook("https://ucr.trust.example/hook")(d)
		d.WebhookAllowList = &routing.WebhookAllowList{Hosts: []string{"ucr.trust.example"}, CIDRs: []string{"10.40.0.0/16"}}
	})
	if r.Err != nil {
		t.Fatalf("with its allow-list: %v", r.Err)
	}
	f.ReadState(t, func(v *cluster.View) error {
		a, err := directory.In(v).WebhookAllowList()
		if err != nil || strings.Join(a.Hosts, ",") != "ucr.trust.example" || strings.Join(a.CIDRs, ",") != "10.40.0.0/16" {
			t.Fatalf("allow-list in state %+v %v", a, err)
		}
		return nil
	})
}
