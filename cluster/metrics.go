package cluster

import (
	"fmt"
	"sync"

	gometrics "github.com/armon/go-metrics"
	gmprom "github.com/armon/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the cluster's Prometheus collectors. With a nil Registerer
// they are created but not exported.
type metrics struct {
	applyDuration prometheus.Histogram
	batchCommands prometheus.Histogram
	proposalBatch prometheus.Histogram
	commands      *prometheus.CounterVec
	vlogGCRuns    *prometheus.CounterVec
	vlogRewrites  prometheus.Counter
	pageOuts      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	m := &metrics{
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "frontdoor_fsm_apply_duration_seconds",
			Help:    "Time to apply one batch of raft entries to the FSM (one Badger transaction).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batchCommands: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "frontdoor_fsm_apply_batch_commands",
			Help:    "Commands applied per FSM ApplyBatch call.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		proposalBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "frontdoor_raft_entry_commands",
			Help:    "Commands carried per raft entry proposed by this node (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdoor_fsm_commands_total",
			Help: "Commands applied by the FSM, by kind and result (ok, error, replayed).",
		}, []string{"kind", "result"}),
		vlogGCRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "frontdoor_badger_vlog_gc_runs_total",
			Help: "Badger value-log GC passes, by result (rewrote, nothing, error).",
		}, []string{"result"}),
		vlogRewrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frontdoor_badger_vlog_gc_files_rewritten_total",
			Help: "Badger value-log files rewritten by GC (their dead values reclaimed).",
		}),
		pageOuts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "frontdoor_mapped_files_paged_out_total",
			Help: "Mappings of data files (tables, value-log files, the raft log) whose pages the node's periodic check handed back to the kernel (pageout.go; GC steps and snapshots also do, uncounted).",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.applyDuration, m.batchCommands, m.proposalBatch, m.commands, m.vlogGCRuns, m.vlogRewrites, m.pageOuts)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frontdoor_node_quarantined",
			Help: "1 when this node found its state differs from the cluster majority's and stopped (alert on it).",
		}, func() float64 {
			if s.Quarantined() != "" {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frontdoor_fsm_applied_index",
			Help: "The FSM's own applied raft index.",
		}, func() float64 { return float64(s.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frontdoor_badger_lsm_size_bytes",
			Help: "Size of Badger's LSM tree files.",
		}, func() float64 { lsm, _ := s.badgerSizes(); return float64(lsm) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "frontdoor_badger_vlog_size_bytes",
			Help: "Size of Badger's value log files.",
		}, func() float64 { _, vlog := s.badgerSizes(); return float64(vlog) }),
	)
	return m
}

func (s *Store) badgerSizes() (lsm, vlog int64) {
	f := s.fsmPtr.Load()
	if f == nil {
		return 0, 0
	}
	h, err := f.acquire()
	if err != nil {
		return 0, 0
	}
	defer h.release()
	return h.db.Size()
}

var raftMetricsOnce struct {
	sync.Mutex
	done bool
}

// InstallRaftMetrics makes the metrics hashicorp/raft emits visible on reg.
// raft v1.7.3 emits through github.com/hashicorp/go-metrics/compat, which
// (without the hashicorpmetrics build tag) forwards to the global
// github.com/armon/go-metrics instance; this installs an armon Prometheus
// sink on reg as that global. Call it once per process (the go-metrics global
// is process-wide); a second call returns an error.
func InstallRaftMetrics(reg prometheus.Registerer) error {
	raftMetricsOnce.Lock()
	defer raftMetricsOnce.Unlock()
	if raftMetricsOnce.done {
		return fmt.Errorf("install raft metrics: already installed in this process")
	}
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Registerer: reg, Name: "frontdoor_raft_sink"})
	if err != nil {
		return fmt.Errorf("install raft metrics: %w", err)
	}
	conf := gometrics.DefaultConfig("frontdoor")
	conf.EnableHostname = false
	conf.EnableRuntimeMetrics = false
	conf.EnableServiceLabel = false
	conf.EnableHostnameLabel = false
	conf.ServiceName = ""
	if _, err := gometrics.NewGlobal(conf, sink); err != nil {
		return fmt.Errorf("install raft metrics: %w", err)
	}
	raftMetricsOnce.done = true
	return nil
}
