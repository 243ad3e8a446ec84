package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// The patient every test here writes; what must never be on disk in
// clear once encryption is on.
const (
	secretName = "Quennell-Barraclough"
	secretNHS  = "9434765919"
)

func newMasterKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, cluster.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// createPatient proposes an attendance for the secret patient through the
// real command (care's attendance.create).
func createPatient(ctx context.Context, t *testing.T, nd *clustertest.Node) (index uint64, id string) {
	t.Helper()
	body, _ := json.Marshal(care.AttendanceCreate{
		Patient:   care.Patient{GivenName: "Ottoline", FamilyName: secretName, NHSNumber: secretNHS, DateOfBirth: "1961-04-12"},
		Complaint: "chest pain",
	})
	res, err := nd.Store.Propose(ctx, cluster.Proposal{
		Kind: care.KindAttendanceCreate, Actor: cluster.Actor{ID: "test", Name: "Test Receptionist", Role: "reception"}, Payload: body,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		t.Fatal(err)
	}
	return res.Index, a.ID
}

// scanDataDir returns, for each secret, the data dir's files (relative)
// that hold it in clear; it also checks every file is 0600 and every
// folder 0700 when modes is set.
func scanDataDir(t *testing.T, dir string, modes bool, found map[string]map[string]bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if modes {
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", rel, info.Mode().Perm(), want)
			}
		}
		if d.IsDir() || !info.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile (compaction, a new snapshot)
		}
		if err != nil {
			return err
		}
		for _, s := range []string{secretName, secretNHS} {
			if bytes.Contains(b, []byte(s)) {
				if found[s] == nil {
					found[s] = map[string]bool{}
				}
				found[s][kind(rel)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kind names the sort of file: raft.db, snapshot, or Badger's by
// extension.
func kind(rel string) string {
	switch {
	case strings.HasSuffix(rel, "raft.db"):
		return "raft.db"
	case strings.Contains(rel, "snapshots"):
		return "snapshot"
	default:
		return "badger" + filepath.Ext(rel)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEncryptionAtRest (acceptance 1): a patient's name and NHS number,
// written through the real command, are in clear in the raft log, Badger's
// memtable or value log and the snapshots without encryption (the control: the search
// can see them) and in no file of the data dir with it, scanned while the
// node runs (log, memtable) and after it stops (tables); every file 0600
// and folder 0700.
func TestEncryptionAtRest(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"off (control)", nil},
		{"on", newMasterKey(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tuning := snapshotTuning()
			c := clustertest.New(t, 1, clustertest.Options{Raft: tuning, EncryptionKey: tc.key})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			nd := c.Leader(ctx)
			index, id := createPatient(ctx, t, nd)
			found := map[string]map[string]bool{}
			scanDataDir(t, nd.Dir, false, found) // log and memtable, before compaction
			// Enough entries after it for snapshots that hold it.
			for i := 0; i < 40; i++ {
				if _, _, err := clustertest.CreateAttendance(ctx, nd, "filler", nil); err != nil {
					t.Fatal(err)
				}
			}
			waitSnapshotPast(ctx, t, nd.Dir, index)
			scanDataDir(t, nd.Dir, false, found)
			if err := c.Stop(ctx, nd); err != nil {
				t.Fatal(err)
			}
			scanDataDir(t, nd.Dir, true, found)
			if tc.key == nil {
				for _, s := range []string{secretName, secretNHS} {
					for _, k := range []string{"raft.db", "snapshot"} {
						if !found[s][k] {
							t.Errorf("control: %q not seen in clear in %s (seen in %v): the search cannot see plaintext", s, k, keys(found[s]))
						}
					}
					// Badger writes a record to its memtable's log, or
					// (over the value threshold) to the value log.
					if !found[s]["badger.mem"] && !found[s]["badger.vlog"] {
						t.Errorf("control: %q not seen in clear in Badger's memtable or value log (seen in %v): the search cannot see plaintext", s, keys(found[s]))
					}
					t.Logf("in clear: %q in %v", s, keys(found[s]))
				}
				return
			}
			for s, where := range found {
				t.Errorf("encrypted: %q found in clear in %v", s, keys(where))
			}
			// The data is all there: the node reopens with its key.
			if err := c.Restart(ctx, nd); err != nil {
				t.Fatal(err)
			}
			assertPatient(ctx, t, nd, id)
		})
	}
}

// waitSnapshotPast waits until a snapshot of an index at or past index is
// on disk.
func waitSnapshotPast(ctx context.Context, t *testing.T, dir string, index uint64) {
	t.Helper()
	for {
		es, _ := os.ReadDir(filepath.Join(dir, "raft", "snapshots"))
		for _, e := range es {
			b, err := os.ReadFile(filepath.Join(dir, "raft", "snapshots", e.Name(), "meta.json"))
			if err != nil {
				continue
			}
			var m raft.SnapshotMeta
			if json.Unmarshal(b, &m) == nil && m.Index >= index {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("no snapshot past the patient's entry")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// assertPatient finds the secret patient in nd's state.
func assertPatient(ctx context.Context, t *testing.T, nd *clustertest.Node, id string) {
	t.Helper()
	var got *care.Attendance
	err := clustertest.Retry(ctx, func() error {
		return nd.Store.Read(ctx, cluster.ConsistencyStale, func(v *cluster.View) error {
			var err error
			got, err = care.In(v).Attendance(id)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Patient.FamilyName != secretName || got.Patient.NHSNumber != secretNHS {
		t.Fatalf("patient: %+v", got.Patient)
	}
}

// TestEncryptionWrongKey: a data dir opens only with its key: a wrong key
// and no key are refused with a clear error before anything is written,
// and the right key still opens it with everything in it.
func TestEncryptionWrongKey(t *testing.T) {
	key := newMasterKey(t)
	c := clustertest.New(t, 1, clustertest.Options{EncryptionKey: key})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	_, id := createPatient(ctx, t, nd)
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	before := dirDigest(t, nd.Dir)
	for _, tc := range []struct {
		name string
		key  []byte
		want error
	}{
		{"wrong key", newMasterKey(t), cluster.ErrWrongKey},
		{"no key", nil, cluster.ErrEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c.Config(nd)
			cfg.Registerer = nil
			cfg.EncryptionKey = tc.key
			s, err := cluster.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Open(ctx)
			if err == nil {
				s.Close(ctx)
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.want) || errors.Is(err, cluster.ErrCorruptLog) {
				t.Fatalf("refusal %v, want %v (and not a corrupt log)", err, tc.want)
			}
			if after := dirDigest(t, nd.Dir); after != before {
				t.Fatalf("a refused open changed the data dir:\n%s\n%s", before, after)
			}
			if _, err := cluster.VerifyDataDir(nd.Dir, tc.key); !errors.Is(err, tc.want) {
				t.Fatalf("verify: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := cluster.VerifyDataDir(nd.Dir, key); err != nil {
		t.Fatalf("verify with the key: %v", err)
	}
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatal(err)
	}
	assertPatient(ctx, t, nd, id)
}

// dirDigest lists every file of dir with its size and contents' hash.
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Name() == "raft.db" {
			// bbolt commits a transaction (its meta page) at every open:
			// compare what it holds.
			fmt.Fprintf(&b, "%s %s\n", rel, boltDigest(t, p))
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s %d %x\n", rel, len(data), sum)
		return nil
	})
	return b.String()
}

// TestEncryptedLogEntryTampered: a changed byte in an encrypted entry's
// data, or an entry moved to another index, fails authentication at open
// (ErrCorruptLog naming raft.db and the index), and verify says so too.
func TestEncryptedLogEntryTampered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(l *raft.Log, other *raft.Log)
	}{
		{"a byte of the data", func(l, _ *raft.Log) { l.Data[len(l.Data)/2] ^= 0x01 }},
		{"the term", func(l, _ *raft.Log) { l.Term++ }},
		{"another entry's sealed data", func(l, o *raft.Log) { l.Data, l.Extensions = o.Data, o.Extensions }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := newMasterKey(t)
			c := clustertest.New(t, 1, clustertest.Options{EncryptionKey: key})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			nd := c.Leader(ctx)
			index, _ := createPatient(ctx, t, nd)
			if _, _, err := clustertest.CreateAttendance(ctx, nd, "after", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(ctx, nd); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(nd.Dir, "raft", "raft.db")
			b, err := raftboltdb.NewBoltStore(path)
			if err != nil {
				t.Fatal(err)
			}
			var l, o raft.Log
			if err := b.GetLog(index, &l); err != nil {
				t.Fatal(err)
			}
			if err := b.GetLog(index+1, &o); err != nil {
				t.Fatal(err)
			}
			tc.tamper(&l, &o)
			if err := b.StoreLog(&l); err != nil {
				t.Fatal(err)
			}
			b.Close()
			err = reopen(ctx, t, c, nd)
			if !errors.Is(err, cluster.ErrCorruptLog) || !strings.Contains(err.Error(), "raft.db") || !strings.Contains(err.Error(), "index") {
				t.Fatalf("open of a tampered log: %v", err)
			}
			if _, err := cluster.VerifyDataDir(nd.Dir, key); !errors.Is(err, cluster.ErrCorruptLog) {
				t.Fatalf("verify of a tampered log: %v", err)
			}
		})
	}
}

// boltDigest hashes every bucket's keys and values of a bolt file.
func boltDigest(t *testing.T, path string) string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := sha256.New()
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			fmt.Fprintf(h, "bucket %q\n", name)
			return b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(h, "%x=%x\n", k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// patientDir runs a one-node cluster under key (nil: in clear), writes
// the secret patient and enough after it for snapshots that hold it,
// stops it, and returns the cluster, node and attendance id. The node's
// key afterwards is *key (tests change it).
func patientDir(t *testing.T, key *[]byte) (*clustertest.Cluster, *clustertest.Node, string) {
	t.Helper()
	c := clustertest.New(t, 1, clustertest.Options{Raft: snapshotTuning(), EncryptionKey: *key,
		Configure: func(_ *clustertest.Node, cfg *cluster.Config) { cfg.EncryptionKey = *key }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	index, id := createPatient(ctx, t, nd)
	for i := 0; i < 40; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, nd, "filler", nil); err != nil {
			t.Fatal(err)
		}
	}
	waitSnapshotPast(ctx, t, nd.Dir, index)
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	return c, nd, id
}

// TestEncryptionMigrate: a data dir written in clear is encrypted in
// place: afterwards no file holds the patient in clear (the old raft.db
// is gone, not just its entries), and the node opens with the key, with
// everything, even from the snapshot alone.
func TestEncryptionMigrate(t *testing.T) {
	var key []byte
	c, nd, id := patientDir(t, &key)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := map[string]map[string]bool{}
	scanDataDir(t, nd.Dir, false, before)
	if len(before[secretName]) == 0 {
		t.Fatal("control: the patient is not in clear before migrating")
	}
	key = newMasterKey(t)
	rep, err := cluster.MigrateEncryption(nd.Dir, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LogEntries == 0 || rep.StateKeys == 0 || rep.Snapshots == 0 {
		t.Fatalf("migrate report %+v", rep)
	}
	after := map[string]map[string]bool{}
	scanDataDir(t, nd.Dir, true, after)
	for s, where := range after {
		t.Errorf("migrated: %q still in clear in %v", s, keys(where))
	}
	// Again: nothing left to do, nothing broken.
	if rep, err := cluster.MigrateEncryption(nd.Dir, key, nil); err != nil || rep.LogEntries != 0 || rep.Snapshots != 0 {
		t.Fatalf("second migrate: %+v %v", rep, err)
	}
	if _, err := cluster.VerifyDataDir(nd.Dir, key); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// From the snapshot and log alone (the state store removed).
	if err := os.RemoveAll(filepath.Join(nd.Dir, "fsm")); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatal(err)
	}
	assertPatient(ctx, t, nd, id)
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	// A migrated dir opens only with its key.
	key = nil
	if err := reopen(ctx, t, c, nd); !errors.Is(err, cluster.ErrEncrypted) {
		t.Fatalf("open without the key: %v", err)
	}
}

// TestEncryptionRotate: after rotating, the old key opens nothing and the
// new one opens everything: the state store, the log and the snapshots.
func TestEncryptionRotate(t *testing.T) {
	oldKey := newMasterKey(t)
	key := oldKey
	c, nd, id := patientDir(t, &key)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newKey := newMasterKey(t)
	if _, err := cluster.RotateEncryptionKey(nd.Dir, newKey, newMasterKey(t), nil); !errors.Is(err, cluster.ErrWrongKey) {
		t.Fatalf("rotate from a wrong key: %v", err)
	}
	rep, err := cluster.RotateEncryptionKey(nd.Dir, oldKey, newKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.LogEntries == 0 || rep.Snapshots == 0 || rep.StateKeys == 0 {
		t.Fatalf("rotate report %+v", rep)
	}
	// New data keys: the old database (and its key registry) is gone.
	if dbs, _ := filepath.Glob(filepath.Join(nd.Dir, "fsm", "db-*")); len(dbs) != 1 || dbs[0] != rep.StateStore {
		t.Fatalf("state databases after rotate: %v, report %+v", dbs, rep)
	}
	found := map[string]map[string]bool{}
	scanDataDir(t, nd.Dir, true, found)
	for s, where := range found {
		t.Errorf("rotated: %q in clear in %v", s, keys(where))
	}
	if _, err := cluster.VerifyDataDir(nd.Dir, oldKey); !errors.Is(err, cluster.ErrWrongKey) {
		t.Fatalf("verify with the old key: %v", err)
	}
	if err := reopen(ctx, t, c, nd); !errors.Is(err, cluster.ErrWrongKey) {
		t.Fatalf("open with the old key: %v", err)
	}
	key = newKey
	if _, err := cluster.VerifyDataDir(nd.Dir, newKey); err != nil {
		t.Fatalf("verify with the new key: %v", err)
	}
	// The state store under the new key.
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatal(err)
	}
	assertPatient(ctx, t, nd, id)
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	// The snapshot under the new key (the state store removed).
	if err := os.RemoveAll(filepath.Join(nd.Dir, "fsm")); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, nd); err != nil {
		t.Fatal(err)
	}
	assertPatient(ctx, t, nd, id)
}

// TestEncryptionRefusesRunningNode: migrate and rotate refuse a data dir
// a running node holds.
func TestEncryptionRefusesRunningNode(t *testing.T) {
	key := newMasterKey(t)
	c := clustertest.New(t, 1, clustertest.Options{EncryptionKey: key})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	if _, err := cluster.RotateEncryptionKey(nd.Dir, key, newMasterKey(t), nil); !errors.Is(err, cluster.ErrDataDirInUse) {
		t.Fatalf("rotate of a running node's dir: %v", err)
	}
	if _, err := cluster.MigrateEncryption(nd.Dir, key, nil); !errors.Is(err, cluster.ErrDataDirInUse) {
		t.Fatalf("migrate of a running node's dir: %v", err)
	}
	createPatient(ctx, t, nd) // still running, still takes writes
}

// TestEncryptedSnapshotInstalledOnFollower: a node joining an encrypted
// cluster whose log is compacted gets the state as a snapshot (decrypted
// by the leader, re-encrypted by the follower under its own key).
func TestEncryptedSnapshotInstalledOnFollower(t *testing.T) {
	keys := map[string][]byte{}
	c := clustertest.New(t, 1, clustertest.Options{Raft: snapshotTuning(), Configure: func(nd *clustertest.Node, cfg *cluster.Config) {
		if keys[nd.ID] == nil {
			keys[nd.ID] = newMasterKey(t)
		}
		cfg.EncryptionKey = keys[nd.ID]
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.Leader(ctx)
	index, id := createPatient(ctx, t, leader)
	for i := 0; i < 40; i++ {
		if _, _, err := clustertest.CreateAttendance(ctx, leader, "filler", nil); err != nil {
			t.Fatal(err)
		}
	}
	waitSnapshotPast(ctx, t, leader.Dir, index)
	nd, err := c.AddNode(ctx, "node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, nd, c.Token); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	if nd.Store.RestoreCount() == 0 {
		t.Fatal("the follower caught up without a snapshot")
	}
	assertPatient(ctx, t, nd, id)
}

// TestEncryptedSnapshotTampered: a snapshot changed on disk (raft's own
// CRC in meta.json made to match, as someone with the disk could) is
// refused: by verify, and by a node that must restore it, which names it
// instead of falling back to an older one.
func TestEncryptedSnapshotTampered(t *testing.T) {
	key := newMasterKey(t)
	c, nd, _ := patientDir(t, &key)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := cluster.VerifyDataDir(nd.Dir, key)
	if err != nil || rep.Snapshots == 0 {
		t.Fatalf("verify before: %+v %v", rep, err)
	}
	snaps, _ := filepath.Glob(filepath.Join(nd.Dir, "raft", "snapshots", "*"))
	for _, d := range snaps {
		p := filepath.Join(d, "state.bin")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x04
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		setSnapshotCRC(t, d, b)
	}
	if _, err := cluster.VerifyDataDir(nd.Dir, key); !errors.Is(err, cluster.ErrCorruptSnapshot) {
		t.Fatalf("verify of a tampered snapshot: %v", err)
	}
	// The state store gone, the node must restore the snapshot.
	if err := os.RemoveAll(filepath.Join(nd.Dir, "fsm")); err != nil {
		t.Fatal(err)
	}
	err = reopen(ctx, t, c, nd)
	if !errors.Is(err, cluster.ErrCorruptSnapshot) || !strings.Contains(err.Error(), "snapshots") {
		t.Fatalf("open with a tampered snapshot: %v", err)
	}
}

// setSnapshotCRC rewrites a snapshot's meta.json CRC (raft's CRC-64 ECMA)
// to match state.
func setSnapshotCRC(t *testing.T, dir string, state []byte) {
	t.Helper()
	var meta map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(state)
	meta["CRC"] = h.Sum(nil)
	b, _ = json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
