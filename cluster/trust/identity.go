package trust

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Files in a node's tls/ folder (every file 0600, the folder 0700).
const (
	dirName      = "tls"
	keyFile      = "node.key"
	certFile     = "node.crt"
	caFile       = "ca.crt"
	caSealedFile = "ca.key.sealed" // only while a new cluster bootstraps
)

// ErrNoCertificate: the node has no certificate yet (a joiner before its
// join was accepted).
var ErrNoCertificate = errors.New("this node has no certificate yet")

// Identity is a node's key, its certificate and the CA it trusts. The
// certificate can be replaced while connections are served (a join's
// answer, a renewal, or the trust's files reloaded on SIGHUP).
type Identity struct {
	dir string // data dir's tls/ ("" for an operator's files)
	// an operator's files (--tls-cert/--tls-key/--tls-ca), reloaded by Reload
	certPath, keyPath, caPath string

	mu    sync.RWMutex
	key   crypto.Signer
	cert  *tls.Certificate // nil until certified
	ca    *x509.Certificate
	roots *x509.CertPool
}

// Dir is the tls/ folder under a data dir.
func Dir(dataDir string) string { return filepath.Join(dataDir, dirName) }

// LoadIdentity opens the node's identity under dataDir/tls, creating its
// private key on first use. The certificate and CA are loaded when present.
func LoadIdentity(dataDir string) (*Identity, error) {
	dir := Dir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls dir: %w", err)
	}
	id := &Identity{dir: dir}
	kp := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(kp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		k, err := NewNodeKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("node key: %w", err)
		}
		if err := writeFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		id.key = k
	case err != nil:
		return nil, fmt.Errorf("node key: %w", err)
	default:
		k, err := parseKey(b)
		if err != nil {
			return nil, fmt.Errorf("node key %s: %w", kp, err)
		}
		id.key = k
	}
	certPEM, cerr := os.ReadFile(filepath.Join(dir, certFile))
	caPEM, aerr := os.ReadFile(filepath.Join(dir, caFile))
	if cerr == nil && aerr == nil {
		if err := id.set(certPEM, caPEM); err != nil {
			return nil, fmt.Errorf("node certificate in %s: %w", dir, err)
		}
	}
	return id, nil
}

// LoadFiles is an identity from the trust's own PKI: a certificate, its
// key and the CA that signs every member (PEM files; Reload reads them
// again).
func LoadFiles(certPath, keyPath, caPath string) (*Identity, error) {
	id := &Identity{certPath: certPath, keyPath: keyPath, caPath: caPath}
	if err := id.Reload(); err != nil {
		return nil, err
	}
	return id, nil
}

// Reload reads an operator's files again (SIGHUP); for a cluster-CA
// identity it does nothing.
func (id *Identity) Reload() error {
	if id.certPath == "" {
		return nil
	}
	kb, err := os.ReadFile(id.keyPath)
	if err != nil {
		return fmt.Errorf("--tls-key: %w", err)
	}
	k, err := parseKey(kb)
	if err != nil {
		return fmt.Errorf("--tls-key %s: %w", id.keyPath, err)
	}
	cb, err := os.ReadFile(id.certPath)
	if err != nil {
		return fmt.Errorf("--tls-cert: %w", err)
	}
	ab, err := os.ReadFile(id.caPath)
	if err != nil {
		return fmt.Errorf("--tls-ca: %w", err)
	}
	id.mu.Lock()
	old := id.key
	id.key = k
	id.mu.Unlock()
	if err := id.set(cb, ab); err != nil {
		id.mu.Lock()
		id.key = old
		id.mu.Unlock()
		return fmt.Errorf("--tls-cert %s: %w", id.certPath, err)
	}
	return nil
}

// External reports whether the certificates come from the trust's own PKI
// (no cluster CA issues them).
func (id *Identity) External() bool { return id.certPath != "" }

func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not PEM")
	}
	var k any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return s, nil
}

// set checks that certPEM is signed by caPEM and holds this node's key,
// then makes them current.
func (id *Identity) set(certPEM, caPEM []byte) error {
	ca, err := ParseCert(caPEM)
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	leaf, err := ParseCert(certPEM)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("not signed by the CA: %w", err)
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if !samePublicKey(leaf.PublicKey, id.key.Public()) {
		return errors.New("the certificate is not for this node's key")
	}
	// The chain carries the CA, so a joining node can check it against the
	// fingerprint its join token names (PinnedConfig).
	id.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Raw}, PrivateKey: id.key, Leaf: leaf}
	id.ca, id.roots = ca, roots
	return nil
}

func samePublicKey(a, b any) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// Install makes certPEM (issued for this node's key) and caPEM current and
// keeps them in the tls/ folder.
func (id *Identity) Install(certPEM, caPEM []byte) error {
	if err := id.set(certPEM, caPEM); err != nil {
		return fmt.Errorf("install certificate: %w", err)
	}
	if id.dir == "" {
		return nil
	}
	if err := writeFile(filepath.Join(id.dir, caFile), caPEM); err != nil {
		return err
	}
	return writeFile(filepath.Join(id.dir, certFile), certPEM)
}

// Key is the node's private key (for certificate requests).
func (id *Identity) Key() crypto.Signer {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.key
}

// KeyFingerprint is the fingerprint of the node's public key.
func (id *Identity) KeyFingerprint() string {
	fp, _ := KeyFingerprint(id.Key().Public())
	return fp
}

// Certified reports whether the node has a certificate.
func (id *Identity) Certified() bool {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.cert != nil
}

// NotAfter is when the node's certificate expires (zero: none yet).
func (id *Identity) NotAfter() time.Time {
	id.mu.RLock()
	defer id.mu.RUnlock()
	if id.cert == nil {
		return time.Time{}
	}
	return id.cert.Leaf.NotAfter
}

// CA is the CA certificate the node trusts (nil before it has one).
func (id *Identity) CA() *x509.Certificate {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.ca
}

func (id *Identity) certificate() (*tls.Certificate, error) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	if id.cert == nil {
		return nil, ErrNoCertificate
	}
	return id.cert, nil
}

// Peer is a verified peer certificate.
type Peer struct {
	ID    string // the node it names
	KeyFP string // its public key's fingerprint
}

// verify checks a presented chain against the current CA and returns
// whom it names.
func (id *Identity) verify(rawCerts [][]byte, usage x509.ExtKeyUsage) (Peer, error) {
	id.mu.RLock()
	roots := id.roots
	id.mu.RUnlock()
	if roots == nil {
		return Peer{}, ErrNoCertificate
	}
	if len(rawCerts) == 0 {
		return Peer{}, errors.New("no certificate presented")
	}
	leaf, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return Peer{}, fmt.Errorf("peer certificate: %w", err)
	}
	inter := x509.NewCertPool()
	for _, raw := range rawCerts[1:] {
		if c, err := x509.ParseCertificate(raw); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return Peer{}, fmt.Errorf("peer certificate: %w", err)
	}
	nid, err := NodeID(leaf)
	if err != nil {
		return Peer{}, err
	}
	fp, err := KeyFingerprint(leaf.PublicKey)
	if err != nil {
		return Peer{}, err
	}
	return Peer{ID: nid, KeyFP: fp}, nil
}

// PeerCheck decides whether a verified peer may talk to this node (the
// node registry: a member, with the key it registered). expectAddr is the
// address dialled ("" on the accepting side).
type PeerCheck func(p Peer, expectAddr string) error

// ServerConfig is the TLS configuration of a node's listener for peers:
// a client certificate from the CA is required and check must accept it.
func (id *Identity) ServerConfig(check PeerCheck) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return id.certificate()
		},
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			p, err := id.verify(raw, x509.ExtKeyUsageClientAuth)
			if err != nil {
				return err
			}
			if check != nil {
				return check(p, "")
			}
			return nil
		},
	}
}

// ClientConfig is the TLS configuration for dialling the peer at addr: this
// node's certificate is presented, the peer's must come from the CA and
// check must accept it.
func (id *Identity) ClientConfig(addr string, check PeerCheck) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verified below against the current CA
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.certificate()
		},
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			p, err := id.verify(raw, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if check != nil {
				return check(p, addr)
			}
			return nil
		},
	}
}

// RootsConfig is the TLS configuration of a client that trusts the CA this
// node trusts (the trust's own PKI: a joining node reaching a seed).
func (id *Identity) RootsConfig() *tls.Config {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: id.roots}
}

// HTTPSConfig is the TLS configuration of the public HTTPS API: the node's
// certificate, no client certificate asked for.
func (id *Identity) HTTPSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return id.certificate()
		},
	}
}

// PinnedConfig is the TLS configuration of a client that knows the
// cluster only by its join token (a node joining, a CLI given the token):
// the server's chain must end in the CA the token names, and its
// certificate must be signed by that CA.
func PinnedConfig(token string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below against the token's CA
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) < 2 {
				return errors.New("the server sent no CA certificate to check against the join token")
			}
			ca, err := x509.ParseCertificate(raw[len(raw)-1])
			if err != nil {
				return err
			}
			if err := CheckCA(token, ca); err != nil {
				return err
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
}

// Bootstrap is the material of a new cluster, kept in tls/ until the
// cluster is initialised: the CA (its key sealed with the token) and the
// join token.
type Bootstrap struct {
	CA     *CA
	Token  string
	Sealed []byte
}

// NewCluster creates a cluster CA and join token, certifies this node
// with it (req) and keeps the sealed CA key in tls/ until
// ForgetBootstrap; a restart before then finds it with LoadBootstrap.
func (id *Identity) NewCluster(req Request, now time.Time) (*Bootstrap, error) {
	ca, err := NewCA(now)
	if err != nil {
		return nil, err
	}
	token, err := NewJoinToken(ca.Cert)
	if err != nil {
		return nil, err
	}
	sealed, err := ca.SealKey(token)
	if err != nil {
		return nil, err
	}
	if err := id.SelfIssue(ca, req, now); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(id.dir, caSealedFile), pem.EncodeToMemory(&pem.Block{Type: "SEALED CA KEY", Bytes: sealed})); err != nil {
		return nil, err
	}
	return &Bootstrap{CA: ca, Token: token, Sealed: sealed}, nil
}

// SelfIssue certifies this node with ca (the bootstrap node, and a
// member renewing its own certificate).
func (id *Identity) SelfIssue(ca *CA, req Request, now time.Time) error {
	csrPEM, err := NewCSR(id.Key(), req)
	if err != nil {
		return err
	}
	csr, _, err := CheckCSR(csrPEM, req)
	if err != nil {
		return err
	}
	certPEM, err := ca.Issue(csr, req, now)
	if err != nil {
		return err
	}
	return id.Install(certPEM, ca.CertPEM())
}

// LoadBootstrap finds the material NewCluster kept (ok false: none).
func (id *Identity) LoadBootstrap(token string) (*Bootstrap, bool, error) {
	b, err := os.ReadFile(filepath.Join(id.dir, caSealedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("bootstrap material: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, false, fmt.Errorf("bootstrap material %s: not PEM", caSealedFile)
	}
	caPEM, err := os.ReadFile(filepath.Join(id.dir, caFile))
	if err != nil {
		return nil, false, fmt.Errorf("bootstrap material: %w", err)
	}
	ca, err := OpenCA(caPEM, block.Bytes, token)
	if err != nil {
		return nil, false, err
	}
	return &Bootstrap{CA: ca, Token: token, Sealed: block.Bytes}, true, nil
}

// HasBootstrap reports whether NewCluster's material is waiting in dataDir.
func HasBootstrap(dataDir string) bool {
	_, err := os.Stat(filepath.Join(Dir(dataDir), caSealedFile))
	return err == nil
}

// ForgetBootstrap removes the kept material once the replicated state
// holds the CA.
func (id *Identity) ForgetBootstrap() error {
	err := os.Remove(filepath.Join(id.dir, caSealedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NodeID is the node the current certificate names ("" before one).
func (id *Identity) NodeID() string {
	id.mu.RLock()
	defer id.mu.RUnlock()
	if id.cert == nil {
		return ""
	}
	nid, _ := NodeID(id.cert.Leaf)
	return nid
}
