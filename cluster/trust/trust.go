// Package trust is the cluster's own certificate authority: it creates the
// CA of a new cluster, issues node certificates that carry the raft server
// ID, checks certificate requests, makes and reads join tokens that carry
// the CA's fingerprint (so a joining node can tell the real cluster from an
// impostor), seals the CA key with the join token for replication, and
// keeps a node's certificate files in its data dir.
//
// A node certificate names its node in a URI SAN, urn:frontdoor:node:<id>
// (or, for certificates an operator issues from the trust's own PKI, in its
// Common Name). Peers are told apart by that ID and by the SHA-256 of the
// certificate's public key (KeyFingerprint), which the node registry keeps.
package trust

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Lifetimes of what the cluster CA issues.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	NodeLifetime = 90 * 24 * time.Hour
	// RenewBefore: a node asks for a new certificate once less than this
	// is left (a third of its life).
	RenewBefore = NodeLifetime / 3
)

const uriPrefix = "urn:frontdoor:node:"

// CA is the cluster's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates a cluster CA (ECDSA P-256) valid from now.
func NewCA(now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "frontdoor cluster CA", Organization: []string{"frontdoor"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Fingerprint is the hex SHA-256 of a certificate's DER bytes.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// KeyFingerprint is the hex SHA-256 of a public key's DER (SPKI) bytes.
func KeyFingerprint(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key fingerprint: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return s, nil
}

// NewNodeKey creates a node's private key (ECDSA P-256).
func NewNodeKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	return k, nil
}

// Request is what a node asks to be certified for: its ID and the raft
// and HTTP addresses it announces. The addresses are signed into the
// certificate request, so a captured request cannot be replayed with
// another address.
type Request struct {
	ID       string
	RaftAddr string
	HTTPAddr string
}

// NewCSR makes a PEM certificate request for r signed by key.
func NewCSR(key crypto.Signer, r Request) ([]byte, error) {
	uris := []*url.URL{nodeURI(r.ID), {Scheme: "frontdoor-raft", Host: r.RaftAddr}}
	if r.HTTPAddr != "" {
		uris = append(uris, &url.URL{Scheme: "frontdoor-http", Host: r.HTTPAddr})
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.ID}, URIs: uris}
	tmpl.DNSNames, tmpl.IPAddresses = hosts(r.RaftAddr, r.HTTPAddr)
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func nodeURI(id string) *url.URL {
	u, _ := url.Parse(uriPrefix + url.PathEscape(id))
	return u
}

// hosts are the DNS names and IP addresses of the given host:port
// addresses (a node's certificate also serves its HTTPS API).
func hosts(addrs ...string) (dns []string, ips []net.IP) {
	seen := map[string]bool{}
	for _, a := range addrs {
		h, _, err := net.SplitHostPort(a)
		if err != nil || h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	return dns, ips
}

// ErrBadRequest wraps every reason a certificate request is refused.
var ErrBadRequest = errors.New("certificate request refused")

// CheckCSR parses a PEM certificate request, checks its signature and that
// it asks for exactly r (ID and addresses), and returns it with the
// fingerprint of its public key.
func CheckCSR(csrPEM []byte, r Request) (*x509.CertificateRequest, string, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, "", fmt.Errorf("%w: not a PEM CERTIFICATE REQUEST", ErrBadRequest)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("%w: signature: %v", ErrBadRequest, err)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, "", fmt.Errorf("%w: key must be ECDSA", ErrBadRequest)
	}
	want := map[string]bool{nodeURI(r.ID).String(): true, "frontdoor-raft://" + r.RaftAddr: true}
	if r.HTTPAddr != "" {
		want["frontdoor-http://"+r.HTTPAddr] = true
	}
	got := map[string]bool{}
	for _, u := range csr.URIs {
		got[u.String()] = true
	}
	if len(got) != len(want) {
		return nil, "", fmt.Errorf("%w: it must name node %s at raft %s and HTTP %s, and nothing else", ErrBadRequest, r.ID, r.RaftAddr, r.HTTPAddr)
	}
	for u := range want {
		if !got[u] {
			return nil, "", fmt.Errorf("%w: it does not name %s", ErrBadRequest, u)
		}
	}
	fp, err := KeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, "", err
	}
	return csr, fp, nil
}

// Issue signs a node certificate for the checked request csr (CheckCSR):
// the node's ID as URI SAN and Common Name, the DNS names and IP addresses
// of its addresses, valid for both server and client authentication.
func (ca *CA) Issue(csr *x509.CertificateRequest, r Request, now time.Time) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: r.ID, Organization: []string{"frontdoor"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(NodeLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{nodeURI(r.ID)},
	}
	tmpl.DNSNames, tmpl.IPAddresses = hosts(r.RaftAddr, r.HTTPAddr)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", r.ID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// NodeID is the node a certificate names: its urn:frontdoor:node: URI SAN,
// or else its Common Name (certificates from the trust's own PKI).
func NodeID(cert *x509.Certificate) (string, error) {
	for _, u := range cert.URIs {
		if s := u.String(); strings.HasPrefix(s, uriPrefix) {
			id, err := url.PathUnescape(strings.TrimPrefix(s, uriPrefix))
			if err != nil || id == "" {
				return "", fmt.Errorf("certificate names a bad node id %q", s)
			}
			return id, nil
		}
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName, nil
	}
	return "", errors.New("certificate names no node")
}

// Join tokens: "fdj1.<CA fingerprint, 64 hex>.<secret, 64 hex>".
const tokenPrefix = "fdj1."

// NewJoinToken makes a join token for the cluster whose CA is ca.
func NewJoinToken(ca *x509.Certificate) (string, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("join token: %w", err)
	}
	return tokenPrefix + Fingerprint(ca) + "." + hex.EncodeToString(secret[:]), nil
}

// NewSecretToken makes a join token that names no CA (a cluster certified
// by the trust's own PKI, whose CA every node already has).
func NewSecretToken() (string, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("join token: %w", err)
	}
	return hex.EncodeToString(secret[:]), nil
}

// TokenCA is the CA fingerprint a join token carries; ok is false for a
// token that carries none (a cluster created before TLS).
func TokenCA(token string) (fp string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", false
	}
	fp, _, ok = strings.Cut(rest, ".")
	if !ok || len(fp) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(fp); err != nil {
		return "", false
	}
	return fp, true
}

// CheckCA reports whether cert is the CA a join token names.
func CheckCA(token string, cert *x509.Certificate) error {
	fp, ok := TokenCA(token)
	if !ok {
		return errors.New("the join token carries no CA fingerprint")
	}
	if subtle.ConstantTimeCompare([]byte(fp), []byte(Fingerprint(cert))) != 1 {
		return fmt.Errorf("the cluster's CA (fingerprint %s) is not the one the join token names: refusing to trust it", Fingerprint(cert))
	}
	return nil
}

// sealKey derives the AES-256 key that seals the CA key from the token.
func sealKey(token string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(token), []byte("frontdoor"), "cluster CA key", 32)
}

// sealer is the AES-256-GCM that seals the CA key under token.
func sealer(token string) (cipher.AEAD, error) {
	k, err := sealKey(token)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealKey encrypts the CA's private key with the join token (AES-256-GCM,
// key derived with HKDF): what the replicated state keeps, so any member
// holding the token can sign a join.
func (ca *CA) SealKey(token string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("seal CA key: %w", err)
	}
	aead, err := sealer(token)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, der, ca.Cert.Raw), nil
}

// OpenCA rebuilds the CA from its certificate (PEM) and the sealed key.
func OpenCA(certPEM, sealed []byte, token string) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("open CA: %w", err)
	}
	aead, err := sealer(token)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("open CA: sealed key too short")
	}
	der, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], cert.Raw)
	if err != nil {
		return nil, errors.New("open CA: the join token does not open the CA key")
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("open CA: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("open CA: key cannot sign")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// CertPEM is the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// ParseCert parses the first PEM certificate in b.
func ParseCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
