package loadtest

import (
	"strings"
	"testing"
	"time"
)

// TestOptionsValidate: every refused combination names the flag and says
// what to do; good options get their defaults.
func TestOptionsValidate(t *testing.T) {
	ok := func() Options { return Options{Spawn: 3, Binary: "/bin/frontdoor", Concurrency: 4} }
	cases := []struct {
		name string
		edit func(*Options)
		want string // "" -> valid
	}{
		{"spawn defaults", func(*Options) {}, ""},
		{"targets", func(o *Options) {
			o.Spawn, o.Targets = 0, []string{"http://127.0.0.1:8080/", "https://ucc.example:443"}
		}, ""},
		{"neither", func(o *Options) { o.Spawn = 0 }, "nothing to load: give --target URL[,URL...] of an existing cluster, or --spawn 3"},
		{"both", func(o *Options) { o.Targets = []string{"http://a:1"} }, "either --target (drive an existing cluster) or --spawn N"},
		{"bad url", func(o *Options) { o.Spawn, o.Targets = 0, []string{"127.0.0.1:8080"} }, `--target "127.0.0.1:8080": want a base URL such as http://127.0.0.1:8080`},
		{"too many nodes", func(o *Options) { o.Spawn = 12 }, "--spawn 12: want 1 to 9 nodes"},
		{"zero concurrency", func(o *Options) { o.Concurrency = 0 }, "--concurrency 0: want 1 to 4096"},
		{"negative rate", func(o *Options) { o.Rate = -1 }, "--rate -1"},
		{"negative duration", func(o *Options) { o.Duration = -time.Second }, "--duration -1s: must not be negative"},
		{"negative requests", func(o *Options) { o.Requests = -5 }, "--requests -5: must not be negative"},
		{"unknown workload", func(o *Options) { o.Workload = "stampede" }, `--workload "stampede": want one of create, dispatch, mix, nhs111, walkin`},
		{"walkin", func(o *Options) { o.Workload = "walkin" }, ""},
		{"dispatch", func(o *Options) { o.Workload = "dispatch" }, ""},
		{"dispatch without spawn", func(o *Options) { o.Spawn, o.Targets, o.Workload = 0, []string{"http://a:1"}, "dispatch" }, "--workload dispatch needs --spawn"},
		{"mix", func(o *Options) { o.Workload = "mix" }, ""},
		{"nhs111", func(o *Options) { o.Workload = "nhs111" }, ""},
		{"chaos without spawn", func(o *Options) { o.Spawn, o.Targets, o.Chaos = 0, []string{"http://a:1"}, ChaosKillLeader }, "--chaos kill-leader needs --spawn: loadtest only kills processes it started itself"},
		{"kill-leader on one node", func(o *Options) { o.Spawn, o.Chaos = 1, ChaosKillLeader }, "--chaos kill-leader needs --spawn 3 or more"},
		{"restart-all on one node", func(o *Options) { o.Spawn, o.Chaos = 1, ChaosRestartAll }, ""},
		{"unknown chaos", func(o *Options) { o.Chaos = "kill-all" }, `--chaos "kill-all": want kill-leader, kill-random, restart-all or partition`},
		{"chaos too often", func(o *Options) { o.Chaos, o.ChaosEvery = ChaosKillRandom, 100*time.Millisecond }, "--chaos-every 100ms: want at least 1s"},
		{"op timeout too short", func(o *Options) { o.OpTimeout = time.Millisecond }, "--op-timeout 1ms: want at least 100ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok()
			c.edit(&o)
			err := o.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Targets: []string{"http://127.0.0.1:8080/"}, Concurrency: 1}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Duration != DefaultDuration || o.Workload != "create" || o.ChaosEvery != 10*time.Second || o.OpTimeout != 30*time.Second {
		t.Fatalf("defaults: %+v", o)
	}
	if o.Targets[0] != "http://127.0.0.1:8080" {
		t.Fatalf("target %q keeps its trailing slash", o.Targets[0])
	}
	// --requests alone bounds the run by count, not by the default duration.
	o = Options{Targets: []string{"http://a:1"}, Concurrency: 1, Requests: 100}
	if err := o.Validate(); err != nil || o.Duration != 0 {
		t.Fatalf("requests only: duration %v err %v", o.Duration, err)
	}
}
