package api_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestCorruptDataDirServesNotReady: a node whose raft.db had a byte of an
// entry changed while it was stopped does not join the cluster, and does
// not exit either: it serves /readyz as not ready, naming raft.db and the
// entry's index, and reports itself quarantined in its figures.
func TestCorruptDataDirServesNotReady(t *testing.T) {
	tc := nodetest.New(t, 1)
	tn := tc.Nodes[0]
	resp, b := tc.Do(t, tn, http.MethodPost, "/v1/attendances", `{"complaint":"corrupt-me-marker"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("arrival: %d %s", resp.StatusCode, b)
	}
	tc.Stop(t, 0)
	path := filepath.Join(tn.Dir, "raft", "raft.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("corrupt-me-marker")
	if bytes.Index(raw, marker) < 0 {
		t.Fatal("marker not in raft.db")
	}
	for i := bytes.Index(raw, marker); i >= 0; {
		raw[i+3] ^= 1
		j := bytes.Index(raw[i+1:], marker)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tc.Start(t, 0)
	resp, b = tc.Do(t, tn, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "quarantined") ||
		!strings.Contains(string(b), "raft.db") || !strings.Contains(string(b), "index") {
		t.Fatalf("/readyz of a node with a corrupt raft.db: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tn, http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(b), "frontdoor_node_quarantined 1") {
		t.Fatalf("metrics do not report the quarantine: %d", resp.StatusCode)
	}
}
