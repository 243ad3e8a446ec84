package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Check is one correctness check run after the load: it reads the cluster
// and counts what is wrong. New checks (dispatch webhook matching, say)
// are new implementations added to the list in checksFor.
type Check interface {
	Name() string
	Run(ctx context.Context, env *CheckEnv) CheckResult
}

// CheckEnv is what a check may use.
type CheckEnv struct {
	Client   *Client
	Ledger   *Ledger
	Workload Workload
	Log      io.Writer // progress and details, for humans
}

// CheckResult is one check's verdict. A check either ran (Checked) and
// found Count problems, or it did not and says why; it never reports a 0
// it did not measure.
type CheckResult struct {
	Name       string   `json:"name"` // "lost acknowledged writes"
	Checked    bool     `json:"checked"`
	Count      int      `json:"count"` // problems found (Checked only)
	Items      int      `json:"items"` // things checked
	Unverified int      `json:"unverified,omitempty"`
	Reason     string   `json:"reason,omitempty"` // why not checked, or why unverified
	Note       string   `json:"note,omitempty"`   // what was checked, in words
	Details    []string `json:"details,omitempty"`
	// Required says a result that was not checked fails the run (the
	// workload made the things this check is about).
	Required bool `json:"required"`
}

// Failed reports whether the result fails the run: problems found,
// things that could not be verified, or a required check that did not run.
func (r CheckResult) Failed() bool {
	return r.Count > 0 || r.Unverified > 0 || (r.Required && !r.Checked)
}

// Line is the report line: "lost acknowledged writes: 0" or
// "double-booked slots: not checked: workload allocates no slots".
func (r CheckResult) Line() string {
	if !r.Checked {
		return fmt.Sprintf("%s: not checked: %s", r.Name, r.Reason)
	}
	s := fmt.Sprintf("%s: %d", r.Name, r.Count)
	if r.Unverified > 0 {
		s += fmt.Sprintf(" (and %d not verified: %s)", r.Unverified, r.Reason)
	}
	return s
}

// dispatcher is implemented by workloads that make rapid response
// dispatches: the check matches their webhooks.
type dispatcher interface {
	DispatchCheck() *DispatchCheck
}

// checksFor is the checks run after a workload. The report always ends
// with the lost-write and double-booking lines, in that order.
func checksFor(w Workload) []Check {
	var checks []Check
	if d, ok := w.(dispatcher); ok && w.Dispatches() && d.DispatchCheck() != nil {
		checks = append(checks, d.DispatchCheck())
	}
	return append(checks, &LostWritesCheck{}, &SlotCheck{})
}

// RunChecks runs every check for the workload.
func RunChecks(ctx context.Context, env *CheckEnv, checks []Check) []CheckResult {
	out := make([]CheckResult, 0, len(checks))
	for _, c := range checks {
		out = append(out, c.Run(ctx, env))
	}
	return out
}

// LostWritesCheck reads every acknowledged write back from every node,
// twice: with ?consistency=linearizable (each node answers with what the
// leader holds after a barrier: the cluster as a client sees it) and with
// ?consistency=stale once the node is ready (the node's own replica). A
// write is lost when any read does not find it, or finds it different
// from what was acknowledged.
type LostWritesCheck struct {
	Parallel int           // concurrent reads (default 8)
	Patience time.Duration // how long one read may keep retrying 503s (default 15s)
}

func (*LostWritesCheck) Name() string { return "lost acknowledged writes" }

// readModes are the consistency levels each write is read back with.
var readModes = []string{"linearizable", "stale"}

func (c *LostWritesCheck) Run(ctx context.Context, env *CheckEnv) CheckResult {
	res := CheckResult{Name: c.Name(), Checked: true, Required: true}
	writes := env.Ledger.Writes()
	res.Items = len(writes)
	if len(writes) == 0 {
		// Nothing acknowledged proves nothing: not a 0, and a failure.
		res.Checked, res.Reason = false, "no write was acknowledged"
		return res
	}
	par := c.Parallel
	if par <= 0 {
		par = 8
	}
	patience := c.Patience
	if patience <= 0 {
		patience = 15 * time.Second
	}
	nodes := len(env.Client.Targets())
	// Writes to one record (a walk-in's answers all change its
	// attendance) are checked with one read of the record per node and
	// consistency level.
	var groups [][]int
	byPath := map[string]int{}
	for w, wr := range writes {
		g, ok := byPath[wr.Path]
		if !ok {
			g = len(groups)
			byPath[wr.Path] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], w)
	}
	type job struct{ g, node, mode int }
	type verdict struct {
		w          int
		lost       string // why it is lost, "" if found and equal
		unverified string
	}
	jobs := make(chan job)
	verdicts := make(chan verdict)
	var fetches atomic.Int64
	// A write already found lost is not read again (its stale reads would
	// only wait out their patience for the same answer).
	var known sync.Map
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var ws []AckedWrite
				var idx []int
				for _, w := range groups[j.g] {
					if _, lost := known.Load(w); lost {
						verdicts <- verdict{w: w}
						continue
					}
					ws, idx = append(ws, writes[w]), append(idx, w)
				}
				if len(ws) == 0 {
					continue
				}
				fetches.Add(1)
				lost, unv := c.readBack(ctx, env.Client, ws, j.node, readModes[j.mode], patience)
				for i, w := range idx {
					if lost[i] != "" {
						known.Store(w, true)
					}
					verdicts <- verdict{w: w, lost: lost[i], unverified: unv}
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for mode := range readModes {
			for node := range nodes {
				for g := range groups {
					select {
					case jobs <- job{g: g, node: node, mode: mode}:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	go func() { wg.Wait(); close(verdicts) }()

	lost := map[int][]string{}
	unverified := map[int]string{}
	done := make([]int, len(writes))
	total, reads := len(writes)*nodes*len(readModes), 0 // per write
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for open := true; open; {
		select {
		case v, ok := <-verdicts:
			if !ok {
				open = false
				break
			}
			reads++
			done[v.w]++
			if v.lost != "" {
				lost[v.w] = append(lost[v.w], v.lost)
			} else if v.unverified != "" {
				unverified[v.w] = v.unverified
			}
		case <-tick.C:
			if env.Log != nil {
				fmt.Fprintf(env.Log, "loadtest: checked %d of %d (%d writes × %d nodes × %d consistency levels); %d lost so far\n",
					reads, total, len(writes), nodes, len(readModes), len(lost))
			}
		}
	}
	res.Count = len(lost)
	res.Note = fmt.Sprintf("%d writes to %d records read back from %d nodes, linearizable and stale (%d reads)",
		len(writes), len(groups), nodes, fetches.Load())
	// Not lost, but not read from every node in every mode: unverified.
	want := nodes * len(readModes)
	for w := range writes {
		if _, isLost := lost[w]; isLost {
			continue
		}
		why, failed := unverified[w]
		if !failed && done[w] == want {
			continue
		}
		if !failed {
			why = "the check was interrupted"
			if ctx.Err() != nil {
				why += ": " + ctx.Err().Error()
			}
		}
		res.Unverified++
		if res.Reason == "" {
			res.Reason = why
		}
	}
	idx := make([]int, 0, len(lost))
	for w := range lost {
		idx = append(idx, w)
	}
	sort.Ints(idx)
	for _, w := range idx {
		if len(res.Details) == 20 {
			res.Details = append(res.Details, fmt.Sprintf("… and %d more", len(idx)-20))
			break
		}
		res.Details = append(res.Details, fmt.Sprintf("%s (key %s, acknowledged by node %d at %s): %s",
			writes[w].Path, writes[w].Key, writes[w].Node+1, writes[w].AckedAt.Format(time.RFC3339Nano), lost[w][0]))
	}
	return res
}

// notFoundPatience is how long a stale read may keep answering 404 before
// the write counts as lost on that node. The checks start once every node
// is ready (applied up to the leader's commit index), so a replica that
// still lacks an acknowledged write after this is missing it.
const notFoundPatience = 3 * time.Second

// readBack reads one record from one node and checks every write to it;
// it returns, for each write, why it is lost there ("" when found as
// acknowledged), or why the record could not be read at all.
func (c *LostWritesCheck) readBack(ctx context.Context, cl *Client, ws []AckedWrite, node int, mode string, patience time.Duration) (lost []string, unverified string) {
	path := ws[0].Path + "?consistency=" + mode
	start := time.Now()
	deadline := start.Add(patience)
	nfWait := min(notFoundPatience, patience)
	last := ""
	lost = make([]string, len(ws))
	for {
		resp, err := cl.Do(ctx, Request{Method: http.MethodGet, Path: path, Node: node, Timeout: 5 * time.Second})
		outcome, kind := Classify(resp, err)
		switch {
		case outcome == OutcomeOK:
			var got any
			if err := json.Unmarshal(resp.Body, &got); err != nil {
				for i := range lost {
					lost[i] = fmt.Sprintf("node %d (%s): unreadable body: %v", node+1, mode, err)
				}
				return lost, ""
			}
			differ := false
			for i, w := range ws {
				var want any
				if err := json.Unmarshal(w.Expect, &want); err != nil {
					return make([]string, len(ws)), fmt.Sprintf("the expectation of %s does not decode: %v", w.Path, err)
				}
				lost[i] = ""
				if diff := jsonContains(got, want); diff != "" {
					lost[i] = fmt.Sprintf("node %d (%s): differs: %s", node+1, mode, diff)
					differ = true
				}
			}
			// A replica read may lag a moment behind the last change
			// (the checks start once every node is ready, so not for long).
			if !differ || mode != "stale" || time.Since(start) >= nfWait {
				return lost, ""
			}
			last = "differs"
		case resp != nil && resp.Status == http.StatusNotFound:
			// A stale read on a node that has not applied the entry yet
			// is not a loss: give it a moment.
			if mode != "stale" || time.Since(start) >= nfWait {
				for i := range lost {
					lost[i] = fmt.Sprintf("node %d (%s): 404 not found", node+1, mode)
				}
				return lost, ""
			}
			last = "404 not found"
		case outcome == OutcomeRetry:
			last = kind
		default:
			return make([]string, len(ws)), fmt.Sprintf("node %d (%s): %s", node+1, mode, kind)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return make([]string, len(ws)), fmt.Sprintf("node %d (%s): still %s after %v", node+1, mode, last, patience)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// jsonContains reports how got differs from want ("" when it does not):
// every member of want must be in got with an equal value, recursively for
// objects; got may have more members. Numbers compare as JSON numbers.
func jsonContains(got, want any) string {
	return containsAt("", got, want)
}

func containsAt(path string, got, want any) string {
	if wm, ok := want.(map[string]any); ok {
		gm, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", orRoot(path), got)
		}
		keys := make([]string, 0, len(wm))
		for k := range wm {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := gm[k]
			if !ok {
				return fmt.Sprintf("%s: missing", join(path, k))
			}
			if d := containsAt(join(path, k), gv, wm[k]); d != "" {
				return d
			}
		}
		return ""
	}
	// An array in want: each of its elements must match (contain) some
	// element of got's array, so an expectation names the answer it
	// added without knowing what else the record holds.
	if wa, ok := want.([]any); ok {
		ga, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want an array, got %v", orRoot(path), got)
		}
		for i, we := range wa {
			found := false
			for _, ge := range ga {
				if containsAt("", ge, we) == "" {
					found = true
					break
				}
			}
			if !found {
				wb, _ := json.Marshal(we)
				return fmt.Sprintf("%s[%d]: no element contains %s", orRoot(path), i, wb)
			}
		}
		return ""
	}
	// Compare scalars through their JSON forms, so an int in want equals
	// a float64 decoded from the body.
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	var g, w any
	_ = json.Unmarshal(gb, &g)
	_ = json.Unmarshal(wb, &w)
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("%s: got %s, want %s", orRoot(path), gb, wb)
	}
	return ""
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(p string) string {
	if p == "" {
		return "(record)"
	}
	return p
}
