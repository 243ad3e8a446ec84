package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestRestoreRefusesBadInput: each bad backup or target is a clear CLI
// error, and nothing is written: the target dir is not created (or, when
// it already held something, left as it was) and no half-built dir is left
// beside it.
func TestRestoreRefusesBadInput(t *testing.T) {
	tc := nodetest.New(t, 1)
	var a acked
	a.write(t, tc, tc.Nodes[0], "bad", 2)
	dir := t.TempDir()
	pass := writePassphrase(t, "the right passphrase")
	good := filepath.Join(dir, "good.fdbackup")
	if out, err := runCLI(t, "", "backup", "--to", good, "--addr", tc.Nodes[0].HTTPAddr, "--key", tc.AdminKey,
		"--passphrase-file", pass, "--scrypt-work-factor", testWorkFactor); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := variant("truncated.fdbackup", raw[:len(raw)/2])
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)/2] ^= 0x01
	tamperedPath := variant("tampered.fdbackup", tampered)
	// A backup from a newer binary: well formed, checksum right.
	var newer bytes.Buffer
	rcp, err := backup.PassphraseRecipient("the right passphrase", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Write(&newer, backup.Header{LogicVersion: cluster.LogicVersion + 1, AppliedIndex: 9, Created: time.Now()},
		[]age.Recipient{rcp}, func(w io.Writer) error { _, err := w.Write([]byte("FDSNAP01")); return err }); err != nil {
		t.Fatal(err)
	}
	newerPath := variant("newer.fdbackup", newer.Bytes())
	notBackup := variant("notes.txt", []byte("shopping list: milk, eggs, bread, and a frontdoor backup"))
	wrongPass := writePassphrase(t, "not the right passphrase")
	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(busy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "node-id"), []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, from, pass, target, want string
	}{
		{"wrong passphrase", good, wrongPass, "", "does not open this backup"},
		{"truncated", truncated, pass, "", "checksum mismatch"},
		{"tampered", tamperedPath, pass, "", "checksum mismatch"},
		{"newer logic version", newerPath, pass, "", "newer logic version"},
		{"not a backup", notBackup, pass, "", "not a frontdoor backup"},
		{"missing file", filepath.Join(dir, "absent.fdbackup"), pass, "", "no such file"},
		{"non-empty data dir", good, pass, busy, "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			target := tt.target
			if target == "" {
				target = filepath.Join(parent, "new")
			}
			out, err := runCLI(t, "", "restore", "--from", tt.from, "--data-dir", target, "--passphrase-file", tt.pass,
				"--raft-addr", "127.0.0.1:1", "--http-addr", "127.0.0.1:2")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error with %q, got %v\n%s", tt.want, err, out)
			}
			if tt.target == "" {
				if entries, _ := os.ReadDir(parent); len(entries) != 0 {
					t.Fatalf("restore left %v behind", entries)
				}
			} else if entries, _ := os.ReadDir(tt.target); len(entries) != 1 {
				t.Fatalf("restore changed the non-empty dir: %v", entries)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".*restoring*")); len(leftovers) > 0 {
				t.Fatalf("half-built dir left: %v", leftovers)
			}
		})
	}

	// The good file restores (the control: the cases above fail for their
	// own reason, not because this file cannot be restored).
	target := filepath.Join(t.TempDir(), "new")
	if out, err := runCLI(t, "", "restore", "--from", good, "--data-dir", target, "--passphrase-file", pass,
		"--raft-addr", "127.0.0.1:1", "--http-addr", "127.0.0.1:2"); err != nil {
		t.Fatalf("good backup: %v\n%s", err, out)
	}
}

// TestBackupRefusesBadInput: bad flags are refused before anything is
// asked of the node or written.
func TestBackupRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	short := writePassphrase(t, "short")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no key material", nil, "at least one of the flags"},
		{"both", []string{"--recipient", "age1x", "--passphrase-file", short}, "none of the others"},
		{"bad recipient", []string{"--recipient", "age1notakey"}, "want an age public key"},
		{"passphrase too short", []string{"--passphrase-file", short}, "at least 12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := filepath.Join(dir, "out.fdbackup")
			args := append([]string{"backup", "--to", to, "--addr", "127.0.0.1:1", "--key", "fdk_x"}, tt.args...)
			out, err := runCLI(t, "", args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error with %q, got %v\n%s", tt.want, err, out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("backup wrote %v", entries)
			}
		})
	}
}
