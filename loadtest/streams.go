package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// streamFlood opens many Server-Sent Events streams on one API key against
// one node while the load runs (--streams N), as an attacker holding a key
// would, and keeps the accepted ones open until the load ends; the report
// shows how many the node accepted or refused and what the load's latency
// and the node's memory were meanwhile.
type streamFlood struct {
	target string
	key    string
	n      int

	mu     sync.Mutex
	codes  map[int]int
	failed map[string]int
	open   []io.Closer
	took   time.Duration
}

// StreamFloodReport is the --streams section of the report.
type StreamFloodReport struct {
	Attempted int            `json:"attempted"`
	Node      string         `json:"node"`
	Statuses  map[int]int    `json:"statuses"`         // HTTP status -> streams answered with it
	Failed    map[string]int `json:"failed,omitempty"` // connection errors
	OpenedIn  time.Duration  `json:"opened_in_ns"`     // time to make every attempt
}

func newStreamFlood(target, key string, n int) *streamFlood {
	return &streamFlood{target: strings.TrimRight(target, "/"), key: key, n: n, codes: map[int]int{}, failed: map[string]int{}}
}

// run makes the attempts, 64 at a time, then holds what was accepted until
// ctx ends.
func (f *streamFlood) run(ctx context.Context) {
	start := time.Now()
	// The header timeout bounds an attempt; a context deadline would also
	// end the accepted stream.
	tr := &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	hc := &http.Client{Transport: tr}
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := 0; i < f.n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.target+"/v1/queue/stream", nil)
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+f.key)
			resp, err := hc.Do(req)
			f.mu.Lock()
			defer f.mu.Unlock()
			if err != nil {
				msg := err.Error()
				if i := strings.LastIndex(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
				f.failed[msg]++
				return
			}
			f.codes[resp.StatusCode]++
			if resp.StatusCode != http.StatusOK {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				return
			}
			f.open = append(f.open, resp.Body)
		}()
	}
	wg.Wait()
	f.mu.Lock()
	f.took = time.Since(start)
	f.mu.Unlock()
	<-ctx.Done()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.open {
		b.Close()
	}
	tr.CloseIdleConnections()
}

func (f *streamFlood) report() *StreamFloodReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &StreamFloodReport{Attempted: f.n, Node: f.target, Statuses: map[int]int{}, OpenedIn: f.took}
	for k, v := range f.codes {
		r.Statuses[k] = v
	}
	if len(f.failed) > 0 {
		r.Failed = map[string]int{}
		for k, v := range f.failed {
			r.Failed[k] = v
		}
	}
	return r
}

func (r *StreamFloodReport) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "\nevent streams on one key against %s: %d attempted in %.1fs\n", r.Node, r.Attempted, r.OpenedIn.Seconds())
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(b, "  %d %s: %d\n", c, http.StatusText(c), r.Statuses[c])
	}
	for msg, n := range r.Failed {
		fmt.Fprintf(b, "  failed (%s): %d\n", msg, n)
	}
}
