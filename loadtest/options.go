package loadtest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Chaos modes (--chaos).
const (
	ChaosNone       = ""
	ChaosKillLeader = "kill-leader" // kill -9 the leader, restart it
	ChaosKillRandom = "kill-random" // kill -9 any node, restart it
	ChaosRestartAll = "restart-all" // kill -9 every node, restart them all
	ChaosPartition  = "partition"   // cut the leader off from the others (fault proxies), then heal
)

// DefaultDuration bounds a run given neither --duration nor --requests.
const DefaultDuration = 30 * time.Second

// Options is everything a run takes; the CLI fills it from flags.
type Options struct {
	Targets []string // base URLs of an existing cluster (--target)
	Key     string   // API key sent as Authorization: Bearer (--key)

	Spawn    int    // start a cluster of this many nodes (--spawn)
	Binary   string // the frontdoor executable to spawn (os.Executable())
	KeepData bool   // keep the spawned cluster's data dirs and logs (--keep)
	TempDir  string // parent of the spawned cluster's dir ("" -> os.TempDir())

	Workload    string
	Concurrency int           // closed loop workers, or the open loop's in-flight cap
	Rate        float64       // > 0: open loop, operations started per second
	Duration    time.Duration // 0 with Requests 0 -> DefaultDuration
	Requests    int           // 0 -> bounded by Duration only
	OpTimeout   time.Duration // one logical operation, retries included
	Seed        int64         // synthetic data (0 -> time-based)

	Chaos      string
	ChaosEvery time.Duration

	Baseline bool

	// Streams (--streams N) opens N event streams on the run's key against
	// the first node while the load runs, and holds the accepted ones.
	Streams int

	// ProfileDir (--profile) receives each node's CPU, heap and allocation
	// profiles of the run; it needs an administrator's key.
	ProfileDir string

	Progress bool // progress line on stderr
}

// Validate checks the options and fills defaults. Its errors are written
// for the command line: they name the flag and say what to do.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if o.Streams < 0 || o.Streams > 20000 {
		bad("--streams %d: give 0 to 20000 event streams", o.Streams)
	}
	switch {
	case len(o.Targets) > 0 && o.Spawn > 0:
		bad("give either --target (drive an existing cluster) or --spawn N (start one), not both")
	case len(o.Targets) == 0 && o.Spawn == 0:
		bad("nothing to load: give --target URL[,URL...] of an existing cluster, or --spawn 3 to start one")
	}
	for i, t := range o.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--target %q: want a base URL such as http://127.0.0.1:8080", t)
			continue
		}
		o.Targets[i] = strings.TrimRight(t, "/")
	}
	if o.Spawn < 0 || o.Spawn > 9 {
		bad("--spawn %d: want 1 to 9 nodes (3 is the usual cluster)", o.Spawn)
	}
	if o.Spawn > 0 && o.Binary == "" {
		bad("--spawn needs the frontdoor binary to run (internal: Options.Binary is empty)")
	}
	if o.Concurrency < 1 || o.Concurrency > 4096 {
		bad("--concurrency %d: want 1 to 4096", o.Concurrency)
	}
	if o.Rate < 0 {
		bad("--rate %g: want a positive number of operations per second (or 0 for the closed loop)", o.Rate)
	}
	if o.Duration < 0 {
		bad("--duration %v: must not be negative", o.Duration)
	}
	if o.Requests < 0 {
		bad("--requests %d: must not be negative", o.Requests)
	}
	if o.Duration == 0 && o.Requests == 0 {
		o.Duration = DefaultDuration
	}
	if o.OpTimeout == 0 {
		o.OpTimeout = 30 * time.Second
	}
	if o.OpTimeout < 100*time.Millisecond {
		bad("--op-timeout %v: want at least 100ms", o.OpTimeout)
	}
	if o.Workload == "" {
		o.Workload = "create"
	}
	if _, err := lookupWorkload(o.Workload); err != nil {
		errs = append(errs, err)
	}
	if o.Workload == "dispatch" && o.Spawn == 0 {
		bad("--workload dispatch needs --spawn: it points the rapid response services' webhooks at loadtest and opens them round the clock, which is no change to make to a real directory")
	}
	switch o.Chaos {
	case ChaosNone:
	case ChaosKillLeader, ChaosKillRandom, ChaosRestartAll, ChaosPartition:
		if o.Spawn == 0 {
			bad("--chaos %s needs --spawn: loadtest only kills processes it started itself", o.Chaos)
		}
		if o.Chaos != ChaosRestartAll && o.Spawn > 0 && o.Spawn < 3 {
			bad("--chaos %s needs --spawn 3 or more: a cluster of %d cannot lose a node and still accept writes", o.Chaos, o.Spawn)
		}
	default:
		bad("--chaos %q: want kill-leader, kill-random, restart-all or partition", o.Chaos)
	}
	if o.ChaosEvery == 0 {
		o.ChaosEvery = 10 * time.Second
	}
	if o.ChaosEvery < time.Second {
		bad("--chaos-every %v: want at least 1s (a node needs time to restart and rejoin)", o.ChaosEvery)
	}
	return errors.Join(errs...)
}
