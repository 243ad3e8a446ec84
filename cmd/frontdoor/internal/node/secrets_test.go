package node_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestSecretsStayOutOfOutputAndLogs starts a new cluster of two nodes, the
// second joining with its token read from a file (--join-token-file), with
// every log line of both nodes kept at debug level. Standard output (what
// journald keeps) names where the admin key and the join token are and
// shows neither; no log line carries either; the files holding them are
// 0600.
func TestSecretsStayOutOfOutputAndLogs(t *testing.T) {
	logs := &nodetest.SyncBuffer{}
	tokenDir := t.TempDir()
	var tokenFile string
	tc := nodetest.NewWith(t, 2, func(c *node.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", c.NodeID)
		if c.JoinToken != "" {
			// As an operator would: a copy of the first node's join.token.
			tokenFile = filepath.Join(tokenDir, "join.token")
			if err := os.WriteFile(tokenFile, []byte(c.JoinToken+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.JoinToken, c.JoinTokenFile = "", tokenFile
		}
	})
	if tokenFile == "" {
		t.Fatal("the second node was not given a join token file")
	}
	first := tc.Nodes[0]
	keyPath := filepath.Join(first.Dir, node.AdminKeyFile)
	out := first.Out.String()
	for _, want := range []string{"admin API key is in " + keyPath, "join token in " + filepath.Join(first.Dir, node.JoinTokenFile)} {
		if !strings.Contains(out, want) {
			t.Errorf("first node's standard output does not say %q:\n%s", want, out)
		}
	}
	if logs.String() == "" {
		t.Fatal("no log lines captured: the check below would prove nothing")
	}
	secrets := map[string]string{"admin key": tc.AdminKey, "join token": tc.Token}
	for name, secret := range secrets {
		if len(secret) < 32 {
			t.Fatalf("%s %q: too short to be the real secret", name, secret)
		}
		for i, tn := range tc.Nodes {
			if strings.Contains(tn.Out.String(), secret) {
				t.Errorf("node %d's standard output shows the %s", i+1, name)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a log line carries the %s", name)
		}
	}
	// The joiner works from the file: it kept the token for restarts.
	kept, err := os.ReadFile(filepath.Join(tc.Nodes[1].Dir, node.JoinTokenFile))
	if err != nil || strings.TrimSpace(string(kept)) != tc.Token {
		t.Errorf("joiner's kept token: %v (same as the file's: %v)", err, strings.TrimSpace(string(kept)) == tc.Token)
	}
	for _, p := range []string{keyPath, filepath.Join(first.Dir, node.JoinTokenFile), filepath.Join(tc.Nodes[1].Dir, node.JoinTokenFile)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
}

// TestJoinTokenFileRefused: a --join-token-file that is missing or empty
// stops a fresh joiner with an error naming the flag, before it joins.
func TestJoinTokenFileRefused(t *testing.T) {
	tc := nodetest.New(t, 1)
	empty := filepath.Join(t.TempDir(), "empty.token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "--join-token-file"},
		{"empty", empty, "is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tc.Config(0)
			cfg.DataDir, cfg.NodeID = filepath.Join(dir, "joiner"), "joiner"
			cfg.HTTPAddr, cfg.RaftAddr = nodetest.FreeAddr(t), nodetest.FreeAddr(t)
			cfg.Join, cfg.JoinToken, cfg.JoinTokenFile = []string{tc.Nodes[0].HTTPAddr}, "", tt.file
			n, err := node.Start(t.Context(), cfg, &nodetest.SyncBuffer{})
			if err == nil {
				_ = n.Shutdown()
				t.Fatal("started without a usable join token")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
