package cluster

import (
	"crypto/aes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"
)

// ErrCorruptState: a state store file failed its checksum.
var ErrCorruptState = errors.New("state store file corrupt")

// verifyTables checks every block of every Badger table in dir against its
// checksum. Badger can do this itself (options.OnTableRead), but in v4.9.6
// a block it cannot read makes it dereference nil in a goroutine of its own
// and the process dies; this reads the files (each table as its manifest
// entry says it was written: compressed with Snappy or not, and with key
// decrypted with its data key from Badger's key registry) and returns an
// error naming the table and block instead.
func verifyTables(dir string, key []byte) (tables int, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return 0, err
	}
	if len(paths) == 0 {
		return 0, nil
	}
	keys, err := tableKeys(dir, key)
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		id, perr := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".sst"), 10, 64)
		tm, listed := keys[id]
		if perr != nil || !listed {
			continue // not in the manifest: Badger deletes it at open
		}
		if err := verifyTable(p, tm); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // compacted away meanwhile
			}
			return tables, err
		}
		tables++
	}
	return tables, nil
}

// tableFormat is how a table was written, as its manifest entry says:
// the data key it was encrypted with (nil: in clear) and its block
// compression (a store keeps the compression each table was written with,
// so one written before a change of BadgerOptions still reads).
type tableFormat struct {
	dk          []byte
	compression options.CompressionType
}

// tableKeys maps every table in dir's manifest to how it was written, its
// data key read from Badger's key registry with the master key (nil: none).
func tableKeys(dir string, key []byte) (map[uint64]tableFormat, error) {
	kr, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", dir, badgerKeyErr(err, key))
	}
	defer kr.Close()
	fp, err := os.Open(filepath.Join(dir, badger.ManifestFilename))
	if err != nil {
		return nil, fmt.Errorf("state store manifest: %w", err)
	}
	defer fp.Close()
	mf, _, err := badger.ReplayManifestFile(fp, 0, badger.DefaultOptions(dir))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: manifest: %v", ErrCorruptState, fp.Name(), err)
	}
	out := make(map[uint64]tableFormat, len(mf.Tables))
	for id, tm := range mf.Tables {
		if tm.KeyID == 0 {
			out[id] = tableFormat{compression: tm.Compression}
			continue
		}
		if key == nil {
			return nil, fmt.Errorf("state store %s: %w", dir, ErrEncrypted)
		}
		dk, err := kr.DataKey(tm.KeyID)
		if err != nil || dk == nil {
			return nil, fmt.Errorf("%w: %s: table %d: data key %d: %v", ErrCorruptState, dir, id, tm.KeyID, err)
		}
		out[id] = tableFormat{dk: dk.Data, compression: tm.Compression}
	}
	return out, nil
}

// badgerKeyErr names Badger's refusal of a key in frontdoor's terms.
func badgerKeyErr(err error, key []byte) error {
	if !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		return err
	}
	if key == nil {
		return ErrEncrypted
	}
	return fmt.Errorf("%w (or the state store was written without encryption: %w)", ErrWrongKey, ErrNotEncrypted)
}

// decryptPart undoes Badger's AES-CTR over a table part (the IV follows
// the ciphertext).
func decryptPart(b, dk []byte) ([]byte, error) {
	if dk == nil {
		return b, nil
	}
	if len(b) < aes.BlockSize {
		return nil, errors.New("shorter than its IV")
	}
	n := len(b) - aes.BlockSize
	return y.XORBlockAllocate(b[:n], dk, b[n:])
}

// verifyTable checks one table's index and blocks.
func verifyTable(path string, tf tableFormat) (err error) {
	dk := tf.dk
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: unreadable (%v)", ErrCorruptState, path, r)
		}
	}()
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptState, path, fmt.Sprintf(format, a...))
	}
	pos := len(b) - 4
	if pos < 0 {
		return bad("too short")
	}
	chkLen := int(binary.BigEndian.Uint32(b[pos:]))
	pos -= chkLen
	if chkLen < 0 || pos < 4 {
		return bad("bad footer")
	}
	var chk pb.Checksum
	if err := proto.Unmarshal(b[pos:pos+chkLen], &chk); err != nil {
		return bad("index checksum: %v", err)
	}
	pos -= 4
	idxLen := int(binary.BigEndian.Uint32(b[pos:]))
	if idxLen < 0 || idxLen > pos {
		return bad("bad index length")
	}
	index := b[pos-idxLen : pos]
	if err := y.VerifyChecksum(index, &chk); err != nil {
		return bad("index: %v", err)
	}
	if index, err = decryptPart(index, dk); err != nil {
		return bad("index: %v", err)
	}
	ti := fb.GetRootAsTableIndex(index, 0)
	var ko fb.BlockOffset
	for i := 0; i < ti.OffsetsLength(); i++ {
		if !ti.Offsets(&ko, i) {
			return bad("block %d: no offset", i)
		}
		off, n := int(ko.Offset()), int(ko.Len())
		if off < 0 || n < 8 || off+n > len(b) {
			return bad("block %d: out of the file", i)
		}
		block, err := decryptPart(b[off:off+n], dk)
		if err != nil {
			return bad("block %d at offset %d: %v", i, off, err)
		}
		data := block
		switch tf.compression {
		case options.None:
		case options.Snappy:
			if data, err = snappy.Decode(nil, block); err != nil {
				return bad("block %d at offset %d: %v", i, off, err)
			}
		default:
			return bad("block compression %d, which frontdoor never writes", tf.compression)
		}
		if len(data) < 4 {
			return bad("block %d at offset %d: too short", i, off)
		}
		end := len(data) - 4
		cl := int(binary.BigEndian.Uint32(data[end:]))
		if cl > end {
			return bad("block %d at offset %d: bad checksum length", i, off)
		}
		var bc pb.Checksum
		if err := proto.Unmarshal(data[end-cl:end], &bc); err != nil {
			return bad("block %d at offset %d: %v", i, off, err)
		}
		if err := y.VerifyChecksum(data[:end-cl], &bc); err != nil {
			return bad("block %d at offset %d: %v", i, off, err)
		}
	}
	return nil
}

// verifyLiveTables checks the tables Badger has in its levels (not one
// being written) under the open handle.
func (f *fsm) verifyLiveTables() (int, error) {
	h, err := f.acquire()
	if err != nil {
		return 0, err
	}
	defer h.release()
	keys, err := tableKeys(h.dir, f.key)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ti := range h.db.Tables() {
		tf, listed := keys[ti.ID]
		if !listed {
			continue // newer than the manifest read above
		}
		err := verifyTable(filepath.Join(h.dir, fmt.Sprintf("%06d.sst", ti.ID)), tf)
		if errors.Is(err, os.ErrNotExist) {
			continue // compacted away meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// verifyEvery is how often a running node re-reads its state tables.
const verifyEvery = time.Hour

// verifyState re-checks the state tables every verifyEvery while the store
// is open; a table that fails its checksum quarantines the node (it would
// otherwise serve, or replicate in a snapshot, what it can no longer read).
func (s *Store) verifyState(f *fsm) {
	defer s.wg.Done()
	s.every(verifyEvery, func() bool {
		n, err := f.verifyLiveTables()
		switch {
		case errors.Is(err, ErrCorruptState):
			s.Quarantine(err.Error())
			return false
		case err != nil:
			s.log.Warn("state table check", "err", err)
		default:
			s.log.Debug("state tables checked", "tables", n)
		}
		return true
	})
}

// VerifyReport is what VerifyDataDir checked.
type VerifyReport struct {
	LogEntries   int    // raft log entries whose MAC or seal checked
	FirstIndex   uint64 // of the raft log
	LastIndex    uint64
	Snapshots    int // snapshots read through (CRC, and each chunk authenticated)
	Tables       int // state tables whose every block matched its checksum
	AppliedIndex uint64
	Checkpoints  []Checkpoint
}

// VerifyDataDir checks a stopped node's data dir offline (frontdoor
// verify): every raft log entry against its MAC or seal, every snapshot
// read through, every state table block
// against its checksum, and reads the applied index and state hash
// checkpoints. masterKey is the encryption key (nil: none). The first
// problem is returned, naming the file.
func VerifyDataDir(dir string, masterKey []byte) (VerifyReport, error) {
	var rep VerifyReport
	keys, err := deriveKeys(masterKey)
	if err != nil {
		return rep, err
	}
	raftDir := filepath.Join(dir, "raft")
	path := filepath.Join(raftDir, "raft.db")
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("verify %s: %w", dir, err)
	}
	if err := checkBoltFile(path); err != nil {
		return rep, err
	}
	if err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("raft log %s is corrupt: %v", path, r)
			}
		}()
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
		if err != nil {
			return fmt.Errorf("raft log %s (is the node still running?): %w", path, err)
		}
		defer bolt.Close()
		m, err := loadLogStore(bolt, bolt, raftDir, keys, true)
		if err != nil {
			return err
		}
		if rep.LastIndex, err = bolt.LastIndex(); err != nil {
			return err
		}
		if rep.FirstIndex, err = bolt.FirstIndex(); err != nil {
			return err
		}
		rep.LogEntries, err = m.verifyAll()
		return err
	}(); err != nil {
		return rep, err
	}
	snaps := &snapshotStore{dir: filepath.Join(raftDir, "snapshots")}
	if snaps.inner, err = raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hclog.NewNullLogger()); err != nil {
		return rep, fmt.Errorf("snapshots: %w", err)
	}
	if keys != nil {
		if snaps.aead, err = newGCM(keys.snap); err != nil {
			return rep, err
		}
	}
	if rep.Snapshots, err = snaps.verifyAll(); err != nil {
		return rep, err
	}
	fsmDir := filepath.Join(dir, "fsm")
	gen, err := readCurrentGen(fsmDir)
	if err != nil {
		return rep, err
	}
	stateDir := filepath.Join(fsmDir, genDir(gen))
	if rep.Tables, err = verifyTables(stateDir, keys.badgerKey()); err != nil {
		return rep, err
	}
	db, err := badger.Open(withBadgerKey(BadgerOptions(stateDir, nil).WithReadOnly(true), keys.badgerKey()))
	if err != nil {
		return rep, fmt.Errorf("state store %s (is the node still running?): %w", stateDir, badgerKeyErr(err, keys.badgerKey()))
	}
	defer db.Close()
	var hs hashState
	err = db.View(func(txn *badger.Txn) error {
		var err error
		if rep.AppliedIndex, _, err = readMeta(txn); err != nil {
			return err
		}
		return hs.load(txn)
	})
	rep.Checkpoints = hs.checkpoints()
	return rep, err
}
