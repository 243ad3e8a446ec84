package cluster

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func TestDataMappingsPicksTheNodesDataFiles(t *testing.T) {
	maps, err := os.ReadFile("testdata/proc-self-maps.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uintptr{}
	for _, m := range dataMappings(maps, "/var/lib/frontdoor/") {
		got[m.path] = m.end - m.start
	}
	want := map[string]uintptr{
		"/var/lib/frontdoor/fsm/1/000007.vlog":      0x8000000,
		"/var/lib/frontdoor/fsm/1/000008.vlog":      0x8000000,
		"/var/lib/frontdoor/fsm/1/000042.sst":       0x100000,
		"/var/lib/frontdoor/raft/raft.db":           0x100000,
		"/var/lib/frontdoor/backup copy/000044.sst": 0x100000,
	}
	for path, size := range want {
		if got[path] != size {
			t.Errorf("%s: got %#x bytes, want %#x", path, got[path], size)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s picked: it is not one of the node's table, value-log or raft-log files", path)
		}
	}
}

// mappedRSS sums the resident pages of the mappings of files under dir
// (/proc/self/smaps), in total and by file.
func mappedRSS(t *testing.T, dir string) (kb uint64, byFile map[string]uint64) {
	t.Helper()
	byFile = map[string]uint64{}
	var path string
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps: not Linux")
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) > 0 && !strings.HasSuffix(f[0], ":") {
			// A mapping's first line (anonymous ones have no path).
			m, ok := parseMapsLine(line)
			in, path = ok && strings.HasPrefix(m.path, dir+"/"), m.path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kb += n
			byFile[filepath.Base(path)] += n
		}
	}
	return kb, byFile
}

// A node's data files' pages leave its resident set when paged out, and
// every value reads back the same afterwards (from the page cache or the
// file).
func TestPageOutReleasesMappedPagesAndKeepsTheData(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("paging out mapped files is Linux only")
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(BadgerOptions(filepath.Join(dir, "fsm"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Twice: two value-log files and a little more, and tables of the
	// pointers to them.
	writeBulk(t, db, true)
	writeBulk(t, db, true)

	before, files := mappedRSS(t, dir)
	if before < 24<<10 {
		t.Fatalf("only %d kB of the data files resident after writing them: nothing to test (%v)", before, files)
	}
	n, err := pageOutDataFiles(dir)
	if err == errPageOutUnsupported {
		t.Skip("kernel without MADV_PAGEOUT")
	}
	if err != nil {
		t.Fatal(err)
	}
	after, left := mappedRSS(t, dir)
	t.Logf("%d mappings paged out: %d kB resident before (%v), %d kB after (%v)", n, before, files, after, left)
	if n == 0 || after > before/4 {
		t.Fatalf("%d mappings paged out: %d kB resident before (%v), %d kB after (%v); want at most a quarter", n, before, files, after, left)
	}

	want := []byte(strings.Repeat("v", vlogBulkValue))
	err = db.View(func(txn *badger.Txn) error {
		for i := range vlogBulkKeys {
			item, err := txn.Get(bulkKey(i))
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error {
				if !bytes.Equal(v, want) {
					t.Fatalf("%s reads back %d bytes, not what was written", bulkKey(i), len(v))
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
