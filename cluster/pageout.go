package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mapped pages. Badger maps its value-log files and tables into the node's
// memory and bolt maps the raft log; every page written or read through a
// mapping stays in the node's resident set while the file is mapped, so RSS
// grew with the data written (a 5-minute mix: 700 MB a node, of which
// anonymous memory was 150–170 MB). Those pages are the page cache's, not the
// node's: the kernel can drop them at any time, but until it is short of
// memory it does not, and a node on a shared hospital machine should not
// look (or be killed) as if it held them.
//
// So every pageOutEvery, when more than mappedBudget of the node's RSS is
// file pages, the node asks the kernel to take back the pages of its data
// files (madvise MADV_PAGEOUT over each mapping of a table, a value-log
// file or the raft log). Nothing is lost and nothing is written early: a
// page not yet written back (the value log's newest values) is only
// unmapped and stays in the page cache, so touching it again is a minor
// fault; a clean page is freed, and read again from the file when next
// needed. MADV_PAGEOUT never discards contents, so even a range unmapped
// and reused between reading /proc/self/maps and the call (anonymous
// memory, on a node without swap) is safe.
const (
	pageOutEvery = 100 * time.Millisecond
	// mappedBudget is how much of the node's RSS may be mapped file pages
	// (the binary's own code is about 24 MB of it) before the data files'
	// pages are handed back.
	mappedBudget = 32 << 20
)

// mapping is one line of /proc/self/maps that maps a node data file.
type mapping struct {
	start, end uintptr
	path       string
}

// dataMappings returns the mappings in maps (the text of /proc/self/maps)
// of the data files under dir that grow with the data: Badger's tables
// (.sst) and value-log files (.vlog) and the raft log (raft.db). Memtable
// logs (.mem, two of 4 MiB) are left alone.
func dataMappings(maps []byte, dir string) []mapping {
	prefix := strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator)
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		m, ok := parseMapsLine(sc.Text())
		if !ok || !strings.HasPrefix(m.path, prefix) {
			continue
		}
		switch name := filepath.Base(m.path); {
		case strings.HasSuffix(name, ".sst"), strings.HasSuffix(name, ".vlog"), name == "raft.db":
			out = append(out, m)
		}
	}
	return out
}

// parseMapsLine reads "start-end perms offset dev inode path" (the path may
// hold spaces, and is absent for anonymous mappings).
func parseMapsLine(line string) (mapping, bool) {
	var m mapping
	rest := line
	var fields [5]string
	for i := range fields {
		rest = strings.TrimLeft(rest, " ")
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			return m, false
		}
		fields[i], rest = rest[:j], rest[j:]
	}
	m.path = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(m.path, "/") {
		return m, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, false
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end <= start {
		return m, false
	}
	m.start, m.end = uintptr(start), uintptr(end)
	return m, true
}

// statusKB reads one "Name:   N kB" line of /proc/self/status.
func statusKB(status []byte, name string) uint64 {
	i := bytes.Index(status, []byte("\n"+name+":"))
	if i < 0 {
		return 0
	}
	line := status[i+len(name)+2:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	return n
}

// pageOutDataFiles hands back the pages of the node's data files (see
// dataMappings) and returns how many mappings it advised.
func pageOutDataFiles(dir string) (int, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range dataMappings(maps, dir) {
		if err := pageOut(m.start, m.end-m.start); err != nil {
			if errors.Is(err, errPageOutUnsupported) {
				return n, err
			}
			continue // unmapped since the read (a table compacted away): nothing to do
		}
		n++
	}
	return n, nil
}

// realDir is dir as /proc/self/maps names it: absolute, symlinks resolved.
func realDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// pageOutEveryBytes is how much a whole-database read (a snapshot, a
// backup) streams between handing back the pages it mapped in: such a
// read maps in the value log and tables faster than the node's own check
// (pageOutEvery) looks.
const pageOutEveryBytes = 8 << 20

// releasePages hands back the pages of this database's mapped files, for
// a whole-file or whole-database read just done (a value-log GC step, part
// of a snapshot). Errors are ignored: the pages stay resident, no more.
func (h *dbHandle) releasePages() { _, _ = pageOutDataFiles(realDir(h.dir)) }

// releaseMappedPages runs until the store stops: every pageOutEvery, when
// the process holds more than mappedBudget of file pages, it pages out the
// node's data files.
func (s *Store) releaseMappedPages() {
	defer s.wg.Done()
	dir := realDir(s.cfg.Dir)
	s.every(pageOutEvery, func() bool {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return false // not Linux
		}
		if statusKB(status, "RssFile")<<10 <= mappedBudget {
			return true
		}
		n, err := pageOutDataFiles(dir)
		if errors.Is(err, errPageOutUnsupported) {
			s.log.Info("mapped data-file pages stay resident: the kernel has no MADV_PAGEOUT (Linux 5.4)")
			return false
		}
		if err != nil {
			s.log.Warn("page out data files", "err", err)
			return true
		}
		s.metrics.pageOuts.Add(float64(n))
		return true
	})
}

// every calls fn every d until the store stops or fn returns false.
func (s *Store) every(d time.Duration, fn func() (more bool)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if !fn() {
			return
		}
	}
}
