// Package backup is the frontdoor backup file: a consistent copy of a
// cluster's state (cluster.Backup), encrypted with age to the backup's own
// key or passphrase, so a backup outlives the cluster and its keys, with a
// checksum checked before anything is restored. It also runs the scheduled
// backups of `frontdoor serve --backup-dir`.
//
// File layout:
//
//	"FDBACKUP"                      8 bytes, magic
//	header length                   4 bytes, big endian
//	header                          JSON (Header): format, logic version, applied index, ...
//	body                            age-encrypted snapshot stream (cluster snapshot format)
//	checksum                        32 bytes, SHA-256 of everything before it
//
// The header is in clear (it holds no patient data) so that restore can
// refuse a backup from a newer logic version, and an operator can see what
// a file holds, without its key. The checksum covers the header too, and
// is written last so the whole file streams in one pass.
package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
)

// Magic starts every backup file.
const Magic = "FDBACKUP"

// FormatVersion is the version of the file layout this binary writes and
// reads.
const FormatVersion = 1

const (
	maxHeader = 64 << 10
	sumSize   = sha256.Size
)

// Header describes a backup; it is stored in clear.
type Header struct {
	Format int `json:"format"`
	// LogicVersion is the cluster's logic version when the backup was
	// taken: a binary with a lower one refuses to restore it.
	LogicVersion int `json:"logic_version"`
	// AppliedIndex is the raft index the state reflects.
	AppliedIndex uint64    `json:"applied_index"`
	Created      time.Time `json:"created"`
	NodeID       string    `json:"node_id"`
	NodeVersion  string    `json:"node_version"`
	// Encryption names how the body is encrypted: "age".
	Encryption string `json:"encryption"`
}

// Errors a reader can tell apart.
var (
	ErrNotBackup = errors.New("not a frontdoor backup file")
	ErrChecksum  = errors.New("backup checksum mismatch: the file is truncated or has been altered")
	ErrNewer     = errors.New("backup from a newer logic version")
	ErrKey       = errors.New("the passphrase or identity does not open this backup")
)

// Write writes a backup file to w: h, then the body that body writes,
// encrypted to recipients, then the checksum. body's error is returned and
// the file is then incomplete (its checksum will not match).
func Write(w io.Writer, h Header, recipients []age.Recipient, body func(io.Writer) error) error {
	if len(recipients) == 0 {
		return errors.New("backup: no recipient to encrypt to")
	}
	h.Format, h.Encryption = FormatVersion, "age"
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	sum := sha256.New()
	out := io.MultiWriter(w, sum)
	var pre [len(Magic) + 4]byte
	copy(pre[:], Magic)
	binary.BigEndian.PutUint32(pre[len(Magic):], uint32(len(hb)))
	if _, err := out.Write(pre[:]); err != nil {
		return fmt.Errorf("backup: write header: %w", err)
	}
	if _, err := out.Write(hb); err != nil {
		return fmt.Errorf("backup: write header: %w", err)
	}
	enc, err := age.Encrypt(out, recipients...)
	if err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	if err := body(enc); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("backup: encrypt: %w", err)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return fmt.Errorf("backup: write checksum: %w", err)
	}
	return nil
}

// File is a backup file whose checksum has been checked.
type File struct {
	Header Header
	// SHA256 is the file's checksum (hex), as recorded in the restored
	// cluster's audit trail.
	SHA256 string
	f      *os.File
	body   *io.SectionReader
}

// Open opens the backup at path and checks its checksum and header; it
// reads the whole file once. maxLogic is the highest logic version the
// caller can load (ErrNewer above it).
func Open(path string, maxLogic int) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	bf, err := open(f, maxLogic)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bf, nil
}

func open(f *os.File, maxLogic int) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(Magic))+4+sumSize {
		return nil, fmt.Errorf("%w (%d bytes)", ErrNotBackup, size)
	}
	var pre [len(Magic) + 4]byte
	if _, err := f.ReadAt(pre[:], 0); err != nil {
		return nil, err
	}
	if string(pre[:len(Magic)]) != Magic {
		return nil, ErrNotBackup
	}
	// The checksum first: nothing in a damaged file is trusted.
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(f, 0, size-sumSize)); err != nil {
		return nil, err
	}
	want := make([]byte, sumSize)
	if _, err := f.ReadAt(want, size-sumSize); err != nil {
		return nil, err
	}
	got := sum.Sum(nil)
	if !bytes.Equal(got, want) {
		return nil, ErrChecksum
	}
	hl := int64(binary.BigEndian.Uint32(pre[len(Magic):]))
	start := int64(len(pre)) + hl
	if hl > maxHeader || start > size-sumSize {
		return nil, fmt.Errorf("%w: header length %d", ErrNotBackup, hl)
	}
	hb := make([]byte, hl)
	if _, err := f.ReadAt(hb, int64(len(pre))); err != nil {
		return nil, err
	}
	var h Header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotBackup, err)
	}
	if h.Format != FormatVersion {
		return nil, fmt.Errorf("%w: format %d, this binary reads format %d", ErrNotBackup, h.Format, FormatVersion)
	}
	if h.Encryption != "age" {
		return nil, fmt.Errorf("%w: encryption %q", ErrNotBackup, h.Encryption)
	}
	if h.LogicVersion > maxLogic {
		return nil, fmt.Errorf("%w: the backup is at logic version %d, this binary at %d: restore it with a newer frontdoor",
			ErrNewer, h.LogicVersion, maxLogic)
	}
	return &File{Header: h, SHA256: hex.EncodeToString(got), f: f,
		body: io.NewSectionReader(f, start, size-sumSize-start)}, nil
}

// Decrypt returns the plaintext body (the snapshot stream). The key is
// checked here (ErrKey); the body's integrity, as it is read (age
// authenticates every 64 KiB chunk).
func (b *File) Decrypt(identities ...age.Identity) (io.Reader, error) {
	if _, err := b.body.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r, err := age.Decrypt(b.body, identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return r, nil
}

// Close closes the file.
func (b *File) Close() error { return b.f.Close() }
