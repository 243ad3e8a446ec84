package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// runCmd runs the command tree with args: its standard output and error.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runRoot(t, args...)
	return out, err
}

// TestEncryptionCommands: a data dir written in clear is migrated (its key
// generated beside it), verified with the default key, rotated to a new
// key, and then verifies only with the new one.
func TestEncryptionCommands(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd := c.Leader(ctx)
	if _, _, err := clustertest.CreateAttendance(ctx, nd, "migrate me", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "encryption", "migrate", "--data-dir", nd.Dir, "--encryption-key-file", filepath.Join(t.TempDir(), "k")); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("migrate of a running node's dir: %v", err)
	}
	if err := c.Stop(ctx, nd); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "encryption", "migrate", "--data-dir", nd.Dir)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := cluster.DefaultKeyFile(nd.Dir)
	for _, want := range []string{"generated the encryption key " + keyFile, "raft log:", "entries rewritten", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if out, err := runCmd(t, "verify", "--data-dir", nd.Dir); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("verify with the default key: %v\n%s", err, out)
	}
	newKey := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(newKey, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCmd(t, "encryption", "rotate", "--data-dir", nd.Dir, "--old-key-file", keyFile, "--new-key-file", newKey)
	if err != nil || !strings.Contains(out, "ok: start the node with --encryption-key-file "+newKey) {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "verify", "--data-dir", nd.Dir); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("verify with the old key: %v", err)
	}
	if out, err := runCmd(t, "verify", "--data-dir", nd.Dir, "--encryption-key-file", newKey); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("verify with the new key: %v\n%s", err, out)
	}
}

// TestServeKey: serve makes a key for a fresh data dir beside it (0600)
// and says where, refuses to invent one for a dir that holds state, and
// refuses a key file others can read.
func TestServeKey(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "fresh")
	var out bytes.Buffer
	key, err := resolveKey(fresh, "", true, &out)
	if err != nil || len(key) != cluster.MasterKeySize {
		t.Fatalf("fresh dir: %v", err)
	}
	if !strings.Contains(out.String(), fresh+".key") || !strings.Contains(out.String(), "protects nothing against a stolen disk") {
		t.Fatalf("fresh dir: said %q", out.String())
	}
	again, err := resolveKey(fresh, "", true, &bytes.Buffer{})
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second start: %v, same key %v", err, bytes.Equal(again, key))
	}
	old := filepath.Join(base, "old")
	if err := os.MkdirAll(filepath.Join(old, "raft"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "raft", "raft.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveKey(old, "", true, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "encryption migrate") {
		t.Fatalf("dir with state, no key: %v", err)
	}
	if _, err := os.Stat(old + ".key"); !os.IsNotExist(err) {
		t.Fatalf("a key was made for a dir with state: %v", err)
	}
	loose := filepath.Join(base, "loose.key")
	if err := os.WriteFile(loose, []byte(hex.EncodeToString(key)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveKey(fresh, loose, true, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("key file 0644: %v", err)
	}
}

// TestNodeEncryptsAtRest: a node given a key (as serve always gives one)
// keeps a patient written through the API in no file of its data dir in
// clear, and its dir checks only with that key. (With no key the same
// test finds the NHS number in a table and both in raft.db.)
func TestNodeEncryptsAtRest(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, cluster.MasterKeySize)
	tc := nodetest.NewWith(t, 1, func(c *node.Config) { c.EncryptionKey = key })
	tn := tc.Leader(t)
	hdr := nodetest.BearerHeader(tc.Key(t, "reception", "Desk"))
	body := `{"patient":{"given_name":"Ottoline","family_name":"Quennell-Barraclough","nhs_number":"9434765919"},"complaint":"chest pain"}`
	resp, b := tc.Do(t, tn, "POST", "/v1/attendances", body, hdr)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	tc.Stop(t, 0)
	err := filepath.WalkDir(tn.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range []string{"Quennell-Barraclough", "9434765919"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q in clear", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.VerifyDataDir(tn.Dir, key); err != nil {
		t.Fatalf("verify with the key: %v", err)
	}
	if _, err := cluster.VerifyDataDir(tn.Dir, nil); !errors.Is(err, cluster.ErrEncrypted) {
		t.Fatalf("verify without the key: %v", err)
	}
}
