package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Value-log GC. Values over the value threshold (BadgerOptions) live in
// Badger's value log, which only grows: an overwritten or deleted record
// leaves its old value behind until a GC pass rewrites the file holding it.
// Attendances are rewritten many times as they move through triage and
// routing, so every node runs GC itself. It is local housekeeping: it
// changes no logical state, so it runs outside Apply, on the node's own
// schedule.
const (
	// vlogGCEvery is how often a node looks for reclaimable value-log
	// files when no snapshot has prompted it sooner. Looking is cheap
	// (Badger picks the file from its discard statistics); under a
	// sustained mix a node fills a 16 MiB file in about 6 s, and raft
	// snapshots (and so the kicks) come only every 2 to 4 minutes.
	vlogGCEvery = 30 * time.Second
	// vlogGCDiscardRatio: rewrite a file once at least half of it is dead.
	vlogGCDiscardRatio = 0.5
	// vlogGCMaxRewrites bounds one pass, so a pass ends even while writes
	// keep making garbage.
	vlogGCMaxRewrites = 16
)

// collectValueLog rewrites value-log files while Badger finds one worth
// rewriting, at most vlogGCMaxRewrites, and returns how many it rewrote.
// It stops early when ctx ends.
func (f *fsm) collectValueLog(ctx context.Context) (int, error) {
	n := 0
	for n < vlogGCMaxRewrites {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		rewrote, err := f.rewriteOneValueLog()
		if err != nil || !rewrote {
			return n, err
		}
		n++
	}
	return n, nil
}

// rewriteOneValueLog runs one Badger GC step on the current database. It
// holds gcMu, which Restore holds while it replaces the database, so a GC
// step never runs on a database being swapped out.
func (f *fsm) rewriteOneValueLog() (bool, error) {
	f.gcMu.Lock()
	defer f.gcMu.Unlock()
	h, err := f.acquire()
	if err != nil {
		return false, err
	}
	defer h.release()
	err = h.db.RunValueLogGC(vlogGCDiscardRatio)
	switch {
	case err == nil:
		h.releasePages() // the step read a whole file and rewrote its live values
		return true, nil
	case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
		// Nothing worth rewriting, or Badger is closing.
		return false, nil
	default:
		return false, fmt.Errorf("value-log gc in %s: %w", h.dir, err)
	}
}

// kickValueLogGC asks the GC loop for a pass soon; it never blocks.
func (f *fsm) kickValueLogGC() {
	select {
	case f.gcKick <- struct{}{}:
	default:
	}
}

// valueLogGC runs a GC pass every vlogGCEvery and after every snapshot
// (a snapshot follows a burst of writes), until the store stops.
func (s *Store) valueLogGC(f *fsm) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(vlogGCEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.gcKick:
		}
		s.collectValueLog(ctx, f)
	}
}

// collectValueLog runs one GC pass, then logs and counts what it did.
func (s *Store) collectValueLog(ctx context.Context, f *fsm) {
	start := time.Now()
	n, err := f.collectValueLog(ctx)
	s.metrics.vlogRewrites.Add(float64(n))
	switch {
	case err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotOpen):
		s.metrics.vlogGCRuns.WithLabelValues("error").Inc()
		s.log.Warn("value-log gc failed", "files_rewritten", n, "err", err)
	case n > 0:
		s.metrics.vlogGCRuns.WithLabelValues("rewrote").Inc()
		s.log.Info("value-log gc", "files_rewritten", n, "took", time.Since(start).Round(time.Millisecond))
	default:
		s.metrics.vlogGCRuns.WithLabelValues("nothing").Inc()
	}
}
