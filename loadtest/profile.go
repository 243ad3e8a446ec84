package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profiler collects Go runtime profiles from every node under load
// (--profile DIR): a CPU profile taken while the load runs (as long as the
// run, at most the node's 25 s), then each node's heap and allocations, so
// the next bottleneck is visible with `go tool pprof`. It needs an
// administrator's key (a spawned cluster's own).
type profiler struct {
	dir, workload, key string
	targets            []string
	client             *http.Client
	wg                 sync.WaitGroup
	mu                 sync.Mutex
	files              []string
	errs               []string
}

// maxCPUProfile is the longest CPU profile a node takes in one request.
const maxCPUProfile = 25 * time.Second

func newProfiler(dir, workload, key string, targets []string) (*profiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	return &profiler{dir: dir, workload: workload, key: key, targets: targets,
		client: &http.Client{Timeout: maxCPUProfile + 15*time.Second}}, nil
}

// startCPU begins a CPU profile on every node, lasting about d.
func (p *profiler) startCPU(ctx context.Context, d time.Duration) {
	secs := int(min(max(d, time.Second), maxCPUProfile) / time.Second)
	for _, t := range p.targets {
		p.wg.Add(1)
		go func(t string) {
			defer p.wg.Done()
			p.fetch(ctx, t, fmt.Sprintf("profile?seconds=%d", secs), "cpu")
		}(t)
	}
}

// finish waits for the CPU profiles, then takes heap and allocation
// profiles, and returns the files written and what failed.
func (p *profiler) finish(ctx context.Context) (files, errs []string) {
	p.wg.Wait()
	for _, t := range p.targets {
		p.fetch(ctx, t, "heap", "heap")
		p.fetch(ctx, t, "allocs", "allocs")
	}
	return p.files, p.errs
}

func (p *profiler) fetch(ctx context.Context, target, path, kind string) {
	host := target
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	name := filepath.Join(p.dir, fmt.Sprintf("%s-%s-%s.pprof", p.workload, strings.NewReplacer(":", "_", "/", "_").Replace(host), kind))
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(target, "/")+"/debug/pprof/"+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+p.key)
		resp, err := p.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("%s %s profile: %v", host, kind, err))
		return
	}
	p.files = append(p.files, name)
}
