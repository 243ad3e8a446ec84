package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/dgraph-io/badger/v4/fb"
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
// and the process dies; this reads the files (BadgerOptions: Snappy, no
// encryption) and returns an error naming the table and block instead.
func verifyTables(dir string) (tables int, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := verifyTable(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // compacted away meanwhile
			}
			return tables, err
		}
		tables++
	}
	return tables, nil
}

// verifyTable checks one table's index and blocks.
func verifyTable(path string) (err error) {
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
		data, err := snappy.Decode(nil, b[off:off+n])
		if err != nil {
			return bad("block %d at offset %d: %v", i, off, err)
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
	n := 0
	for _, ti := range h.db.Tables() {
		err := verifyTable(filepath.Join(h.dir, fmt.Sprintf("%06d.sst", ti.ID)))
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
	t := time.NewTicker(verifyEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n, err := f.verifyLiveTables()
		switch {
		case errors.Is(err, ErrCorruptState):
			s.Quarantine(err.Error())
			return
		case err != nil:
			s.log.Warn("state table check", "err", err)
		default:
			s.log.Debug("state tables checked", "tables", n)
		}
	}
}

// VerifyReport is what VerifyDataDir checked.
type VerifyReport struct {
	LogEntries   int    // raft log entries whose MAC matched
	FirstIndex   uint64 // of the raft log
	LastIndex    uint64
	Tables       int // state tables whose every block matched its checksum
	AppliedIndex uint64
	Checkpoints  []Checkpoint
}

// VerifyDataDir checks a stopped node's data dir offline (frontdoor
// verify): every raft log entry against its MAC, every state table block
// against its checksum, and reads the applied index and state hash
// checkpoints. The first problem is returned, naming the file.
func VerifyDataDir(dir string) (VerifyReport, error) {
	var rep VerifyReport
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
		key, err := os.ReadFile(filepath.Join(raftDir, macKeyFile))
		if err != nil {
			return fmt.Errorf("raft log key: %w", err)
		}
		from, _ := bolt.GetUint64(macFromKey)
		if rep.LastIndex, err = bolt.LastIndex(); err != nil {
			return err
		}
		if rep.FirstIndex, err = bolt.FirstIndex(); err != nil {
			return err
		}
		if from == 0 {
			from = rep.LastIndex + 1
		}
		m := &macLogStore{LogStore: bolt, key: key, from: from, path: path}
		rep.LogEntries, err = m.verifyAll()
		return err
	}(); err != nil {
		return rep, err
	}
	fsmDir := filepath.Join(dir, "fsm")
	gen, err := readCurrentGen(fsmDir)
	if err != nil {
		return rep, err
	}
	stateDir := filepath.Join(fsmDir, genDir(gen))
	if rep.Tables, err = verifyTables(stateDir); err != nil {
		return rep, err
	}
	db, err := badger.Open(BadgerOptions(stateDir, nil).WithReadOnly(true))
	if err != nil {
		return rep, fmt.Errorf("state store %s (is the node still running?): %w", stateDir, err)
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
