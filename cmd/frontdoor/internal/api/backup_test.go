package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestBackupRoute: GET /v1/cluster/backup refuses a missing, malformed or
// passphrase "recipient" and too many of them with a 422 problem, changing
// nothing; a good request streams a whole backup file (checksum right)
// that the recipient's key opens and that holds the writes made before it.
func TestBackupRoute(t *testing.T) {
	tc := nodetest.New(t, 1)
	n := tc.Nodes[0]
	resp, b := tc.Do(t, n, http.MethodPost, "/v1/attendances", `{"complaint":"backup route marker"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("attendance: %d %s", resp.StatusCode, b)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	many := url.Values{}
	for range 9 {
		many.Add("recipient", id.Recipient().String())
	}
	before := n.N.Store().AppliedIndex()
	for _, q := range []string{
		"",
		"?recipient=",
		"?recipient=age1notakey",
		"?recipient=" + url.QueryEscape("correct horse battery staple"),
		"?recipient=" + url.QueryEscape(id.String()), // the private key
		"?" + many.Encode(),
	} {
		resp, b := tc.Do(t, n, http.MethodGet, "/v1/cluster/backup"+q, "", nil)
		expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "recipient")
	}
	if after := n.N.Store().AppliedIndex(); after != before {
		t.Fatalf("applied index moved %d -> %d", before, after)
	}

	resp, b = tc.Do(t, n, http.MethodGet, "/v1/cluster/backup?recipient="+id.Recipient().String(), "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), ".fdbackup") {
		t.Fatalf("backup: %d %v", resp.StatusCode, resp.Header)
	}
	if bytes.Contains(b, []byte("backup route marker")) {
		t.Fatal("the backup holds patient data in clear")
	}
	path := filepath.Join(t.TempDir(), "b.fdbackup")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := backup.Open(path, cluster.LogicVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Header.AppliedIndex < before || f.Header.NodeID != n.ID {
		t.Fatalf("header %+v, want applied index >= %d", f.Header, before)
	}
	plain, err := f.Decrypt(id)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(plain)
	if err != nil || !bytes.Contains(body, []byte("backup route marker")) {
		t.Fatalf("decrypted backup (%d bytes, %v) lacks the write", len(body), err)
	}
}
