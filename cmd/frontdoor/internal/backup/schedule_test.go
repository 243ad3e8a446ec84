package backup_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestScheduledBackups: a node started with --backup-dir writes backups
// on schedule, keeps only the newest --backup-keep, reports them in
// metrics, and each is a whole backup that its recipient's key opens and
// that holds what was written before it.
func TestScheduledBackups(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backups")
	tc := nodetest.NewWith(t, 1, func(c *node.Config) {
		c.BackupDir, c.BackupEvery, c.BackupKeep = dir, 20*time.Millisecond, 2
		c.BackupRecipients = []string{id.Recipient().String()}
	})
	n := tc.Nodes[0]
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/attendances", `{"complaint":"scheduled backup marker"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("attendance: %d %s", resp.StatusCode, b)
	}
	written := n.N.Store().AppliedIndex() // the write is applied here
	total := regexp.MustCompile(`(?m)^frontdoor_backups_total (\d+)`)
	var newest string
	nodetest.Eventually(t, "backups written and pruned", func() error {
		_, m := tc.Do(t, n, http.MethodGet, "/metrics", "", nil)
		c := total.FindSubmatch(m)
		if c == nil {
			return fmt.Errorf("no frontdoor_backups_total")
		}
		if v, _ := strconv.Atoi(string(c[1])); v < 4 {
			return fmt.Errorf("%d backups written", v)
		}
		names, err := backup.List(dir)
		if err != nil {
			return err
		}
		if len(names) != 2 {
			return fmt.Errorf("%d backups kept, want 2: %v", len(names), names)
		}
		newest = filepath.Join(dir, names[1])
		f, err := backup.Open(newest, cluster.LogicVersion)
		if err != nil {
			return err
		}
		defer f.Close()
		if f.Header.AppliedIndex < written {
			return fmt.Errorf("newest backup at index %d, the write at %d", f.Header.AppliedIndex, written)
		}
		// Keep a copy: retention may delete it before the checks below.
		st, err := os.Stat(newest)
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("backup file mode %v", st.Mode())
		}
		b, err := os.ReadFile(newest)
		if err != nil {
			return err
		}
		newest = filepath.Join(t.TempDir(), "newest.fdbackup")
		return os.WriteFile(newest, b, 0o600)
	})
	f, err := backup.Open(newest, cluster.LogicVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Header.NodeID != n.ID || f.Header.AppliedIndex == 0 || f.Header.LogicVersion != cluster.LogicVersion {
		t.Fatalf("header %+v", f.Header)
	}
	plain, err := f.Decrypt(id)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte("FDSNAP01")) || !bytes.Contains(body, []byte("scheduled backup marker")) {
		t.Fatalf("the backup does not hold the write made before it (%d bytes)", len(body))
	}
	_, m := tc.Do(t, n, http.MethodGet, "/metrics", "", nil)
	if !regexp.MustCompile(`(?m)^frontdoor_backup_last_success_timestamp_seconds [1-9]`).Match(m) ||
		!regexp.MustCompile(`(?m)^frontdoor_backup_failures_total 0$`).Match(m) {
		t.Fatal("backup metrics missing or showing failures")
	}
}
