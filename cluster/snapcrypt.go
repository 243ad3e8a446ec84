package cluster

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Encrypted snapshots. snapshotStore wraps raft's file snapshot store:
// with encryption on, Create's sink encrypts the stream as it is written
// and Open's reader decrypts it, refusing any change. The file (state.bin)
// is
//
//	magic "FDSNAPE1", 8 random bytes (the nonce prefix),
//	chunks: 1 byte final flag, 4 bytes big-endian length, ciphertext
//
// where each chunk is AES-256-GCM over up to snapChunk bytes of the
// snapshot, its nonce the prefix and the chunk's number, its associated
// data the snapshot's index and term, the chunk's number and the final
// flag: chunks cannot be changed, reordered, dropped, cut short or moved
// to another snapshot. Every chunk but the last holds exactly snapChunk
// bytes, so the plain size (what raft sends a follower) follows from the
// file's. Either way the snapshot folders are 0700 and their files 0600.
type snapshotStore struct {
	inner *raft.FileSnapshotStore
	dir   string      // raftDir/snapshots
	aead  cipher.AEAD // nil: snapshots in clear
}

const (
	snapEncMagic = "FDSNAPE1"
	snapChunk    = 64 << 10
	snapHeader   = len(snapEncMagic) + 8
	snapChunkHdr = 1 + 4
)

// ErrCorruptSnapshot: a snapshot failed authentication (or is cut short).
var ErrCorruptSnapshot = errors.New("snapshot corrupt")

// openSnapshotStore opens raft's file snapshot store under raftDir,
// encrypting with keys (nil: none).
func openSnapshotStore(raftDir string, keys *dataKeys, logger hclog.Logger) (*snapshotStore, error) {
	inner, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, logger)
	if err != nil {
		return nil, err
	}
	s := &snapshotStore{inner: inner, dir: filepath.Join(raftDir, "snapshots")}
	if keys != nil {
		if s.aead, err = newGCM(keys.snap); err != nil {
			return nil, err
		}
	}
	if err := tightenModes(s.dir); err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	return s, nil
}

// Create starts a snapshot whose contents are encrypted as written.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.inner.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(s.dir, sink.ID()+".tmp")
	if err := tightenModes(tmp); err != nil {
		_ = sink.Cancel()
		return nil, fmt.Errorf("snapshot %s: %w", sink.ID(), err)
	}
	out := &sealSink{SnapshotSink: sink, final: filepath.Join(s.dir, sink.ID())}
	if s.aead == nil {
		return out, nil
	}
	out.aead, out.index, out.term = s.aead, index, term
	out.prefix = make([]byte, 8)
	if _, err := rand.Read(out.prefix); err != nil {
		_ = sink.Cancel()
		return nil, err
	}
	if _, err := sink.Write(append([]byte(snapEncMagic), out.prefix...)); err != nil {
		_ = sink.Cancel()
		return nil, fmt.Errorf("snapshot %s: %w", sink.ID(), err)
	}
	return out, nil
}

// List lists the snapshots, with their plain sizes.
func (s *snapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.inner.List()
	if err != nil || s.aead == nil {
		return metas, err
	}
	for _, m := range metas {
		m.Size = plainSize(m.Size)
	}
	return metas, nil
}

// Open opens a snapshot for reading: its reader yields the plain
// contents and fails with ErrCorruptSnapshot at the first change.
func (s *snapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.inner.Open(id)
	if err != nil || s.aead == nil {
		return meta, rc, err
	}
	br := bufio.NewReaderSize(rc, snapChunk+snapChunkHdr+64)
	head := make([]byte, snapHeader)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(snapEncMagic)]) != snapEncMagic {
		rc.Close()
		return nil, nil, fmt.Errorf("%w: snapshot %s is not encrypted or is cut short", ErrCorruptSnapshot, id)
	}
	m := *meta
	m.Size = plainSize(meta.Size)
	return &m, &openReader{c: rc, r: br, aead: s.aead, prefix: head[len(snapEncMagic):], index: meta.Index, term: meta.Term, id: id}, nil
}

// plainSize is the plain length of an encrypted snapshot file of n bytes.
func plainSize(n int64) int64 {
	const full = snapChunkHdr + snapChunk + 16
	rest := n - int64(snapHeader) - (snapChunkHdr + 16)
	if rest < 0 {
		return 0
	}
	return rest/full*snapChunk + rest%full
}

func snapNonce(prefix []byte, n uint32) []byte {
	nonce := make([]byte, 12)
	copy(nonce, prefix)
	binary.BigEndian.PutUint32(nonce[8:], n)
	return nonce
}

func snapAAD(index, term uint64, n uint32, final byte) []byte {
	b := make([]byte, 0, 8+8+8+4+1)
	b = append(b, snapEncMagic...)
	b = binary.BigEndian.AppendUint64(b, index)
	b = binary.BigEndian.AppendUint64(b, term)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, final)
}

// sealSink encrypts what raft writes in chunks (aead nil: passes it
// through) and tightens the finished snapshot's modes.
type sealSink struct {
	raft.SnapshotSink
	final       string // the snapshot's folder once closed
	aead        cipher.AEAD
	prefix      []byte
	index, term uint64
	buf         []byte
	n           uint32 // chunks written
}

func (w *sealSink) Write(p []byte) (int, error) {
	if w.aead == nil {
		return w.SnapshotSink.Write(p)
	}
	written := 0
	for len(p) > 0 {
		k := min(snapChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		written += k
		if len(w.buf) == snapChunk {
			if err := w.flush(0); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *sealSink) flush(final byte) error {
	if w.n == ^uint32(0) {
		return errors.New("snapshot too large")
	}
	ct := w.aead.Seal(nil, snapNonce(w.prefix, w.n), w.buf, snapAAD(w.index, w.term, w.n, final))
	hdr := make([]byte, snapChunkHdr, snapChunkHdr+len(ct))
	hdr[0] = final
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(ct)))
	if _, err := w.SnapshotSink.Write(append(hdr, ct...)); err != nil {
		return err
	}
	w.n++
	w.buf = w.buf[:0]
	return nil
}

// Close writes the last chunk, finishes the snapshot and makes its files
// 0600.
func (w *sealSink) Close() error {
	if w.aead != nil {
		if err := w.flush(1); err != nil {
			_ = w.SnapshotSink.Cancel()
			return fmt.Errorf("snapshot %s: %w", w.ID(), err)
		}
	}
	if err := w.SnapshotSink.Close(); err != nil {
		return err
	}
	return tightenModes(w.final)
}

// openReader decrypts an encrypted snapshot chunk by chunk.
type openReader struct {
	c           io.Closer
	r           *bufio.Reader
	aead        cipher.AEAD
	prefix      []byte
	index, term uint64
	id          string
	n           uint32
	plain       []byte
	done        bool
	err         error
}

func (o *openReader) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	k := copy(p, o.plain)
	o.plain = o.plain[k:]
	return k, nil
}

func (o *openReader) next() error {
	bad := func(why string) error {
		return fmt.Errorf("%w: snapshot %s, chunk %d: %s", ErrCorruptSnapshot, o.id, o.n, why)
	}
	var hdr [snapChunkHdr]byte
	if _, err := io.ReadFull(o.r, hdr[:]); err != nil {
		return bad("cut short")
	}
	final, size := hdr[0], binary.BigEndian.Uint32(hdr[1:])
	if final > 1 || size < 16 || size > snapChunk+16 {
		return bad("bad chunk header")
	}
	ct := make([]byte, size)
	if _, err := io.ReadFull(o.r, ct); err != nil {
		return bad("cut short")
	}
	plain, err := o.aead.Open(ct[:0], snapNonce(o.prefix, o.n), ct, snapAAD(o.index, o.term, o.n, final))
	if err != nil {
		return bad("fails authentication (changed, or not this snapshot's)")
	}
	if final == 0 && len(plain) != snapChunk {
		return bad("short chunk before the end")
	}
	o.n++
	o.plain = plain
	if final == 1 {
		if _, err := o.r.ReadByte(); err != io.EOF {
			return bad("data after the last chunk")
		}
		o.done = true
	}
	return nil
}

func (o *openReader) Close() error { return o.c.Close() }

// tightenModes makes path (a file or a folder and everything under it)
// readable by its owner only: folders 0700, files 0600. Missing: nothing.
func tightenModes(path string) error {
	err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		mode := os.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		} else if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm() == mode {
			return nil
		}
		if err := os.Chmod(p, mode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// verify reads snapshot id through (its CRC, and with encryption every
// chunk's authentication).
func (s *snapshotStore) verify(id string) error {
	_, rc, err := s.Open(id)
	if err != nil {
		return fmt.Errorf("%w: snapshot %s: %v", ErrCorruptSnapshot, filepath.Join(s.dir, id), err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		if errors.Is(err, ErrCorruptSnapshot) {
			return fmt.Errorf("%s: %w", filepath.Join(s.dir, id), err)
		}
		return fmt.Errorf("%w: snapshot %s: %v", ErrCorruptSnapshot, filepath.Join(s.dir, id), err)
	}
	return nil
}

// verifyAll reads every snapshot through.
func (s *snapshotStore) verifyAll() (int, error) {
	metas, err := s.List()
	if err != nil {
		return 0, err
	}
	for i, m := range metas {
		if err := s.verify(m.ID); err != nil {
			return i, err
		}
	}
	return len(metas), nil
}
