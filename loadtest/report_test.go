package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sampleReport is a report with every section filled.
func sampleReport() *Report {
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	return &Report{
		Command: "frontdoor loadtest --spawn 3 --chaos kill-leader --duration 20s", Machine: "2 CPUs (test), linux/amd64",
		Target: "spawned 3 nodes", Workload: "create", WorkloadSummary: "4000 arrivals recorded", Mode: "closed loop, concurrency 16, at most 20s", Concurrency: 16,
		StartedAt: at, Elapsed: 20 * time.Second,
		Ops: []OpReport{{Op: "attendance.create", OK: 4000, Failed: 2, PerSecond: 200, P50MS: 40.5, P95MS: 80, P99MS: 120.25, MaxMS: 1900,
			Errors:     map[string]uint64{"503 /problems/not-accepted": 30, "connection refused": 12},
			FailedWith: map[string]uint64{"422 /problems/invalid": 2},
			Examples:   map[string]string{"422 /problems/invalid": `POST /v1/attendances: {"type":"/problems/invalid","detail":"the command is not valid"}`}}},
		Nodes: []NodeUsage{{Node: "n1", RSSMB: 60.5, PeakRSSMB: 70, PeakAnonMB: 48.2, CPUSeconds: 9.5, CPUPercent: 47.5, Restarts: 1,
			PeakSampledMB: 68.4, PeakByKindMB: map[string]float64{"anonymous": 47.9, "value log": 9.5, "tables": 4.25, "raft log": 2.0, "binary and libraries": 4.75}}},
		Chaos: &ChaosReport{Mode: ChaosKillLeader, EveryMS: 10000, MeanRecoverMS: 1500, MaxRecoverMS: 1800, MaxGapMS: 1900, UnavailableMS: 3400,
			Failovers: []Failover{
				{At: at.Add(10 * time.Second), Killed: []string{"n1"}, WasLeader: true, RecoveredMS: 1800, GapMS: 1900, NewLeader: "n2", RejoinedMS: 4100},
				{At: at.Add(20 * time.Second), Killed: []string{"n2"}, WasLeader: true, RecoveredMS: 1200, GapMS: 1500, NewLeader: "n3", RejoinedMS: -1},
			}},
		Baseline:     &BaselineResult{Nodes: 3, CommandBytes: 150, Concurrency: 16, Commands: 8000, PerSecond: 400, P50MS: 20, P99MS: 60, MaxMS: 90},
		Ratios:       &BaselineRatios{Op: "attendance.create", Throughput: 0.5, P50: 2.025, P99: 2.004, Writes: 0.5},
		BaselineHTTP: &BaselineResult{Nodes: 3, CommandBytes: 150, Concurrency: 16, Commands: 6000, PerSecond: 300, P50MS: 25, P99MS: 70, MaxMS: 95},
		RatiosHTTP:   &BaselineRatios{Op: "attendance.create", Throughput: 0.667, P50: 1.62, P99: 1.718, Writes: 0.667},
		Acked:        4000,
		Checks: []CheckResult{
			{Name: "lost acknowledged writes", Checked: true, Required: true, Items: 4000},
			{Name: "double-booked slots", Reason: "workload allocates no slots"},
		},
	}
}

// TestReportText compares the text report with testdata/report.golden
// (go test ./loadtest -run ReportText -update rewrites it).
func TestReportText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("text report differs from %s:\n--- got\n%s\n--- want\n%s", golden, b.String(), want)
	}
}

func TestReportJSONAndVerdict(t *testing.T) {
	r := sampleReport()
	if r.Failed() {
		t.Fatal("a report with nothing lost fails")
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Operations []OpReport     `json:"operations"`
		Checks     []CheckResult  `json:"checks"`
		Chaos      ChaosReport    `json:"chaos"`
		Ratio      BaselineRatios `json:"ratio_to_baseline"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Operations) != 1 || back.Operations[0].P99MS != 120.25 || back.Chaos.Failovers[0].RecoveredMS != 1800 ||
		back.Ratio.Throughput != 0.5 || len(back.Checks) != 2 || back.Checks[1].Checked {
		t.Fatalf("JSON round trip: %s", b.String())
	}
	r.Checks[0].Count = 1
	if !r.Failed() {
		t.Fatal("a report with a lost write does not fail")
	}
}

func TestClassify(t *testing.T) {
	body := func(s string) []byte { return []byte(s) }
	cases := []struct {
		resp    *Response
		err     error
		outcome Outcome
		kind    string
	}{
		{&Response{Status: 201}, nil, OutcomeOK, ""},
		{&Response{Status: 503, Body: body(`{"type":"/problems/outcome-unknown"}`)}, nil, OutcomeRetry, "503 /problems/outcome-unknown"},
		{&Response{Status: 502}, nil, OutcomeRetry, "502"},
		{&Response{Status: 422, Body: body(`{"type":"/problems/invalid"}`)}, nil, OutcomeFailed, "422 /problems/invalid"},
		{&Response{Status: 401, Body: body(`{"type":"/problems/unauthorized"}`)}, nil, OutcomeFatal, "401 /problems/unauthorized"},
		{&Response{}, syscall.ECONNREFUSED, OutcomeRetry, "connection refused"},
		{&Response{}, io.ErrUnexpectedEOF, OutcomeRetry, "connection closed"},
		{&Response{}, errors.Join(errors.New("Post"), os.ErrDeadlineExceeded), OutcomeRetry, "timeout"},
	}
	for _, c := range cases {
		o, k := Classify(c.resp, c.err)
		if o != c.outcome || k != c.kind {
			t.Errorf("Classify(%v, %v) = %v %q, want %v %q", c.resp.Status, c.err, o, k, c.outcome, c.kind)
		}
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("4242 (frontdoor (x) y) S 1 4242 4242 0 -1 4194560 9042 0 0 0 1234 567 0 0 20 0 12 0 8007 1536000000 15000 18446744073709551615")
	ticks, err := parseStatTicks(stat)
	if err != nil || ticks != 1234+567 {
		t.Fatalf("ticks %d err %v, want 1801", ticks, err)
	}
	if _, err := parseStatTicks([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("short stat line accepted")
	}
	status, err := os.ReadFile(filepath.Join("testdata", "proc-status.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if rss, hwm := parseStatusKB(status, "VmRSS:"), parseStatusKB(status, "VmHWM:"); rss != 61234 || hwm != 70012 {
		t.Fatalf("VmRSS %d VmHWM %d", rss, hwm)
	}
	// This process's own figures are readable and plausible.
	ticks, mem, err := procStat(os.Getpid())
	if err != nil || mem.rssKB == 0 || mem.anonKB == 0 || mem.anonKB > mem.rssKB || ticks > 1<<40 {
		t.Fatalf("own /proc: ticks %d memory %+v err %v", ticks, mem, err)
	}

	// What the resident set is made of: each mapping's Rss by what it maps.
	smaps, err := os.ReadFile(filepath.Join("testdata", "proc-smaps.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"anonymous": 120500 + 40 + 8, "value log": 61000 + 4000, "tables": 1024,
		"memtables": 2048, "raft log": 9000, "binary and libraries": 22160 + 1200}
	if got := parseSmaps(smaps); !maps.Equal(got, want) {
		t.Fatalf("parseSmaps = %v, want %v", got, want)
	}
	own, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kinds := parseSmaps(own)
	var sum uint64
	for _, kb := range kinds {
		sum += kb
	}
	if kinds["anonymous"] == 0 || kinds["binary and libraries"] == 0 || sum < mem.rssKB/2 || sum > 2*mem.rssKB {
		t.Fatalf("own smaps %v (sum %d kB), VmRSS %d kB", kinds, sum, mem.rssKB)
	}
	// A node's usage keeps the breakdown of its highest sampled RSS.
	var u procUsage
	u.startProcess(os.Getpid())
	u.sample(os.Getpid())
	u.mark(time.Now())
	u.sample(os.Getpid())
	if r := u.report("n1", 0, time.Now()); r.PeakSampledMB <= 0 || r.PeakByKindMB["anonymous"] <= 0 {
		t.Fatalf("usage report %+v", r)
	}
}
