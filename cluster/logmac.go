package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// macLogStore keeps a MAC with every raft log entry it stores (HMAC-SHA256
// under a key of this node's, over the entry's index, term, type and data,
// kept in the entry's Extensions) and checks it on every read, so a byte
// changed in raft.db is found instead of being applied or sent to a
// follower. Entries a previous release stored without a MAC (below the
// index kept under macFromKey) are read as they are. The data-protection
// work replaces the MAC with authenticated encryption in the same place.
type macLogStore struct {
	raft.LogStore
	key  []byte
	from uint64 // first index that must carry a MAC
	path string // raft.db, for messages
	// diskLow, when it says why, makes StoreLogs refuse entries (the node
	// is short of disk space: diskspace.go).
	diskLow func() string
}

const (
	macMagic   = "fdmac1:"
	macKeyFile = "log.key"
)

var macFromKey = []byte("frontdoor_mac_from")

// ErrCorruptLog: a raft log entry failed its MAC check.
var ErrCorruptLog = errors.New("raft log entry corrupt")

// newMACLogStore wraps inner with the key kept in raftDir (created on
// first use). stable records the first index under the MAC.
func newMACLogStore(inner raft.LogStore, stable raft.StableStore, raftDir string, diskLow func() string) (*macLogStore, error) {
	kp := filepath.Join(raftDir, macKeyFile)
	key, err := os.ReadFile(kp)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(kp, key, 0o600); err != nil {
			return nil, fmt.Errorf("raft log key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("raft log key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("raft log key %s: %d bytes, want 32", kp, len(key))
	}
	from, err := stable.GetUint64(macFromKey)
	if err != nil || from == 0 {
		last, err := inner.LastIndex()
		if err != nil {
			return nil, fmt.Errorf("raft log: %w", err)
		}
		from = last + 1
		if err := stable.SetUint64(macFromKey, from); err != nil {
			return nil, fmt.Errorf("raft log: %w", err)
		}
	}
	return &macLogStore{LogStore: inner, key: key, from: from, path: filepath.Join(raftDir, "raft.db"), diskLow: diskLow}, nil
}

func (m *macLogStore) mac(l *raft.Log) []byte {
	h := hmac.New(sha256.New, m.key)
	var b [8 + 8 + 1]byte
	binary.BigEndian.PutUint64(b[0:], l.Index)
	binary.BigEndian.PutUint64(b[8:], l.Term)
	b[16] = byte(l.Type)
	h.Write(b[:])
	h.Write(l.Data)
	return append([]byte(macMagic), h.Sum(nil)...)
}

// GetLog reads and checks an entry; the MAC is not handed on.
func (m *macLogStore) GetLog(index uint64, l *raft.Log) error {
	if err := m.LogStore.GetLog(index, l); err != nil {
		return err
	}
	return m.check(index, l)
}

func (m *macLogStore) check(index uint64, l *raft.Log) error {
	ext := l.Extensions
	l.Extensions = nil
	if len(ext) == 0 && index < m.from {
		return nil // stored before MACs
	}
	if l.Index != index || !hmac.Equal(ext, m.mac(l)) {
		return fmt.Errorf("%w: %s, index %d: its MAC does not match its contents", ErrCorruptLog, m.path, index)
	}
	return nil
}

func (m *macLogStore) StoreLog(l *raft.Log) error { return m.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores copies of the entries with their MACs (raft keeps the
// originals).
func (m *macLogStore) StoreLogs(logs []*raft.Log) error {
	if m.diskLow != nil {
		if why := m.diskLow(); why != "" {
			return fmt.Errorf("%w: %s", ErrDiskFull, why)
		}
	}
	out := make([]*raft.Log, len(logs))
	for i, l := range logs {
		c := *l
		c.Extensions = m.mac(l)
		out[i] = &c
	}
	return m.LogStore.StoreLogs(out)
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
