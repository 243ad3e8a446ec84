package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Offline re-keying of a stopped node's data dir: MigrateEncryption turns
// a dir written in clear into an encrypted one, RotateEncryptionKey moves
// an encrypted one to a new master key. Both hold raft.db's lock
// throughout (a running node holds it, and then they refuse), rewrite
// the state store, the snapshots and last the raft log, and can be run
// again with the same keys if interrupted: each step sees what is done.

// RekeyReport says what a re-keying rewrote.
type RekeyReport struct {
	LogEntries int // raft log entries rewritten
	StateKeys  int // state store keys copied (migrate)
	Snapshots  int // snapshots re-encrypted
	StateStore string
}

// ErrDataDirInUse: a running node holds the data dir.
var ErrDataDirInUse = errors.New("the data dir is in use: stop the node first")

// MigrateEncryption encrypts a data dir written without encryption under
// masterKey: the state store is streamed into a new encrypted database,
// every snapshot re-encrypted, and the raft log rewritten into a fresh file
// with every entry sealed and the same stable-store values, so no freed
// page of the old file keeps plaintext.
func MigrateEncryption(dir string, masterKey []byte, log *slog.Logger) (RekeyReport, error) {
	keys, err := deriveKeys(masterKey)
	if err != nil || keys == nil {
		return RekeyReport{}, fmt.Errorf("migrate: %w", errors.Join(err, errors.New("no key")))
	}
	return rekey(dir, nil, keys, log)
}

// RotateEncryptionKey re-keys an encrypted data dir from oldKey to newKey:
// the state store is streamed into a new database (new data keys) under
// the new key, and the raft log and snapshots are rewritten under keys
// derived from it.
func RotateEncryptionKey(dir string, oldKey, newKey []byte, log *slog.Logger) (RekeyReport, error) {
	oldKeys, err := deriveKeys(oldKey)
	if err != nil || oldKeys == nil {
		return RekeyReport{}, fmt.Errorf("rotate: old key: %w", errors.Join(err, errors.New("no key")))
	}
	newKeys, err := deriveKeys(newKey)
	if err != nil || newKeys == nil {
		return RekeyReport{}, fmt.Errorf("rotate: new key: %w", errors.Join(err, errors.New("no key")))
	}
	if bytes.Equal(oldKey, newKey) {
		return RekeyReport{}, errors.New("rotate: the new key is the old key")
	}
	return rekey(dir, oldKeys, newKeys, log)
}

func rekey(dir string, from, to *dataKeys, log *slog.Logger) (rep RekeyReport, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	raftDir := filepath.Join(dir, "raft")
	path := filepath.Join(raftDir, "raft.db")
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("%s: no raft log: %w", dir, err)
	}
	if err := checkBoltFile(path); err != nil {
		return rep, err
	}
	stable, err := readStable(path)
	if err != nil {
		return rep, err
	}
	done := false // the log already carries to's key check
	if have := stable[string(keyCheckKey)]; len(have) > 0 {
		switch {
		case bytes.Equal(have, to.checkValue()):
			done = true
		case from == nil:
			return rep, fmt.Errorf("migrate %s: it is already encrypted, under another key", dir)
		case !bytes.Equal(have, from.checkValue()):
			return rep, fmt.Errorf("rotate %s: %w (the old key)", dir, ErrWrongKey)
		}
	} else if from != nil {
		return rep, fmt.Errorf("rotate %s: %w", dir, ErrNotEncrypted)
	}
	// Hold raft.db's lock throughout: a node starting meanwhile waits.
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		return rep, fmt.Errorf("%w: raft log %s: %v", ErrDataDirInUse, path, err)
	}
	defer func() {
		if bolt != nil {
			_ = bolt.Close()
		}
	}()
	fsmDir := filepath.Join(dir, "fsm")
	if hasState(dir) {
		if rep.StateKeys, rep.StateStore, err = rekeyState(fsmDir, from, to, log); err != nil {
			return rep, err
		}
	}
	if rep.Snapshots, err = rekeySnapshots(raftDir, from, to); err != nil {
		return rep, err
	}
	if done {
		log.Info("raft log already under the new key")
		return rep, tightenModes(dir)
	}
	src, err := loadLogStore(bolt, bolt, raftDir, from, true)
	if err != nil {
		return rep, err
	}
	n, err := src.verifyAll()
	if err != nil {
		return rep, fmt.Errorf("the raft log does not check, nothing of it rewritten: %w", err)
	}
	tmp := path + ".rekey"
	_ = os.Remove(tmp)
	if err := writeLogCopy(src, tmp, raftDir, stable, to); err != nil {
		_ = os.Remove(tmp)
		return rep, err
	}
	rep.LogEntries = n
	// The new file replaces the old (whose freed pages may hold plaintext
	// or the old key's entries); then the old lock goes with it.
	if err := os.Rename(tmp, path); err != nil {
		return rep, fmt.Errorf("replace raft log: %w", err)
	}
	if err := syncDir(raftDir); err != nil {
		return rep, err
	}
	_ = bolt.Close()
	bolt = nil
	if from == nil {
		_ = os.Remove(filepath.Join(raftDir, macKeyFile)) // only MAC'd entries needed it
	}
	return rep, tightenModes(dir)
}

// readStable reads every stable-store value of raft.db (its conf bucket),
// refusing if a running node holds the file.
func readStable(path string) (map[string][]byte, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w: raft log %s: %v", ErrDataDirInUse, path, err)
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("conf"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	return out, err
}

// writeLogCopy writes a new raft.db at path with stable's values (the key
// check and first sealed index set for keys) and every entry of src sealed
// under keys.
func writeLogCopy(src *macLogStore, path, raftDir string, stable map[string][]byte, keys *dataKeys) error {
	dst, err := raftboltdb.New(raftboltdb.Options{Path: path})
	if err != nil {
		return fmt.Errorf("new raft log: %w", err)
	}
	defer dst.Close()
	for k, v := range stable {
		if k == string(keyCheckKey) || k == string(encFromKey) {
			continue
		}
		if err := dst.Set([]byte(k), v); err != nil {
			return err
		}
	}
	first, err := src.FirstIndex()
	if err != nil {
		return err
	}
	last, err := src.LastIndex()
	if err != nil {
		return err
	}
	if err := dst.Set(keyCheckKey, keys.checkValue()); err != nil {
		return err
	}
	encFrom := first
	if last == 0 {
		encFrom = 1
	}
	if err := dst.SetUint64(encFromKey, encFrom); err != nil {
		return err
	}
	w := &macLogStore{LogStore: dst, path: path}
	if w.aead, err = newGCM(keys.log); err != nil {
		return err
	}
	w.encFrom = encFrom
	const batch = 256
	var logs []*raft.Log
	for i := first; last > 0 && i <= last; i++ {
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return err
		}
		logs = append(logs, l)
		if len(logs) == batch || i == last {
			if err := w.StoreLogs(logs); err != nil {
				return fmt.Errorf("new raft log: %w", err)
			}
			logs = logs[:0]
		}
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	return nil
}

// rekeyState streams the current state store into a new database under
// to's key, then points CURRENT at it and removes the old one. Migrate
// must (Badger will not add a key to a plain database); rotate does too,
// rather than only re-encrypting Badger's key registry as badger's own
// rotate does: that keeps the data keys, so the old master key with an old
// copy of the registry would still read every file written before.
func rekeyState(fsmDir string, from, to *dataKeys, log *slog.Logger) (int, string, error) {
	gen, err := readCurrentGen(fsmDir)
	if err != nil {
		return 0, "", err
	}
	cur := filepath.Join(fsmDir, genDir(gen))
	if opensWith(cur, to.badger) {
		return 0, cur, nil // done
	}
	old, err := badger.Open(withBadgerKey(BadgerOptions(cur, nil), from.badgerKey()))
	if err != nil {
		return 0, "", fmt.Errorf("state store %s: %w", cur, badgerKeyErr(inUse(err), from.badgerKey()))
	}
	next := filepath.Join(fsmDir, genDir(gen+1))
	_ = os.RemoveAll(next)
	nh, err := openHandle(fsmDir, gen+1, to.badger, nil)
	if err != nil {
		_ = old.Close()
		return 0, "", err
	}
	n := 0
	err = old.View(func(txn *badger.Txn) error {
		wb := nh.db.NewWriteBatch()
		defer wb.Cancel()
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := wb.Set(item.KeyCopy(nil), v); err != nil {
				return err
			}
			n++
		}
		return wb.Flush()
	})
	if err == nil {
		err = nh.db.Sync()
	}
	if cerr := nh.db.Close(); err == nil {
		err = cerr
	}
	if oerr := old.Close(); err == nil {
		err = oerr
	}
	if err != nil {
		_ = os.RemoveAll(next)
		return 0, "", fmt.Errorf("copy the state store: %w", err)
	}
	if err := writeCurrentGen(fsmDir, gen+1); err != nil {
		return 0, "", fmt.Errorf("point at the encrypted state store: %w", err)
	}
	if err := os.RemoveAll(cur); err != nil {
		return n, next, fmt.Errorf("remove the plain state store %s: %w", cur, err)
	}
	log.Info("state store re-encrypted", "keys", n, "dir", next)
	return n, next, nil
}

// opensWith reports whether Badger's key registry in dir opens with key
// (an encrypted store's; false for a plain one).
func opensWith(dir string, key []byte) bool {
	kr, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		return false
	}
	_ = kr.Close()
	_, err = os.Stat(filepath.Join(dir, badger.KeyRegistryFileName))
	return err == nil
}

func inUse(err error) error {
	if strings.Contains(err.Error(), "Cannot acquire directory lock") {
		return fmt.Errorf("%w: %v", ErrDataDirInUse, err)
	}
	return err
}

// rekeySnapshots rewrites every snapshot under to's key (oldest first;
// ones already under it are kept), then removes the originals.
func rekeySnapshots(raftDir string, from, to *dataKeys) (int, error) {
	hlog := hclog.NewNullLogger()
	inner, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 1000, hlog) // retain all while rewriting
	if err != nil {
		return 0, err
	}
	src := &snapshotStore{inner: inner, dir: filepath.Join(raftDir, "snapshots")}
	if from != nil {
		if src.aead, err = newGCM(from.snap); err != nil {
			return 0, err
		}
	}
	dst := &snapshotStore{inner: inner, dir: src.dir}
	if dst.aead, err = newGCM(to.snap); err != nil {
		return 0, err
	}
	metas, err := inner.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for i := len(metas) - 1; i >= 0; i-- { // List is newest first
		m := metas[i]
		if _, rc, err := dst.Open(m.ID); err == nil {
			_, cerr := io.Copy(io.Discard, rc)
			rc.Close()
			if cerr == nil {
				continue // already under the new key
			}
		}
		if err := copySnapshot(src, dst, m.ID); err != nil {
			return n, fmt.Errorf("snapshot %s: %w", m.ID, err)
		}
		if err := os.RemoveAll(filepath.Join(src.dir, m.ID)); err != nil {
			return n, err
		}
		n++
	}
	return n, syncDir(src.dir)
}

func copySnapshot(src, dst *snapshotStore, id string) error {
	meta, rc, err := src.Open(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	// The transport only encodes the peers into the meta's legacy field:
	// every raft transport encodes an address as its bytes.
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	sink, err := dst.Create(meta.Version, meta.Index, meta.Term, meta.Configuration, meta.ConfigurationIndex, trans)
	if err != nil {
		return err
	}
	if _, err := io.Copy(sink, rc); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
