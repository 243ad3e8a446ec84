package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"

	"github.com/spf13/cobra"
)

// TestServeFlagsFromEnv checks that every serve flag reads FRONTDOOR_<FLAG>
// and that a flag given on the command line wins over the environment.
func TestServeFlagsFromEnv(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]string // flag -> value after PersistentPreRunE
	}{
		{
			name: "defaults",
			want: map[string]string{"data-dir": "./frontdoor-data", "http-addr": "127.0.0.1:8080", "raft-addr": "127.0.0.1:7000", "join": "[]"},
		},
		{
			name: "env sets every flag",
			env: map[string]string{
				"FRONTDOOR_DATA_DIR": "/tmp/d", "FRONTDOOR_NODE_ID": "n9", "FRONTDOOR_HTTP_ADDR": "127.0.0.1:9",
				"FRONTDOOR_RAFT_ADDR": "127.0.0.1:10", "FRONTDOOR_RAFT_ADVERTISE": "10.0.0.1:10",
				"FRONTDOOR_JOIN": "127.0.0.1:1,127.0.0.1:2", "FRONTDOOR_JOIN_TOKEN_FILE": "/etc/frontdoor/join.token",
			},
			want: map[string]string{"data-dir": "/tmp/d", "node-id": "n9", "http-addr": "127.0.0.1:9", "raft-addr": "127.0.0.1:10",
				"raft-advertise": "10.0.0.1:10", "join": "[127.0.0.1:1,127.0.0.1:2]", "join-token-file": "/etc/frontdoor/join.token"},
		},
		{
			name: "flags win over env",
			args: []string{"--data-dir", "/flag", "--join", "127.0.0.1:3"},
			env:  map[string]string{"FRONTDOOR_DATA_DIR": "/env", "FRONTDOOR_JOIN": "127.0.0.1:4", "FRONTDOOR_NODE_ID": "from-env"},
			want: map[string]string{"data-dir": "/flag", "join": "[127.0.0.1:3]", "node-id": "from-env"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			root := newRootCmd()
			serve, _, err := root.Find([]string{"serve"})
			if err != nil {
				t.Fatal(err)
			}
			// Stop after flag handling: replace RunE, keep PersistentPreRunE.
			serve.RunE = func(*cobra.Command, []string) error { return nil }
			root.SetArgs(append([]string{"serve"}, tt.args...))
			root.SetOut(&bytes.Buffer{})
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			for flag, want := range tt.want {
				if got := serve.Flags().Lookup(flag).Value.String(); got != want {
					t.Errorf("--%s = %q, want %q", flag, got, want)
				}
			}
		})
	}
}

func TestEnvBadValueIsAnError(t *testing.T) {
	t.Setenv("FRONTDOOR_SHUTDOWN_TIMEOUT", "soon")
	root := newRootCmd()
	serve, _, _ := root.Find([]string{"serve"})
	serve.RunE = func(*cobra.Command, []string) error { return nil }
	root.SetArgs([]string{"serve"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "FRONTDOOR_SHUTDOWN_TIMEOUT") {
		t.Fatalf("err = %v, want one naming FRONTDOOR_SHUTDOWN_TIMEOUT", err)
	}
}

func TestVersionCommand(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "frontdoor "+version) {
		t.Fatalf("version printed %q", out.String())
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"data-dir": "FRONTDOOR_DATA_DIR", "join": "FRONTDOOR_JOIN", "raft-advertise": "FRONTDOOR_RAFT_ADVERTISE"} {
		if got := envName(envPrefix, flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestServeRefusesUnreachableAdvertisedAddress: listening on all interfaces
// without --http-advertise would replicate 0.0.0.0 as this node's address,
// and followers could not forward to it.
func TestServeRefusesUnreachableAdvertisedAddress(t *testing.T) {
	root := newRootCmd()
	root.SetOut(&bytes.Buffer{})
	root.SetArgs([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "0.0.0.0:0", "--raft-addr", nodetest.FreeAddr(t)})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "--http-advertise") {
		t.Fatalf("err = %v, want one asking for --http-advertise", err)
	}
}
