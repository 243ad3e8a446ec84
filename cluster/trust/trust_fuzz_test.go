package trust

import (
	"strings"
	"testing"
)

// FuzzCheckCSR is the certificate request a joining node sends, fed any
// bytes: a refusal wraps ErrBadRequest (never a panic), and an accepted
// request names exactly the node and addresses asked for.
func FuzzCheckCSR(f *testing.F) {
	key, err := NewNodeKey()
	if err != nil {
		f.Fatal(err)
	}
	r := Request{ID: "node-a", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8080"}
	csr, err := NewCSR(key, r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(csr, r.ID, r.RaftAddr, r.HTTPAddr)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "x", "y:1", "")
	f.Add([]byte("not pem"), "", "", "")
	f.Fuzz(func(t *testing.T, pemBytes []byte, id, raftAddr, httpAddr string) {
		csr, fp, err := CheckCSR(pemBytes, Request{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr})
		if err != nil {
			if !strings.Contains(err.Error(), ErrBadRequest.Error()) {
				t.Fatalf("refusal %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if len(fp) != 64 || csr == nil {
			t.Fatalf("accepted a request with fingerprint %q", fp)
		}
		found := false
		for _, u := range csr.URIs {
			if u.String() == nodeURI(id).String() {
				found = true
			}
		}
		if !found {
			t.Fatalf("accepted a request that does not name node %q", id)
		}
	})
}
