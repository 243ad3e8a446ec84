package backup

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
)

// MinPassphrase is the shortest passphrase a backup takes.
const MinPassphrase = 12

// ParseRecipient parses an age X25519 recipient ("age1..."): the public
// half of a key whose private half the operator keeps away from the
// cluster. A passphrase is never a recipient a node is given: the node
// would hold the secret that opens its own backups.
func ParseRecipient(s string) (age.Recipient, error) {
	r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("recipient %q: want an age public key (age1..., from age-keygen or `frontdoor backup keygen`): %w", s, err)
	}
	return r, nil
}

// ReadPassphrase reads a passphrase from the first line of path.
func ReadPassphrase(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("passphrase file: %w", err)
	}
	p, _, _ := strings.Cut(string(b), "\n")
	p = strings.TrimRight(p, "\r")
	if len(p) < MinPassphrase {
		return "", fmt.Errorf("passphrase file %s: the passphrase has %d characters, at least %d are needed", path, len(p), MinPassphrase)
	}
	return p, nil
}

// PassphraseRecipient encrypts to a passphrase (age's scrypt recipient);
// workFactor 0 keeps age's default (2^18).
func PassphraseRecipient(pass string, workFactor int) (age.Recipient, error) {
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return nil, err
	}
	if workFactor > 0 {
		r.SetWorkFactor(workFactor)
	}
	return r, nil
}

// PassphraseIdentity opens a backup encrypted to a passphrase.
func PassphraseIdentity(pass string) (age.Identity, error) {
	return age.NewScryptIdentity(pass)
}

// ReadIdentities reads age identities (private keys, "AGE-SECRET-KEY-1...")
// from a file such as age-keygen writes.
func ReadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	if len(ids) == 0 {
		return nil, errors.New("identity file " + path + ": no identity")
	}
	return ids, nil
}
