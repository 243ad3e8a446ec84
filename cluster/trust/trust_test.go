package trust

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckCSR(t *testing.T) {
	key, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	asked := Request{ID: "node-a", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8080"}
	csr, err := NewCSR(key, asked)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		csr  []byte
		r    Request
		ok   bool
	}{
		{"as asked", csr, asked, true},
		{"another id", csr, Request{ID: "node-b", RaftAddr: asked.RaftAddr, HTTPAddr: asked.HTTPAddr}, false},
		{"another HTTP address", csr, Request{ID: asked.ID, RaftAddr: asked.RaftAddr, HTTPAddr: "10.0.0.9:8080"}, false},
		{"another raft address", csr, Request{ID: asked.ID, RaftAddr: "10.0.0.9:7000", HTTPAddr: asked.HTTPAddr}, false},
		{"no HTTP address claimed", csr, Request{ID: asked.ID, RaftAddr: asked.RaftAddr}, false},
		{"not PEM", []byte("hello"), asked, false},
		{"tampered", []byte(strings.Replace(string(csr), "A", "B", 1)), asked, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fp, err := CheckCSR(tc.csr, tc.r)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err %v does not wrap ErrBadRequest", err)
			}
			want, _ := KeyFingerprint(key.Public())
			if tc.ok && fp != want {
				t.Fatalf("fingerprint %s, want %s", fp, want)
			}
		})
	}
}

func TestIssueNamesNodeAndChains(t *testing.T) {
	ca, err := NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := Request{ID: "node/with odd:chars", RaftAddr: "127.0.0.1:7000", HTTPAddr: "host.example:8080"}
	if err := id.SelfIssue(ca, r, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, err := id.certificate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := NodeID(cert.Leaf)
	if err != nil || got != r.ID {
		t.Fatalf("NodeID = %q, %v", got, err)
	}
	if len(cert.Leaf.DNSNames) != 1 || cert.Leaf.DNSNames[0] != "host.example" || len(cert.Leaf.IPAddresses) != 1 {
		t.Fatalf("SANs: %v %v", cert.Leaf.DNSNames, cert.Leaf.IPAddresses)
	}
	// Reopened from its files, the identity has the same key and certificate.
	again, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certified() || again.KeyFingerprint() != id.KeyFingerprint() || !again.NotAfter().Equal(id.NotAfter()) {
		t.Fatal("identity not kept in its files")
	}
	// A certificate from another CA is not installed.
	other, _ := NewCA(time.Now())
	if err := again.Install(other.CertPEM(), ca.CertPEM()); err == nil {
		t.Fatal("installed a CA certificate as the node's")
	}
}

func TestJoinTokenAndSealedKey(t *testing.T) {
	ca, err := NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewJoinToken(ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if fp, ok := TokenCA(tok); !ok || fp != Fingerprint(ca.Cert) {
		t.Fatalf("TokenCA(%q) = %q %v", tok, fp, ok)
	}
	if err := CheckCA(tok, ca.Cert); err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA(time.Now())
	if err := CheckCA(tok, other.Cert); err == nil {
		t.Fatal("another CA passed the token's fingerprint")
	}
	for _, bad := range []string{"", "0123abcd", "fdj1.zz.aa", "fdj1." + strings.Repeat("a", 63) + ".b"} {
		if _, ok := TokenCA(bad); ok {
			t.Errorf("TokenCA(%q) ok", bad)
		}
	}
	sealed, err := ca.SealKey(tok)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := OpenCA(ca.CertPEM(), sealed, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(opened.Key.Public(), ca.Key.Public()) {
		t.Fatal("opened key differs")
	}
	if _, err := OpenCA(ca.CertPEM(), sealed, tok+"x"); err == nil {
		t.Fatal("another token opened the CA key")
	}
	if _, err := OpenCA(other.CertPEM(), sealed, tok); err == nil {
		t.Fatal("the sealed key opened under another CA certificate")
	}
}
