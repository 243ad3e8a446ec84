package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// TestVerifyTablesOfEitherCompression: a store holds the compression each
// table was written with, so tables written before BadgerOptions stopped
// compressing (Snappy) and after (none) must both verify, encrypted or not,
// and a flipped byte in a block must be caught in either.
func TestVerifyTablesOfEitherCompression(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	for _, c := range []struct {
		name        string
		compression options.CompressionType
		key         []byte
	}{
		{"snappy", options.Snappy, nil},
		{"none", options.None, nil},
		{"snappy encrypted", options.Snappy, key},
		{"none encrypted", options.None, key},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := BadgerOptions(dir, nil).WithCompression(c.compression)
			if c.key != nil {
				opts = opts.WithEncryptionKey(c.key).WithIndexCacheSize(8 << 20)
			}
			db, err := badger.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			wb := db.NewWriteBatch()
			for i := range 2000 {
				if err := wb.Set(fmt.Appendf(nil, "k/%06d", i), fmt.Appendf(nil, "value %06d of the table under test", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := db.Flatten(1); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil { // flushes the memtable to a table
				t.Fatal(err)
			}
			n, err := verifyTables(dir, c.key)
			if err != nil || n == 0 {
				t.Fatalf("verify: %d tables, %v", n, err)
			}
			paths, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(paths) == 0 {
				t.Fatal("no table written")
			}
			b, err := os.ReadFile(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			b[100] ^= 0x01 // inside the first block
			if err := os.WriteFile(paths[0], b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := verifyTables(dir, c.key); !errors.Is(err, ErrCorruptState) {
				t.Fatalf("a flipped byte in a block: %v", err)
			}
		})
	}
}
