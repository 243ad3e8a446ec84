package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Linux reports process CPU time in /proc in USER_HZ ticks, which the
// kernel fixes at 100 per second for userspace whatever its own HZ.
const userHZ = 100

// procMem is a process's memory from /proc/<pid>/status, in kB: its
// resident set, peak resident set, and the anonymous part of the resident
// set (heap and stacks; the rest is mapped files, such as Badger's
// value-log and table files, which the kernel can drop and read back).
type procMem struct {
	rssKB, hwmKB, anonKB uint64
}

// procStat reads a process's CPU time (user+system, in ticks) from
// /proc/<pid>/stat and its memory from /proc/<pid>/status.
func procStat(pid int) (ticks uint64, mem procMem, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, mem, err
	}
	ticks, err = parseStatTicks(b)
	if err != nil {
		return 0, mem, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, mem, err
	}
	mem = procMem{rssKB: parseStatusKB(s, "VmRSS:"), hwmKB: parseStatusKB(s, "VmHWM:"), anonKB: parseStatusKB(s, "RssAnon:")}
	return ticks, mem, nil
}

// parseStatTicks is utime+stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces,
// so fields are counted after its closing parenthesis.
func parseStatTicks(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14 -> f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields", len(f)+2)
	}
	u, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	s, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return u + s, nil
}

// parseStatusKB is the value of a "Name:   1234 kB" line of
// /proc/<pid>/status, 0 when absent.
func parseStatusKB(b []byte, name string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseUint(f[0], 10, 64)
		return v
	}
	return 0
}

// What a node's resident set is made of (parseSmaps), in the order the
// report lists them: its own memory, then the files it maps, which grow
// with the data it writes (Badger maps its value log, tables and memtable
// logs, bbolt the raft log).
var rssKinds = []string{"anonymous", "value log", "tables", "memtables", "raft log", "binary and libraries"}

// parseSmaps sums the Rss of each mapping in /proc/<pid>/smaps by what it
// maps (rssKinds), in kB.
func parseSmaps(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	kind := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Rss:"); ok {
			if f := strings.Fields(v); len(f) > 0 && kind != "" {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				out[kind] += n
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 || !strings.Contains(f[0], "-") || strings.HasSuffix(f[0], ":") {
			continue // a field line of the mapping above
		}
		path := ""
		if len(f) >= 6 {
			path = strings.Join(f[5:], " ")
		}
		switch {
		case path == "" || strings.HasPrefix(path, "["):
			kind = "anonymous"
		case strings.HasSuffix(path, ".vlog"):
			kind = "value log"
		case strings.HasSuffix(path, ".sst"):
			kind = "tables"
		case strings.HasSuffix(path, ".mem"):
			kind = "memtables"
		case strings.HasSuffix(path, "/raft.db"):
			kind = "raft log"
		default:
			kind = "binary and libraries"
		}
	}
	return out
}

// procUsage is a node's CPU and memory across its processes (a chaos
// restart makes a new one). Safe for concurrent use.
type procUsage struct {
	mu        sync.Mutex
	pid       int
	ticks     uint64 // the current process's, at its last sample
	doneTicks uint64 // every earlier process's, at their last sample
	markTicks uint64 // total at mark
	markAt    time.Time
	rssKB     uint64 // last sampled
	peakKB    uint64 // highest VmHWM / VmRSS seen since mark
	anonKB    uint64 // last sampled RssAnon
	peakAnon  uint64 // highest RssAnon sampled since mark
	// peakSampled is the highest VmRSS sampled since mark, and peakKinds
	// what it was made of (parseSmaps, read only when a sample sets a new
	// high).
	peakSampled uint64
	peakKinds   map[string]uint64
}

func (u *procUsage) startProcess(pid int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.doneTicks += u.ticks
	u.pid, u.ticks = pid, 0
}

// sample reads the process's figures (ignored if it is not the current
// process or is gone).
func (u *procUsage) sample(pid int) {
	ticks, mem, err := procStat(pid)
	if err != nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if pid != u.pid {
		return
	}
	u.ticks = ticks
	u.rssKB, u.anonKB = mem.rssKB, mem.anonKB
	u.peakKB = max(u.peakKB, mem.rssKB, mem.hwmKB)
	u.peakAnon = max(u.peakAnon, mem.anonKB)
	if mem.rssKB > u.peakSampled {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
			u.peakSampled, u.peakKinds = mem.rssKB, parseSmaps(b)
		}
	}
}

// mark starts the measured interval (the load run): CPU counts from here.
func (u *procUsage) mark(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.markTicks = u.doneTicks + u.ticks
	u.markAt = now
	u.peakKB = u.rssKB
	u.peakAnon = u.anonKB
	u.peakSampled, u.peakKinds = 0, nil
}

// NodeUsage is one spawned node's figures in the report.
type NodeUsage struct {
	Node      string  `json:"node"`
	RSSMB     float64 `json:"rss_mb"`      // at the end of the run
	PeakRSSMB float64 `json:"peak_rss_mb"` // highest seen during the run
	// PeakAnonMB is the highest anonymous part of RSS sampled (heap and
	// stacks, without mapped files).
	PeakAnonMB float64 `json:"peak_anon_mb"`
	// PeakSampledMB is the highest RSS of the samples taken every second,
	// and PeakByKindMB what it was made of (rssKinds; /proc/<pid>/smaps).
	PeakSampledMB float64            `json:"peak_sampled_rss_mb,omitempty"`
	PeakByKindMB  map[string]float64 `json:"peak_rss_by_kind_mb,omitempty"`
	CPUSeconds    float64            `json:"cpu_seconds"` // user+system during the run
	CPUPercent    float64            `json:"cpu_percent"` // of one core, averaged over the run
	Restarts      int                `json:"restarts"`
}

func (u *procUsage) report(name string, restarts int, now time.Time) NodeUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	cpu := float64(u.doneTicks+u.ticks-u.markTicks) / userHZ
	r := NodeUsage{Node: name, RSSMB: float64(u.rssKB) / 1024, PeakRSSMB: float64(u.peakKB) / 1024, PeakAnonMB: float64(u.peakAnon) / 1024,
		CPUSeconds: cpu, Restarts: restarts}
	if len(u.peakKinds) > 0 {
		r.PeakSampledMB = float64(u.peakSampled) / 1024
		r.PeakByKindMB = make(map[string]float64, len(u.peakKinds))
		for k, kb := range u.peakKinds {
			r.PeakByKindMB[k] = float64(kb) / 1024
		}
	}
	if wall := now.Sub(u.markAt).Seconds(); wall > 0 {
		r.CPUPercent = 100 * cpu / wall
	}
	return r
}

// sampleAll samples every running node.
func (c *Cluster) sampleAll() {
	for _, nd := range c.Nodes {
		if pid := nd.pid(); pid != 0 {
			nd.usage.sample(pid)
		}
	}
}

// markUsage starts the measured interval on every node.
func (c *Cluster) markUsage(now time.Time) {
	c.sampleAll()
	for _, nd := range c.Nodes {
		nd.usage.mark(now)
	}
}

// Usage is every node's figures since markUsage.
func (c *Cluster) Usage(now time.Time) []NodeUsage {
	c.sampleAll()
	out := make([]NodeUsage, 0, len(c.Nodes))
	for _, nd := range c.Nodes {
		nd.mu.Lock()
		restarts := nd.restarts
		nd.mu.Unlock()
		out = append(out, nd.usage.report(nd.Name, restarts, now))
	}
	return out
}
