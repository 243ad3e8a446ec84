package clinic_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// The golden data dir: testdata/golden-logic4.tar.gz is the raft log
// (raft/raft.db) and the Badger state (fsm/) of a single node that served
// `frontdoor loadtest --spawn 1 --workload mix --requests 60 --seed 7`
// under logic version 4 (walk-ins with answers, observations, confirmations,
// registrations, NHS 111 referrals, dispatches and their webhooks), and
// golden-logic4.hash the state hash and applied index that release recorded.
// Whatever the code's shape, today's binary must read that state as it was
// written and, replaying that log into an empty state machine, reach the
// same state byte for byte.
const goldenArchive = "testdata/golden-logic4.tar.gz"

func TestGoldenDataDirReadsAndReplaysToTheRecordedHash(t *testing.T) {
	want, wantApplied := readGoldenHash(t)
	dir := t.TempDir()
	untarGz(t, goldenArchive, dir)

	t.Run("state as written", func(t *testing.T) {
		r, err := cluster.OpenReplica(filepath.Join(dir, "fsm"), clinic.Commands(), fsmtest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, applied, err := r.StateHash()
		if err != nil {
			t.Fatal(err)
		}
		if got != want || applied != wantApplied {
			t.Fatalf("golden state reads as %s at %d, recorded %s at %d", got, applied, want, wantApplied)
		}
	})

	t.Run("log replayed", func(t *testing.T) {
		logs, kinds := goldenLog(t, filepath.Join(dir, "raft", "raft.db"))
		t.Logf("replaying %d entries carrying %s", len(logs), kinds)
		for _, k := range []string{"attendance.create", "attendance.answer", "attendance.observe", "attendance.patient", "patient.create", "registration.create", "dispatch.accept", "protocols.load", "directory.load", "cluster.init"} {
			if !strings.Contains(" "+kinds, " "+k+"=") {
				t.Errorf("the golden log carries no %s; it no longer covers what it should", k)
			}
		}
		f := fsmtest.Open(t, clinic.Commands())
		fsmtest.ApplyInBatches(f, logs, 64)
		if f.FatalCount() != 0 {
			t.Fatalf("replay stopped the state machine: %v", f.Fatals())
		}
		got, applied := fsmtest.MustHash(t, f)
		if got != want || applied != wantApplied {
			t.Fatalf("replayed golden log gives %s at %d, recorded %s at %d", got, applied, want, wantApplied)
		}
	})
}

func readGoldenHash(t *testing.T) (string, uint64) {
	t.Helper()
	b, err := os.ReadFile(strings.TrimSuffix(goldenArchive, ".tar.gz") + ".hash")
	if err != nil {
		t.Fatal(err)
	}
	var hash string
	var applied uint64
	if _, err := fmt.Sscanf(string(b), "%s %d", &hash, &applied); err != nil {
		t.Fatalf("golden hash file: %v", err)
	}
	return hash, applied
}

// goldenLog reads every entry of a raft-boltdb log, and a summary of the
// command kinds it carries.
func goldenLog(t *testing.T, path string) ([]*raft.Log, string) {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	first, err := store.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first != 1 {
		t.Fatalf("golden log starts at %d: it was compacted, so a replay cannot rebuild the state", first)
	}
	counts := map[cluster.Kind]int{}
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		l := new(raft.Log)
		if err := store.GetLog(i, l); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		logs = append(logs, l)
		if l.Type != raft.LogCommand {
			continue
		}
		envs, err := cluster.DecodeEntry(l.Data)
		if err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		for _, env := range envs {
			counts[env.Kind]++
		}
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	return logs, strings.Join(parts, " ")
}

func untarGz(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("archive entry %q leaves the folder", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
