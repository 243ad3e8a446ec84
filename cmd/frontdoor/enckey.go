package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// keyFileFlag adds --encryption-key-file (also FRONTDOOR_ENCRYPTION_KEY_FILE)
// to a command that opens a data dir.
func keyFileFlag(f *pflag.FlagSet, path *string) {
	f.StringVar(path, "encryption-key-file", "", "file holding the data dir's encryption key: 64 hex digits, mode 0600, kept off the data dir's disk (default: <data-dir>.key)")
}

// resolveKey is the encryption key for dataDir: from keyFile, else from
// the default <data-dir>.key; nil if neither exists. With create (serve),
// a data dir with no state yet gets a new key at the default place, and
// out says where.
func resolveKey(dataDir, keyFile string, create bool, out io.Writer) ([]byte, error) {
	if keyFile != "" {
		return cluster.ReadKeyFile(keyFile)
	}
	def := cluster.DefaultKeyFile(dataDir)
	if _, err := os.Stat(def); err == nil {
		return cluster.ReadKeyFile(def)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	if !create {
		return nil, nil // a data dir in clear; an encrypted one says it needs its key
	}
	if cluster.DataDirHasState(dataDir) {
		// Written before encryption, or its key was moved away: never
		// start such a dir with a new key.
		return nil, fmt.Errorf("data dir %s holds state but no encryption key was given and %s does not exist: give --encryption-key-file, or if it was written before encryption, convert it with `frontdoor encryption migrate --data-dir %s`", dataDir, def, dataDir)
	}
	key, _, err := cluster.EnsureKeyFile(def)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "frontdoor: generated the encryption key %s (mode 0600). A key beside the data dir protects nothing against a stolen disk: move it to other storage and pass --encryption-key-file. Without it the data cannot be read.\n", def)
	return key, nil
}
