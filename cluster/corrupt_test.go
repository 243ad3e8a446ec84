package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// flipAll changes one byte inside every copy of marker in the file.
func flipAll(t *testing.T, path string, marker []byte) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, marker); i >= 0; {
		b[i+len(marker)/2] ^= 0x01
		n++
		j := bytes.Index(b[i+1:], marker)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// reopen opens a stopped node's store again and returns Open's error (a
// store that opened is closed again).
func reopen(ctx context.Context, t *testing.T, c *clustertest.Cluster, nd *clustertest.Node) error {
	t.Helper()
	cfg := c.Config(nd)
	cfg.Registerer = nil
	s, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(ctx)
	if err == nil {
		s.Close(ctx)
	}
	return err
}

// TestCorruptRaftLogIsRefused: a byte changed inside an entry of raft.db
// (a complaint's text), or a truncated raft.db, stops the node at start
// with an error naming the file (and the entry), never a panic, and
// nothing of the changed entry is applied.
func TestCorruptRaftLogIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    []string
	}{
		{"a byte of an entry", func(t *testing.T, path string) {
			if flipAll(t, path, []byte("corrupt-me-please")) == 0 {
				t.Fatal("marker not found in raft.db")
			}
		}, []string{"raft.db", "index", "MAC"}},
		{"truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		}, []string{"raft.db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clustertest.New(t, 1, clustertest.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			nd := c.Leader(ctx)
			for _, complaint := range []string{"before", "corrupt-me-please", "after"} {
				if _, _, err := clustertest.CreateAttendance(ctx, nd, complaint, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Stop(ctx, nd); err != nil {
				t.Fatal(err)
			}
			tc.corrupt(t, filepath.Join(nd.Dir, "raft", "raft.db"))
			err := reopen(ctx, t, c, nd)
			if err == nil {
				t.Fatal("a corrupt raft log opened")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q does not name %q", err, w)
				}
			}
			if tc.name == "a byte of an entry" && !errors.Is(err, cluster.ErrCorruptLog) {
				t.Errorf("refusal %v is not ErrCorruptLog", err)
			}
		})
	}
}

// TestCorruptStateTableIsRefused: a byte changed in a Badger table stops
// the node at start with an error naming the table, not a panic.
func TestCorruptStateTableIsRefused(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	for i := 0; i < 50; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, nd, "table filler", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	tables, _ := filepath.Glob(filepath.Join(nd.Dir, "fsm", "*", "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no Badger table written on close")
	}
	b, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(tables[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	err = reopen(ctx, t, c, nd)
	if err == nil {
		t.Fatal("a corrupt state table opened")
	}
	if !errors.Is(err, cluster.ErrCorruptState) || !strings.Contains(err.Error(), filepath.Base(tables[0])) {
		t.Errorf("refusal %q is not ErrCorruptState naming %s", err, filepath.Base(tables[0]))
	}
	t.Log(err)
}

// TestVerifyDataDir is `frontdoor verify`: a stopped node's data dir
// checks clean, then names the entry once a byte of raft.db changes.
func TestVerifyDataDir(t *testing.T) {
	tuning := cluster.FastRaftTuning()
	tuning.CheckpointEvery = 4
	c := clustertest.New(t, 1, clustertest.Options{Raft: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	for _, complaint := range []string{"one", "verify-marker-text", "three", "four", "five", "six"} {
		if _, _, err := clustertest.CreateAttendance(ctx, nd, complaint, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := nd.Store.Checkpoints()
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	rep, err := cluster.VerifyDataDir(nd.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LogEntries == 0 || rep.Tables == 0 || rep.AppliedIndex == 0 || len(rep.Checkpoints) != len(want) {
		t.Fatalf("report %+v, checkpoints want %v", rep, want)
	}
	flipAll(t, filepath.Join(nd.Dir, "raft", "raft.db"), []byte("verify-marker-text"))
	if _, err := cluster.VerifyDataDir(nd.Dir, nil); !errors.Is(err, cluster.ErrCorruptLog) || !strings.Contains(err.Error(), "index") {
		t.Fatalf("verify of a changed raft.db: %v", err)
	}
}
