package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// testPKI is the trust's own CA, issuing node certificates to files.
type testPKI struct {
	ca     *trust.CA
	dir    string
	caPath string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := trust.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, dir: t.TempDir()}
	p.caPath = filepath.Join(p.dir, "ca.pem")
	if err := os.WriteFile(p.caPath, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue writes a certificate and key for node id; it returns their paths.
func (p *testPKI) issue(t *testing.T, id, raftAddr, httpAddr string) (string, string) {
	t.Helper()
	key, err := trust.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	req := trust.Request{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}
	csrPEM, err := trust.NewCSR(key, req)
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := trust.CheckCSR(csrPEM, req)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := p.ca.Issue(csr, req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(p.dir, id+".crt"), filepath.Join(p.dir, id+".key")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// TestRestoreOnTrustPKI: a cluster on the trust's own certificates is
// backed up and restored onto them (restore --tls-cert ...): the restored
// cluster makes no CA of its own (its join token names none), holds every
// acknowledged write, and its node serves with the trust's certificate.
func TestRestoreOnTrustPKI(t *testing.T) {
	pki := newTestPKI(t)
	tc := nodetest.NewWith(t, 1, func(c *node.Config) {
		c.TLSCert, c.TLSKey = pki.issue(t, c.NodeID, c.RaftAddr, c.HTTPAddr)
		c.TLSCA = pki.caPath
	})
	n := tc.Nodes[0]
	var a acked
	a.write(t, tc, n, "pki", 5)
	pass := writePassphrase(t, "passphrase for the trust")
	file := filepath.Join(t.TempDir(), "pki.fdbackup")
	if out, err := runCLI(t, "", "backup", "--to", file, "--addr", n.HTTPAddr, "--key", tc.AdminKey,
		"--passphrase-file", pass, "--scrypt-work-factor", testWorkFactor); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	tc.Stop(t, 0)
	if err := os.RemoveAll(n.Dir); err != nil {
		t.Fatal(err)
	}

	n.ID, n.Dir = "restored-pki", filepath.Join(t.TempDir(), "restored")
	cert, key := pki.issue(t, n.ID, n.RaftAddr, n.HTTPAddr)
	if out, err := runCLI(t, "", "restore", "--from", file, "--data-dir", n.Dir, "--passphrase-file", pass,
		"--node-id", n.ID, "--raft-addr", n.RaftAddr, "--http-addr", n.HTTPAddr,
		"--tls-cert", cert, "--tls-key", key, "--tls-ca", pki.caPath); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	tok, err := os.ReadFile(filepath.Join(n.Dir, node.JoinTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := trust.TokenCA(strings.TrimSpace(string(tok))); ok {
		t.Fatalf("a restore onto the trust's PKI made a token naming a CA: %s", tok)
	}
	cfg := tc.Config(0)
	cfg.NodeID, cfg.DataDir, cfg.TLSCert, cfg.TLSKey = n.ID, n.Dir, cert, key
	if cfg.EncryptionKey, err = cluster.ReadKeyFile(cluster.DefaultKeyFile(n.Dir)); err != nil {
		t.Fatalf("the restored dir's key: %v", err)
	}
	tc.StartWith(t, 0, cfg)
	tc.WaitReady(t)
	a.check(t, tc)
	if got := n.N.Store().Identity(); got == nil || !got.External() || got.NodeID() != n.ID {
		t.Fatalf("the restored node does not serve with the trust's certificate: %+v", got)
	}
}
