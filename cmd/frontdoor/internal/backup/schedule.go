package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// Schedule configures the scheduled backups of `frontdoor serve`.
type Schedule struct {
	Dir   string        // where backups are written (created 0700)
	Every time.Duration // how often
	Keep  int           // how many to keep; older ones are deleted
	// Recipients are the age public keys the backups are encrypted to: a
	// node holds nothing that opens its own backups.
	Recipients []age.Recipient
}

// Source is what the scheduler backs up: *cluster.Store.
type Source interface {
	IsLeader() bool
	OpenBackup(ctx context.Context) (*cluster.Backup, error)
}

// Scheduler writes a backup every Schedule.Every while its node leads.
type Scheduler struct {
	cfg   Schedule
	src   Source
	log   *slog.Logger
	clock func() time.Time

	lastSuccess prometheus.Gauge
	lastSize    prometheus.Gauge
	written     prometheus.Counter
	failures    prometheus.Counter
}

// File names: frontdoor-<created, UTC>-<applied index>.fdbackup, so name
// order is age order.
const (
	filePrefix = "frontdoor-"
	fileSuffix = ".fdbackup"
)

// NewScheduler checks cfg and registers the scheduler's metrics on reg.
func NewScheduler(cfg Schedule, src Source, reg prometheus.Registerer, log *slog.Logger) (*Scheduler, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("--backup-dir is required")
	case cfg.Every <= 0:
		return nil, fmt.Errorf("--backup-every %s: must be positive", cfg.Every)
	case cfg.Keep < 1:
		return nil, fmt.Errorf("--backup-keep %d: keep at least one", cfg.Keep)
	case len(cfg.Recipients) == 0:
		return nil, errors.New("--backup-dir needs --backup-recipient: the age public key the backups are encrypted to")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("--backup-dir: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg, src: src, log: log.With("component", "backup"), clock: time.Now,
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "frontdoor_backup_last_success_timestamp_seconds",
			Help: "When this node last wrote a scheduled backup (Unix seconds; 0: never since start). Alert when it is older than a few --backup-every.",
		}),
		lastSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "frontdoor_backup_last_size_bytes",
			Help: "Size of the last scheduled backup this node wrote.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frontdoor_backups_total",
			Help: "Scheduled backups this node wrote.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frontdoor_backup_failures_total",
			Help: "Scheduled backups this node failed to write (each is logged; the node carries on).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.lastSuccess, s.lastSize, s.written, s.failures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("backup metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Run writes a backup every Every while this node leads, until ctx ends.
// A failure is logged and counted; it never stops the node.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.src.IsLeader() {
			continue
		}
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduled backup failed", "err", err)
		}
	}
}

// Once writes one backup now and applies retention; it returns the file
// written.
func (s *Scheduler) Once(ctx context.Context) (string, error) {
	path, size, err := s.write(ctx)
	if errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) {
		// Leadership moved since the tick: the new leader writes it.
		s.log.Info("scheduled backup skipped: not the leader any more", "err", err)
		return "", nil
	}
	if err != nil {
		s.failures.Inc()
		return "", err
	}
	s.written.Inc()
	s.lastSuccess.Set(float64(s.clock().Unix()))
	s.lastSize.Set(float64(size))
	s.log.Info("scheduled backup written", "file", path, "bytes", size)
	if err := s.prune(); err != nil {
		s.failures.Inc()
		return path, fmt.Errorf("retention: %w", err)
	}
	return path, nil
}

func (s *Scheduler) write(ctx context.Context) (string, int64, error) {
	b, err := s.src.OpenBackup(ctx)
	if err != nil {
		return "", 0, err
	}
	defer b.Close()
	created := s.clock().UTC()
	path := filepath.Join(s.cfg.Dir, fmt.Sprintf("%s%s-%020d%s", filePrefix, created.Format("20060102T150405.000Z"), b.Index, fileSuffix))
	var size int64
	err = WriteFileAtomic(path, func(w io.Writer) error {
		cw := &counter{w: w}
		_, err := WriteFrom(cw, b, s.cfg.Recipients, created)
		size = cw.n
		return err
	})
	if err != nil {
		return "", 0, err
	}
	return path, size, nil
}

// prune deletes the oldest backups beyond Keep.
func (s *Scheduler) prune() error {
	names, err := List(s.cfg.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for len(names) > s.cfg.Keep {
		if err := os.Remove(filepath.Join(s.cfg.Dir, names[0])); err != nil {
			errs = append(errs, err)
		} else {
			s.log.Info("old backup deleted", "file", names[0])
		}
		names = names[1:]
	}
	return errors.Join(errs...)
}

// List returns the scheduled backups in dir, oldest first.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, filePrefix) && strings.HasSuffix(n, fileSuffix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
