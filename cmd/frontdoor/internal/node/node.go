// Package node starts, joins, seeds and shuts down one frontdoor node: the
// replicated store (cluster), the HTTP API (api) on its listener, and the
// background work around them (joining through a seed, the leader's
// dispatch worker, the clock check of the peers).
package node

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/trust"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/backup"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/netguard"
)

// Config is everything `frontdoor serve` takes. The fields after LogLevel
// are hooks for the in-process test cluster (nodetest); serve leaves them
// zero.
type Config struct {
	DataDir       string
	NodeID        string
	HTTPAddr      string
	HTTPAdvertise string
	RaftAddr      string
	RaftAdvertise string
	Join          []string
	// JoinTokenFile is the file holding the join token (--join-token-file):
	// the secret is read from a file, never taken as a flag, so it stays
	// out of the process list. JoinToken is the token itself, for
	// in-process callers (tests); it wins over the file.
	JoinTokenFile   string
	JoinToken       string
	ShutdownTimeout time.Duration
	LogLevel        string
	// RetentionExtraYears: years the centre adds to every retention period
	// of the NHS Records Management Code (--retention-extra-years; 0 to
	// care.MaxRetentionExtra). Give every node the same value.
	RetentionExtraYears int
	// Version is the binary's version, replicated in the node registry and
	// shown in /openapi.json (default "dev").
	Version string
	// HTTPS serves the API over HTTPS even on a loopback address; on any
	// other address it always is, unless InsecureHTTP.
	HTTPS        bool
	InsecureHTTP bool
	// TLSCert, TLSKey and TLSCA are the trust's own PKI (PEM files) in
	// place of the cluster CA: the certificate must name this node (URI
	// SAN urn:frontdoor:node:<id>, or Common Name <id>); ReloadTLS (SIGHUP)
	// reads them again.
	TLSCert, TLSKey, TLSCA string
	// Scheduled backups (backup.Scheduler), off unless BackupDir is set:
	// while this node leads it writes one every BackupEvery into
	// BackupDir, encrypted to BackupRecipients (age public keys), keeping
	// the newest BackupKeep.
	BackupDir        string
	BackupEvery      time.Duration
	BackupKeep       int
	BackupRecipients []string
	// EncryptionKey is the master key of encryption at rest (nil: the
	// data dir in clear; serve always gives one).
	EncryptionKey []byte

	HTTPListener    net.Listener       // already bound (tests: 127.0.0.1:0)
	RaftTuning      cluster.RaftTuning // zero -> production defaults
	Logger          *slog.Logger
	SkipRaftMetrics bool // cluster.InstallRaftMetrics is once per process
	JoinRetryMax    time.Duration
	RequestTimeout  time.Duration
	// KeyLease is how long a node trusts its API key state without the
	// leader's word (api.Config.KeyLease; default 2s).
	KeyLease time.Duration
	Clock    func() time.Time    // proposal stamps (tests: a fixed time of day); nil -> time.Now
	Dispatch care.DispatchConfig // the leader-only dispatch worker (tests: fast notifier)
	// WebhookDevLoopback lets dispatch webhooks go over http to loopback
	// hosts, and to loopback addresses at all (serve
	// --webhook-dev-loopback): development and tests only.
	WebhookDevLoopback bool
}

// Files a node keeps in its data dir.
const (
	NodeIDFile    = "node-id"
	JoinTokenFile = "join.token" // written by Bootstrap, or by a joiner from --join-token-file
)

// Run runs one node until ctx ends (clean shutdown, nil error) or the
// node cannot go on (fatal FSM error, join refused, HTTP failure).
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	n, err := Start(ctx, cfg, out)
	if err != nil {
		return err
	}
	if cfg.TLSCert != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					_ = n.ReloadTLS()
				}
			}
		}()
	}
	cause := n.Wait(ctx)
	if err := n.Shutdown(); err != nil && cause == nil {
		cause = err
	}
	return cause
}

// Node is one running frontdoor node: store, HTTP server and the
// background membership work.
type Node struct {
	cfg      Config
	id       string
	log      *slog.Logger
	store    *cluster.Store
	app      *api.Server
	ln       net.Listener
	reg      *prometheus.Registry
	httpAddr string // advertised

	identity *trust.Identity // the trust's own PKI (nil: the cluster CA's, in the store)

	served   chan error // HTTP server stopped
	member   chan error // membership work ended (nil: done)
	stopWork context.CancelFunc
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Start opens the store, starts HTTP, and starts bootstrap, join or
// re-announce as the data dir calls for.
func Start(ctx context.Context, cfg Config, out io.Writer) (_ *Node, err error) {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	version := cfg.Version
	if cfg.RetentionExtraYears < 0 || cfg.RetentionExtraYears > care.MaxRetentionExtra {
		return nil, fmt.Errorf("--retention-extra-years %d: must be 0 to %d (a centre may keep records longer than the NHS Records Management Code's periods, never shorter)",
			cfg.RetentionExtraYears, care.MaxRetentionExtra)
	}
	log := cfg.Logger
	if log == nil {
		if log, err = newLogger(cfg.LogLevel, os.Stderr); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	schedule, err := backupSchedule(cfg)
	if err != nil {
		return nil, err
	}
	id, err := loadNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	log = log.With("node", id)
	n := &Node{cfg: cfg, id: id, log: log, served: make(chan error, 1), member: make(chan error, 1)}

	var identity *trust.Identity
	if cfg.TLSCert != "" || cfg.TLSKey != "" || cfg.TLSCA != "" {
		if identity, err = loadTrustPKI(cfg, id); err != nil {
			return nil, err
		}
	}
	n.identity = identity
	n.ln = cfg.HTTPListener
	if n.ln == nil {
		if n.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("http listen: %w", err)
		}
	}
	// A flood of connections must not take the process down: the file
	// limit is raised to its hard limit, accepting backs off on "too many
	// open files" instead of failing, and accepted connections are capped
	// below the limit (netguard).
	oldLimit, fileLimit, lerr := netguard.RaiseFileLimit()
	if lerr != nil {
		log.Warn("raising the open file limit", "err", lerr)
	} else if fileLimit != oldLimit {
		log.Info("open file limit raised", "from", oldLimit, "to", fileLimit)
	}
	// One client address holds at most a quarter of the places, so one
	// flooding machine cannot take them all. (Members' forwarded requests
	// come over the raft port, not this listener.)
	maxConns := netguard.MaxConnsFor(fileLimit)
	n.ln = netguard.PerAddress(netguard.Limit(n.ln, maxConns, log), max(maxConns/4, 16))
	defer func() {
		if err != nil {
			n.ln.Close()
		}
	}()
	n.httpAddr = cfg.HTTPAdvertise
	if n.httpAddr == "" {
		n.httpAddr = n.ln.Addr().String()
	}
	if host, _, herr := net.SplitHostPort(n.httpAddr); herr != nil || host == "" || net.ParseIP(host).IsUnspecified() {
		return nil, fmt.Errorf("HTTP address %q cannot be reached by other nodes: set --http-advertise", n.httpAddr)
	}

	n.reg = newRegistry()
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "frontdoor_tls_certificate_expiry_timestamp_seconds",
		Help: "When this node's certificate expires (Unix seconds; 0 before it has one). Alert well before: nodes renew a cluster-CA certificate with a third of its life left.",
	}, func() float64 {
		if n.store == nil || n.store.Identity() == nil || n.store.Identity().NotAfter().IsZero() {
			return 0
		}
		return float64(n.store.Identity().NotAfter().Unix())
	}))
	if !cfg.SkipRaftMetrics {
		if err := cluster.InstallRaftMetrics(n.reg); err != nil {
			return nil, fmt.Errorf("raft metrics: %w", err)
		}
	}
	st, err := cluster.New(cluster.Config{
		Identity:      identity,
		NodeID:        id,
		Dir:           cfg.DataDir,
		RaftBind:      cfg.RaftAddr,
		RaftAdvertise: cfg.RaftAdvertise,
		HTTPAdvertise: n.httpAddr,
		Version:       version,
		Logger:        log,
		Registerer:    n.reg,
		Raft:          cfg.RaftTuning,
		Clock:         cfg.Clock,
		Commands:      clinic.Commands(),
		EncryptionKey: cfg.EncryptionKey,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := st.Open(ctx); err != nil {
		if errors.Is(err, cluster.ErrCorruptLog) || errors.Is(err, cluster.ErrCorruptState) || errors.Is(err, cluster.ErrCorruptSnapshot) {
			return n.startQuarantined(ctx, st, err, out)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	n.store = st
	fresh := !st.HasExistingState()

	n.app = api.New(api.Config{Store: st, Logger: log, Registry: n.reg, Gatherer: n.reg, Version: version,
		RequestTimeout: cfg.RequestTimeout, KeyLease: cfg.KeyLease, PeerDial: st.DialPeerHTTP, PeerPipeDial: st.DialPeerPipe, RetentionExtraYears: cfg.RetentionExtraYears, WebhookDevLoopback: cfg.WebhookDevLoopback})
	// One server for the public listener and the raft port's node-to-node
	// channel (mutual TLS: forwarded writes, members' figures).
	serveLn := n.ln
	scheme := "http"
	if servesHTTPS(cfg, n.httpAddr) {
		serveLn, scheme = tls.NewListener(n.ln, st.Identity().HTTPSConfig()), "https"
	}
	if pl := st.PeerListener(); pl != nil {
		serveLn = mergeListeners(serveLn, pl)
	}
	go func() { n.served <- n.app.Listener(serveLn) }()
	if pl := st.PipeListener(); pl != nil {
		// Followers' forwarded writes, many at once per connection.
		go func() {
			if err := n.app.ServePipes(pl); err != nil {
				log.Warn("raft port: pipes", "err", err)
			}
		}()
	}
	workCtx, cancel := context.WithCancel(ctx)
	n.stopWork = cancel
	go n.app.Run(workCtx) // the clock check of the peers
	// The rapid response outbox worker runs while this node leads (dispatch).
	dcfg := cfg.Dispatch
	notifier := care.NewNotifier()
	if dcfg.Notifier != nil {
		c := *dcfg.Notifier // this node's copy: the flag and logger are the node's
		notifier = &c
	}
	if notifier.Logger == nil {
		notifier.Logger = log
	}
	notifier.DevLoopback = notifier.DevLoopback || cfg.WebhookDevLoopback
	dcfg.Notifier = notifier
	if err := care.StartDispatch(workCtx, st, n.reg, dcfg); err != nil {
		n.closeAll()
		return nil, fmt.Errorf("dispatch worker: %w", err)
	}
	if schedule != nil {
		sched, err := backup.NewScheduler(*schedule, st, n.reg, log)
		if err != nil {
			n.closeAll()
			return nil, fmt.Errorf("scheduled backups: %w", err)
		}
		go sched.Run(workCtx)
	}

	raftAddr := cfg.RaftAdvertise
	if raftAddr == "" {
		raftAddr = cfg.RaftAddr
	}
	fmt.Fprintf(out, "frontdoor %s: node %s HTTP API listening on %s://%s\n", version, id, scheme, n.ln.Addr())
	fmt.Fprintf(out, "frontdoor %s: node %s Raft listening on %s (advertised %s)\n", version, id, cfg.RaftAddr, raftAddr)

	if fresh && len(cfg.Join) == 0 {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, JoinTokenFile)); err == nil && !trust.HasBootstrap(cfg.DataDir) {
			// A joiner keeps its token before it has any raft state; started
			// again without --join it must not found a cluster of its own.
			n.closeAll()
			return nil, fmt.Errorf("data dir %s has a join token but no raft state: this node was joining a cluster; start it with --join", cfg.DataDir)
		}
		info, err := st.Bootstrap(ctx)
		if err != nil {
			n.closeAll()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		fmt.Fprintf(out, "frontdoor: bootstrapped a new cluster; join token in %s\n", info.JoinTokenPath)
		// Reference data of a new cluster (seed.go): the first admin key
		// and the demo directory.
		if err := bootstrapReferenceData(ctx, st, cfg.DataDir, out); err != nil {
			n.closeAll()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		// The embedded clinical protocols (seed.go).
		if err := bootstrapProtocols(ctx, st); err != nil {
			n.closeAll()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		n.member <- nil
		go n.renewCertificates(workCtx, &membership{store: st, log: log, out: io.Discard,
			self: cluster.JoinRequest{ID: id, RaftAddr: raftAddr, HTTPAddr: n.httpAddr, Version: version,
				LogicVersion: cluster.LogicVersion, Token: info.Token}})
		return n, nil
	}
	token, err := n.joinToken(fresh)
	if err != nil {
		n.closeAll()
		return nil, err
	}
	m := &membership{
		self: cluster.JoinRequest{ID: id, RaftAddr: raftAddr, HTTPAddr: n.httpAddr, Version: version,
			LogicVersion: cluster.LogicVersion, Token: token},
		seeds: cfg.Join, store: st, log: log, retryMax: cfg.JoinRetryMax, out: out,
	}
	go func() { n.member <- m.run(workCtx, fresh) }()
	go n.renewCertificates(workCtx, m)
	return n, nil
}

// renewCertificates checks the node's certificate every hour and, with a
// third of its life left, renews it: a leader signs its own with the
// cluster CA (opened with the join token), any other node re-announces
// itself to the leader, whose answer carries a new certificate. The trust's
// own certificates are renewed by the trust (ReloadTLS).
func (n *Node) renewCertificates(ctx context.Context, m *membership) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		id := n.store.Identity()
		if id != nil && !id.External() && id.Certified() && time.Until(id.NotAfter()) < trust.RenewBefore {
			var err error
			if n.store.IsLeader() {
				err = n.store.RenewOwnCertificate(ctx, m.self.Token)
			} else {
				err = m.post(ctx, m.targets(), "/v1/cluster/join")
			}
			if err != nil {
				n.log.Warn("certificate renewal failed; will retry", "not_after", id.NotAfter(), "err", err)
			} else {
				n.log.Info("certificate renewed", "not_after", id.NotAfter())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startQuarantined serves a node whose raft log or state store is corrupt:
// it takes no part in the cluster (raft never starts) but stays up, so
// /readyz answers not ready and names the file, and
// frontdoor_node_quarantined is 1, instead of a process that exits and is
// restarted over and over. It is rebuilt by removing it from the cluster
// and joining it again with an empty data dir.
func (n *Node) startQuarantined(ctx context.Context, st *cluster.Store, cause error, out io.Writer) (*Node, error) {
	n.log.Error("the data dir is corrupt: not joining the cluster; serving not-ready until the node is rebuilt", "err", cause)
	st.Quarantine("refused at start: " + cause.Error())
	n.store = st
	n.app = api.New(api.Config{Store: st, Logger: n.log, Registry: n.reg, Gatherer: n.reg, Version: n.cfg.Version,
		RequestTimeout: n.cfg.RequestTimeout, KeyLease: n.cfg.KeyLease, RetentionExtraYears: n.cfg.RetentionExtraYears, WebhookDevLoopback: n.cfg.WebhookDevLoopback})
	ln := n.ln
	if servesHTTPS(n.cfg, n.httpAddr) {
		id, err := trust.LoadIdentity(n.cfg.DataDir)
		if err != nil || !id.Certified() {
			return nil, fmt.Errorf("open store: %w (and no certificate to serve HTTPS with)", cause)
		}
		ln = tls.NewListener(n.ln, id.HTTPSConfig())
	}
	go func() { n.served <- n.app.Listener(ln) }()
	_, cancel := context.WithCancel(ctx)
	n.stopWork = cancel
	n.member <- nil
	fmt.Fprintf(out, "frontdoor %s: node %s did not join the cluster: %v\n", n.cfg.Version, n.id, cause)
	return n, nil
}

// loadTrustPKI loads the trust's own certificate files and checks that the
// certificate names this node.
func loadTrustPKI(cfg Config, nodeID string) (*trust.Identity, error) {
	if cfg.TLSCert == "" || cfg.TLSKey == "" || cfg.TLSCA == "" {
		return nil, errors.New("--tls-cert, --tls-key and --tls-ca go together")
	}
	identity, err := trust.LoadFiles(cfg.TLSCert, cfg.TLSKey, cfg.TLSCA)
	if err != nil {
		return nil, err
	}
	if got := identity.NodeID(); got != nodeID {
		return nil, fmt.Errorf("--tls-cert %s names node %q, but this node is %q", cfg.TLSCert, got, nodeID)
	}
	return identity, nil
}

// ReloadTLS reads the trust's certificate files again (SIGHUP); with the
// cluster CA's certificates it does nothing.
func (n *Node) ReloadTLS() error {
	if n.identity == nil {
		return nil
	}
	if err := n.identity.Reload(); err != nil {
		n.log.Error("TLS reload failed; keeping the certificate in use", "err", err)
		return err
	}
	if got := n.identity.NodeID(); got != n.id {
		n.log.Error("reloaded certificate names another node", "names", got)
	}
	n.log.Info("TLS certificate reloaded", "not_after", n.identity.NotAfter())
	return nil
}

// servesHTTPS: the API is served over HTTPS on any address but loopback
// (unless InsecureHTTP), and on loopback too with HTTPS.
func servesHTTPS(cfg Config, httpAddr string) bool {
	if cfg.HTTPS {
		return true
	}
	return !cfg.InsecureHTTP && !isLoopback(httpAddr)
}

// isLoopback reports whether addr (host:port) is on a loopback address.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// joinToken finds the token this node uses to (re-)announce itself: the
// configured one (Config.JoinToken, else the file --join-token-file
// names), else the copy in the data dir. A fresh joiner keeps the given
// token in the data dir (0600) so it can re-announce after a restart.
func (n *Node) joinToken(fresh bool) (string, error) {
	path := filepath.Join(n.cfg.DataDir, JoinTokenFile)
	given := n.cfg.JoinToken
	if given == "" && n.cfg.JoinTokenFile != "" {
		b, err := os.ReadFile(n.cfg.JoinTokenFile)
		if err != nil {
			return "", fmt.Errorf("--join-token-file: %w", err)
		}
		if given = strings.TrimSpace(string(b)); given == "" {
			return "", fmt.Errorf("--join-token-file: %s is empty", n.cfg.JoinTokenFile)
		}
	}
	if given != "" {
		if fresh {
			if err := os.WriteFile(path, []byte(given+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("keep join token: %w", err)
			}
		}
		return given, nil
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if fresh {
		return "", errors.New("--join needs --join-token-file (a copy of the join.token file in the first node's data dir)")
	}
	return "", nil // a restart without a token: no re-announce
}

// Wait blocks until ctx ends (nil) or the node cannot go on (its error).
func (n *Node) Wait(ctx context.Context) error {
	member := n.member
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-n.store.Fatal():
			return fmt.Errorf("state machine stopped: %w", err)
		case err := <-n.served:
			return fmt.Errorf("http server: %w", err)
		case err := <-member:
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("membership: %w", err)
			}
			member = nil
		}
	}
}

// stepDowner is implemented by stores that can hand leadership over
// without closing.
type stepDowner interface {
	StepDown(ctx context.Context) error
}

// Shutdown: a leader hands leadership over first (when the store can do
// that on its own), so requests still arriving are forwarded to the new
// leader; then HTTP stops accepting and in-flight requests get
// ShutdownTimeout to finish; then the store closes (transferring
// leadership itself if it still leads) along with raft and Badger.
func (n *Node) Shutdown() error {
	n.stopWork()
	timeout := n.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var errs []error
	if sd, ok := any(n.store).(stepDowner); ok && n.store.IsLeader() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if err := sd.StepDown(ctx); err != nil {
			n.log.Warn("leadership transfer before shutdown", "err", err)
		}
		cancel()
	}
	n.app.ShutdownPipes(timeout)
	if err := n.app.ShutdownWithTimeout(timeout); err != nil {
		// Requests still running (or kept-alive client connections, which
		// fasthttp waits for) after the grace period are cut off: worth a
		// warning, not a failed shutdown.
		n.log.Warn("http shutdown: connections still open after the grace period", "timeout", timeout, "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	if err := n.store.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	n.log.Info("stopped")
	return errors.Join(errs...)
}

// ID is the node's id (kept in its data dir).
func (n *Node) ID() string { return n.id }

// Store is the node's replicated store.
func (n *Node) Store() *cluster.Store { return n.store }

// App is the node's HTTP API.
func (n *Node) App() *fiber.App { return n.app.App }

// Kill stops the node abruptly, as a crash would for raft: no leadership
// transfer, no HTTP drain, the store killed; the data dir stays for Start
// to reuse. Tests use it to crash a node.
func (n *Node) Kill() error {
	n.stopWork()
	n.app.ShutdownPipes(0)
	_ = n.app.ShutdownWithTimeout(0)
	return n.store.Kill()
}

// closeAll is shutdown for a node that failed half-way through starting.
func (n *Node) closeAll() {
	n.stopWork()
	n.app.ShutdownPipes(0)
	_ = n.app.Shutdown()
	_ = n.store.Close(context.Background())
}

// loadNodeID returns the node id kept in the data dir, creating it on first
// start (from the flag, or random). A flag that contradicts the stored id
// is an error: the data dir belongs to another node.
func loadNodeID(dir, flag string) (string, error) {
	path := filepath.Join(dir, NodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if flag != "" && flag != id {
			return "", fmt.Errorf("--node-id %q: the data dir %s belongs to node %q", flag, dir, id)
		}
		return id, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("node id: %w", err)
	}
	id := flag
	if id == "" {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", err
		}
		id = "node-" + hex.EncodeToString(r[:])
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

// newRegistry is the process's metrics registry: Go runtime, process and
// build-info collectors; Start adds the cluster's and raft's metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	return reg
}
