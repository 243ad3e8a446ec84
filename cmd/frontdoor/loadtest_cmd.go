package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/loadtest"
	"github.com/frontdoor-ucc/frontdoor/loadtest/baseline"
)

// newLoadtestCmd is `frontdoor loadtest`: load, chaos and the correctness
// checker (package loadtest), against a cluster it spawns from this very
// binary or an existing one.
func newLoadtestCmd() *cobra.Command {
	var (
		o      loadtest.Options
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Load a cluster, optionally kill nodes, and check that no acknowledged write was lost",
		Long: `Load a frontdoor cluster and check it kept every acknowledged write.

Drive an existing cluster with --target URL[,URL...] --key KEY, or start a
throwaway one from this binary with --spawn 3 (loopback ports, temporary data
dirs, removed afterwards, also on Ctrl-C). The run is always bounded: by
--duration (default 30s when --requests is not given) and/or --requests.

Workloads (--workload):
` + loadtest.WorkloadNames() + `
At the end every acknowledged write is read back from every node
(?consistency=linearizable, and ?consistency=stale once the node is caught
up). The report ends with "lost acknowledged writes: N" and
"double-booked slots: N" (or why that was not checked); the command exits
non-zero when anything was lost or could not be verified.

With --spawn, --chaos kill-leader|kill-random|restart-all kills nodes with
kill -9 every --chaos-every and restarts them, and reports each failover.
--baseline first runs a bare 3-node raft + raft-boltdb + Badger cluster in
this process with the same command size and concurrency, and then the same
behind one HTTP endpoint on its leader, and reports frontdoor's throughput,
p50 and p99 as ratios to both.`,
		Example: `  frontdoor loadtest --spawn 3 --requests 200 --concurrency 4
  frontdoor loadtest --spawn 3 --chaos kill-leader --chaos-every 2s --duration 20s
  frontdoor loadtest --target http://10.0.0.1:8080,http://10.0.0.2:8080 --key "$(cat admin.key)" --rate 50 --duration 1m --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Spawn > 0 {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("--spawn: cannot find this binary: %w", err)
				}
				o.Binary = exe
			}
			if err := o.Validate(); err != nil {
				return err
			}
			tty := false
			if fi, err := os.Stderr.Stat(); err == nil {
				tty = fi.Mode()&os.ModeCharDevice != 0
			}
			env := loadtest.Env{
				Command:      "frontdoor " + strings.Join(os.Args[1:], " "),
				Log:          cmd.ErrOrStderr(),
				TTY:          tty,
				Baseline:     baseline.Run,
				BaselineHTTP: baseline.RunHTTP,
			}
			rep, err := loadtest.Run(cmd.Context(), o, env)
			if rep != nil {
				out := cmd.OutOrStdout()
				var werr error
				if asJSON {
					werr = rep.WriteJSON(out)
				} else {
					werr = rep.WriteText(out)
				}
				if werr != nil && err == nil {
					err = werr
				}
			}
			if errors.Is(err, loadtest.ErrChecksFailed) && rep != nil && rep.Problem != "" {
				return fmt.Errorf("%w (%s)", err, rep.Problem)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Targets, "target", nil, "base URLs of an existing cluster's nodes (comma-separated or repeated)")
	f.StringVar(&o.Key, "key", "", "API key sent as Authorization: Bearer (default with --spawn: the cluster's admin.key, if it has one)")
	f.IntVar(&o.Spawn, "spawn", 0, "start a cluster of this many nodes from this binary (3 is the usual)")
	f.BoolVar(&o.KeepData, "keep", false, "with --spawn: keep the data dirs and node logs (the path is printed)")
	f.StringVar(&o.TempDir, "temp-dir", "", "with --spawn or --baseline: where the temporary data dirs go (default: the system temp dir)")
	f.StringVar(&o.Workload, "workload", "create", "what load to make (see above)")
	f.IntVar(&o.Concurrency, "concurrency", 16, "closed loop: workers each waiting for their answer; open loop: most iterations in flight")
	f.Float64Var(&o.Rate, "rate", 0, "open loop: iterations started per second whatever the latency (0: closed loop)")
	f.DurationVar(&o.Duration, "duration", 0, "stop starting iterations after this long (default 30s unless --requests is given)")
	f.IntVar(&o.Requests, "requests", 0, "stop after this many iterations (0: --duration only)")
	f.DurationVar(&o.OpTimeout, "op-timeout", 30*time.Second, "give up on one operation, retries included, after this long")
	f.Int64Var(&o.Seed, "seed", 0, "seed of the synthetic data (0: from the clock)")
	f.StringVar(&o.Chaos, "chaos", "", "with --spawn: kill-leader, kill-random or restart-all (kill -9, then restart), or partition (the leader cut off by fault proxies, then healed)")
	f.DurationVar(&o.ChaosEvery, "chaos-every", 10*time.Second, "time between chaos kills")
	f.IntVar(&o.Streams, "streams", 0, "also open this many event streams on the run's key against the first node while the load runs (a flood), holding those accepted")
	f.BoolVar(&o.Baseline, "baseline", false, "first run a bare 3-node raft + Badger cluster in process, bare and behind one HTTP endpoint, and report the ratios to it")
	f.StringVar(&o.ProfileDir, "profile", "", "write each node's CPU profile of the run (at most 25 s) and its heap and allocation profiles to this folder (pprof; needs an admin key)")
	f.BoolVar(&o.Progress, "progress", true, "show progress on stderr")
	f.BoolVar(&asJSON, "json", false, "write the report as JSON")
	return cmd
}
