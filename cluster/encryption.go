package cluster

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Encryption at rest. One master key (Config.EncryptionKey, 32 bytes, kept
// outside the data dir) never touches a data file itself: HKDF-SHA256
// derives a separate key for each store,
//
//   - the state store (Badger's master key: it encrypts Badger's own data
//     keys, which encrypt every table, value log and memtable file, and
//     which Badger replaces by itself every BadgerKeyRotation),
//   - the raft log (AES-256-GCM over each entry: logmac.go),
//   - snapshots (AES-256-GCM in 64 KiB chunks: snapcrypt.go),
//   - a check value kept in the raft log's stable store, so a node given
//     the wrong key says so at once instead of reading garbage.
//
// Changing the master key is an offline step (RotateEncryptionKey), and a
// data dir written before encryption is converted by MigrateEncryption.

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// Errors of encryption at rest.
var (
	// ErrWrongKey: the encryption key does not match the one the data dir
	// was written with. Nothing was read or changed.
	ErrWrongKey = errors.New("the encryption key does not match this data dir's")
	// ErrNotEncrypted: an encryption key was given for a data dir written
	// without encryption (frontdoor encryption migrate converts it).
	ErrNotEncrypted = errors.New("data dir was written without encryption: convert it with `frontdoor encryption migrate`")
	// ErrEncrypted: no key was given for an encrypted data dir.
	ErrEncrypted = errors.New("data dir is encrypted: give its key (--encryption-key-file)")
)

// dataKeys are the per-store keys derived from the master key; a nil
// *dataKeys means encryption is off.
type dataKeys struct {
	badger []byte // Badger's master key (AES-256)
	log    []byte // raft log entries (AES-256-GCM)
	snap   []byte // snapshots (AES-256-GCM)
	check  []byte // HMAC key of the key check value
}

// deriveKeys derives the per-store keys from master (nil -> nil: off).
func deriveKeys(master []byte) (*dataKeys, error) {
	if master == nil {
		return nil, nil
	}
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("encryption key: %d bytes, want %d", len(master), MasterKeySize)
	}
	k := func(info string) []byte {
		b, err := hkdf.Key(sha256.New, master, nil, "frontdoor "+info+" v1", 32)
		if err != nil {
			panic(err) // only for a length hkdf cannot give
		}
		return b
	}
	return &dataKeys{badger: k("badger"), log: k("raft log"), snap: k("snapshots"), check: k("key check")}, nil
}

// checkValue is what the stable store keeps to recognise the key.
func (k *dataKeys) checkValue() []byte {
	h := hmac.New(sha256.New, k.check)
	h.Write([]byte("frontdoor encryption key check"))
	return h.Sum(nil)
}

var keyCheckKey = []byte("frontdoor_key_check")

// checkKey compares keys with the data dir's recorded check value. fresh
// says whether the dir holds no state yet (then the check is recorded
// with a key; nothing happens without one).
func checkKey(stable raft.StableStore, keys *dataKeys, fresh bool) error {
	have, err := stable.Get(keyCheckKey)
	if err != nil && err.Error() != "not found" {
		return fmt.Errorf("raft log: key check: %w", err)
	}
	switch {
	case keys == nil && len(have) > 0:
		return ErrEncrypted
	case keys == nil:
		return nil
	case len(have) > 0:
		if !hmac.Equal(have, keys.checkValue()) {
			return ErrWrongKey
		}
		return nil
	case !fresh:
		return ErrNotEncrypted
	}
	if err := stable.Set(keyCheckKey, keys.checkValue()); err != nil {
		return fmt.Errorf("raft log: record key check: %w", err)
	}
	return nil
}

// ReadKeyFile reads a master key: 64 hexadecimal digits (surrounding
// white space ignored) or exactly 32 raw bytes. The file must not be
// readable by group or others.
func ReadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("encryption key file %s: mode %v, want 0600 (readable by its owner only)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	if len(b) == MasterKeySize {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	key, err := hex.DecodeString(s)
	if err != nil || len(key) != MasterKeySize {
		return nil, fmt.Errorf("encryption key file %s: want %d hexadecimal digits (e.g. from `openssl rand -hex 32`) or %d raw bytes", path, 2*MasterKeySize, MasterKeySize)
	}
	return key, nil
}

// EnsureKeyFile reads the key at path, or creates it (32 random bytes as
// hex, mode 0600, its folder 0700 if new) if there is none. created says
// which.
func EnsureKeyFile(path string) (key []byte, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		key, err := ReadKeyFile(path)
		return key, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	key = make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("encryption key file: %w", err)
	}
	return key, true, nil
}

// DefaultKeyFile is where serve keeps a generated key when none is given:
// beside the data dir, not in it (<data-dir>.key).
func DefaultKeyFile(dataDir string) string {
	return filepath.Clean(dataDir) + ".key"
}

// badgerKey is Badger's master key, nil with encryption off.
func (k *dataKeys) badgerKey() []byte {
	if k == nil {
		return nil
	}
	return k.badger
}

// BadgerKeyRotation is how often Badger replaces the data key it encrypts
// new files with (older files keep theirs, kept in its key registry under
// the master key).
const BadgerKeyRotation = 7 * 24 * time.Hour

// withBadgerKey sets Badger's encryption (key nil: none).
func withBadgerKey(o badger.Options, key []byte) badger.Options {
	if key == nil {
		return o
	}
	return o.WithEncryptionKey(key).WithEncryptionKeyRotationDuration(BadgerKeyRotation)
}

// DataDirHasState reports whether a node's data dir holds a raft log,
// snapshots or a state store.
func DataDirHasState(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "raft", "raft.db")); err == nil {
		return true
	}
	return hasSnapshots(filepath.Join(dir, "raft")) || hasState(dir)
}
