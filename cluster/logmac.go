package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
)

// macLogStore protects every raft log entry it stores and checks it on
// every read, so a byte changed in raft.db is found instead of being
// applied or sent to a follower. With encryption on (aead set) an entry's
// data (and extensions) are sealed with AES-256-GCM under the log key
// derived from the master key, with its index, term and type as associated
// data, so an entry cannot be read, changed or moved to another index or
// term without the key. With encryption off each entry carries an
// HMAC-SHA256 under a key of this node's (raft/log.key) over its index,
// term, type and data. Both are kept in the entry's Extensions (a marker,
// and for GCM the nonce). Entries written by an earlier release are still
// read: without anything below the index kept under macFromKey, with a
// MAC below the one kept under encFromKey.
type macLogStore struct {
	raft.LogStore
	key     []byte      // HMAC key (log.key); nil if this dir never had one
	from    uint64      // first index that must carry a MAC or be sealed
	aead    cipher.AEAD // nil: encryption off
	encFrom uint64      // first index that must be sealed (aead set)
	path    string      // raft.db, for messages
	// diskLow, when it says why, makes StoreLogs refuse entries (the node
	// is short of disk space: diskspace.go).
	diskLow func() string
	// recent, in a running node's store, holds the newest entries
	// (logcache.go); nil in a stopped node's (verify, migrate, rotate).
	recent *recentLogs
}

const (
	macMagic   = "fdmac1:"
	gcmMagic   = "fdgcm1:"
	macKeyFile = "log.key"
)

var (
	macFromKey = []byte("frontdoor_mac_from")
	encFromKey = []byte("frontdoor_enc_from")
)

// ErrCorruptLog: a raft log entry failed its MAC or authentication check.
var ErrCorruptLog = errors.New("raft log entry corrupt")

// newMACLogStore wraps inner. Without keys it MACs new entries with the
// key kept in raftDir (created on first use); with keys it seals them.
// stable records the first index under each and the key check (a wrong
// key is refused here, before anything is read or written).
func newMACLogStore(inner raft.LogStore, stable raft.StableStore, raftDir string, keys *dataKeys, diskLow func() string) (*macLogStore, error) {
	m, err := loadLogStore(inner, stable, raftDir, keys, false)
	if err != nil {
		return nil, err
	}
	m.diskLow = diskLow
	m.recent = newRecentLogs()
	return m, nil
}

// loadLogStore builds the wrapper; readOnly writes nothing (verify,
// migrate and rotate read a stopped node's log with it).
func loadLogStore(inner raft.LogStore, stable raft.StableStore, raftDir string, keys *dataKeys, readOnly bool) (*macLogStore, error) {
	last, err := inner.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("raft log: %w", err)
	}
	fresh := !readOnly && last == 0 && !hasSnapshots(raftDir) && !hasState(filepath.Dir(raftDir))
	if err := checkKey(stable, keys, fresh); err != nil {
		return nil, fmt.Errorf("raft log %s: %w", filepath.Join(raftDir, "raft.db"), err)
	}
	m := &macLogStore{LogStore: inner, path: filepath.Join(raftDir, "raft.db")}
	kp := filepath.Join(raftDir, macKeyFile)
	key, err := os.ReadFile(kp)
	switch {
	case errors.Is(err, os.ErrNotExist) && keys == nil && !readOnly:
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(kp, key, 0o600); err != nil {
			return nil, fmt.Errorf("raft log key: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
		key = nil
	case err != nil:
		return nil, fmt.Errorf("raft log key: %w", err)
	}
	if key != nil && len(key) != 32 {
		return nil, fmt.Errorf("raft log key %s: %d bytes, want 32", kp, len(key))
	}
	m.key = key
	if m.from, err = fromIndex(stable, macFromKey, last, readOnly); err != nil {
		return nil, err
	}
	if keys != nil {
		if m.aead, err = newGCM(keys.log); err != nil {
			return nil, err
		}
		if m.encFrom, err = fromIndex(stable, encFromKey, last, readOnly); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fromIndex reads the first index under name, recording last+1 the first
// time (unless readOnly).
func fromIndex(stable raft.StableStore, name []byte, last uint64, readOnly bool) (uint64, error) {
	from, err := stable.GetUint64(name)
	if err != nil || from == 0 {
		from = last + 1
		if readOnly {
			return from, nil
		}
		if err := stable.SetUint64(name, from); err != nil {
			return 0, fmt.Errorf("raft log: %w", err)
		}
	}
	return from, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// hasSnapshots reports whether raftDir holds any raft snapshot.
func hasSnapshots(raftDir string) bool {
	es, _ := os.ReadDir(filepath.Join(raftDir, "snapshots"))
	return len(es) > 0
}

// hasState reports whether the data dir holds a state store.
func hasState(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "fsm", "CURRENT"))
	if err == nil {
		return true
	}
	ms, _ := filepath.Glob(filepath.Join(dataDir, "fsm", "db-*", "MANIFEST"))
	return len(ms) > 0
}

func logHeader(l *raft.Log) []byte {
	var b [8 + 8 + 1]byte
	binary.BigEndian.PutUint64(b[0:], l.Index)
	binary.BigEndian.PutUint64(b[8:], l.Term)
	b[16] = byte(l.Type)
	return b[:]
}

func (m *macLogStore) mac(l *raft.Log) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write(logHeader(l))
	h.Write(l.Data)
	return append([]byte(macMagic), h.Sum(nil)...)
}

// seal returns a copy of l with its data and extensions encrypted: Data
// is the ciphertext of (uvarint len(Data), Data, Extensions), Extensions
// the marker and nonce.
func (m *macLogStore) seal(l *raft.Log) (*raft.Log, error) {
	c := *l
	plain := make([]byte, 0, binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	plain = binary.AppendUvarint(plain, uint64(len(l.Data)))
	plain = append(plain, l.Data...)
	plain = append(plain, l.Extensions...)
	// The nonce is the entry's index and 4 random bytes: nonces under one
	// key never repeat across indexes (random 12-byte nonces would near
	// a collision after about 2^32 entries), and the few times raft
	// rewrites one index (an uncommitted entry replaced) collide with
	// chance 2^-32 each.
	ext := make([]byte, len(gcmMagic)+m.aead.NonceSize())
	copy(ext, gcmMagic)
	binary.BigEndian.PutUint64(ext[len(gcmMagic):], l.Index)
	if _, err := rand.Read(ext[len(gcmMagic)+8:]); err != nil {
		return nil, err
	}
	c.Data = m.aead.Seal(nil, ext[len(gcmMagic):], plain, logHeader(l))
	c.Extensions = ext
	return &c, nil
}

// GetLog reads and checks an entry; the MAC or seal is not handed on.
func (m *macLogStore) GetLog(index uint64, l *raft.Log) error {
	if m.recent != nil && m.recent.get(index, l) {
		return nil
	}
	if err := m.LogStore.GetLog(index, l); err != nil {
		return err
	}
	return m.check(index, l)
}

func (m *macLogStore) check(index uint64, l *raft.Log) error {
	ext := l.Extensions
	l.Extensions = nil
	if l.Index != index {
		return fmt.Errorf("%w: %s, index %d: the entry stored there says index %d", ErrCorruptLog, m.path, index, l.Index)
	}
	switch {
	case strings.HasPrefix(string(ext), gcmMagic):
		if m.aead == nil {
			return fmt.Errorf("%w: %s, index %d: the entry is encrypted and no key was given", ErrCorruptLog, m.path, index)
		}
		plain, err := m.aead.Open(nil, ext[len(gcmMagic):], l.Data, logHeader(l))
		if err != nil {
			return fmt.Errorf("%w: %s, index %d: it fails authentication (changed, or moved from another index)", ErrCorruptLog, m.path, index)
		}
		n, k := binary.Uvarint(plain)
		if k <= 0 || uint64(len(plain)-k) < n {
			return fmt.Errorf("%w: %s, index %d: bad sealed entry", ErrCorruptLog, m.path, index)
		}
		l.Data = plain[k : k+int(n)]
		if rest := plain[k+int(n):]; len(rest) > 0 {
			l.Extensions = rest
		}
		return nil
	case m.aead != nil && index >= m.encFrom:
		return fmt.Errorf("%w: %s, index %d: the entry is not sealed, and every entry from %d must be", ErrCorruptLog, m.path, index, m.encFrom)
	case len(ext) == 0 && index < m.from:
		return nil // stored before MACs
	case m.key == nil || !hmac.Equal(ext, m.mac(l)):
		return fmt.Errorf("%w: %s, index %d: its MAC does not match its contents", ErrCorruptLog, m.path, index)
	}
	return nil
}

func (m *macLogStore) StoreLog(l *raft.Log) error { return m.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores sealed (or MAC'd) copies of the entries (raft keeps
// the originals).
func (m *macLogStore) StoreLogs(logs []*raft.Log) error {
	if m.diskLow != nil {
		if why := m.diskLow(); why != "" {
			return fmt.Errorf("%w: %s", ErrDiskFull, why)
		}
	}
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		if m.aead != nil {
			c, err := m.seal(l)
			if err != nil {
				return fmt.Errorf("raft log: seal entry %d: %w", l.Index, err)
			}
			out[i] = c
			continue
		}
		c := *l
		c.Extensions = m.mac(l)
		out[i] = &c
	}
	if err := m.LogStore.StoreLogs(out); err != nil {
		return err
	}
	if m.recent != nil {
		m.recent.add(logs)
	}
	return nil
}

// DeleteRange removes entries (raft compacting its log, or a follower
// dropping entries a new leader replaces) and forgets the recent ones.
func (m *macLogStore) DeleteRange(lo, hi uint64) error {
	if m.recent != nil {
		m.recent.clear()
	}
	return m.LogStore.DeleteRange(lo, hi)
}

// verifyAll checks every entry in the log (at open: a corrupt log is
// refused before raft reads it).
func (m *macLogStore) verifyAll() (n int, err error) {
	first, err := m.FirstIndex()
	if err != nil {
		return 0, err
	}
	last, err := m.LastIndex()
	if err != nil {
		return 0, err
	}
	if last == 0 {
		return 0, nil
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := m.GetLog(i, &l); err != nil {
			return n, fmt.Errorf("%s index %d: %w", m.path, i, err)
		}
		n++
	}
	return n, nil
}

// checkBoltFile refuses a raft.db shorter than its own header says it is:
// bbolt maps the file and would die of SIGBUS reading past its end, which
// no recover can turn into an error.
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return nil // a new file
	}
	const pageHeader, magic = 16, 0xED0CDAED
	var best struct {
		txid, pgid uint64
		pageSize   uint32
		ok         bool
	}
	buf := make([]byte, 128)
	offsets := []int64{0}
	for i := 0; i < 2 && i < len(offsets); i++ {
		if _, err := f.ReadAt(buf, offsets[i]); err != nil {
			return fmt.Errorf("%w: raft log %s is truncated: %d bytes, no header", ErrCorruptLog, path, fi.Size())
		}
		m := buf[pageHeader:]
		pageSize := binary.LittleEndian.Uint32(m[8:])
		if i == 0 && pageSize >= 512 && pageSize <= 1<<16 {
			offsets = append(offsets, int64(pageSize))
		}
		if binary.LittleEndian.Uint32(m[0:]) != magic {
			continue
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			continue
		}
		txid := binary.LittleEndian.Uint64(m[48:])
		if !best.ok || txid > best.txid {
			best.txid, best.pgid, best.pageSize, best.ok = txid, binary.LittleEndian.Uint64(m[40:]), pageSize, true
		}
	}
	if !best.ok {
		return fmt.Errorf("%w: raft log %s is corrupt: no valid header page", ErrCorruptLog, path)
	}
	if need := int64(best.pgid) * int64(best.pageSize); fi.Size() < need {
		return fmt.Errorf("%w: raft log %s is truncated: %d bytes, its header says %d", ErrCorruptLog, path, fi.Size(), need)
	}
	return nil
}
