package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestRetentionExtraYearsRefused: a retention setting that would shorten
// the code's periods, or is past the most a centre may add, stops the
// node before it opens anything.
func TestRetentionExtraYearsRefused(t *testing.T) {
	for _, years := range []int{-1, 51} {
		dir := t.TempDir()
		cfg := node.Config{DataDir: filepath.Join(dir, "d"), NodeID: "n1", HTTPAddr: nodetest.FreeAddr(t), RaftAddr: nodetest.FreeAddr(t),
			Logger: nodetest.Logger(), RetentionExtraYears: years}
		n, err := node.Start(t.Context(), cfg, &nodetest.SyncBuffer{})
		if err == nil {
			_ = n.Shutdown()
			t.Fatalf("started with --retention-extra-years %d", years)
		}
		if !strings.Contains(err.Error(), "--retention-extra-years") {
			t.Errorf("error %q does not name the flag", err)
		}
		if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
			t.Errorf("the data dir was made (%v)", err)
		}
	}
}
