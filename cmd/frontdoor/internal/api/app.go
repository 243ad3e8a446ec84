// Package api is a frontdoor node's HTTP API on fiber: the route table
// (routes.go), whose rows carry their handlers, access control by API key
// and role, RFC 9457 problems, forwarding to the leader, OpenAPI, health
// and metrics, and one file per resource for the handlers.
package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/peerpipe"
)

// Store is what the HTTP layer needs from the replicated store
// (*cluster.Store implements it).
type Store interface {
	Propose(ctx context.Context, p cluster.Proposal) (*cluster.Result, error)
	Read(ctx context.Context, c cluster.Consistency, fn func(v *cluster.View) error) error
	IsLeader() bool
	Leader() (cluster.LeaderInfo, bool)
	Status() cluster.Status
	AppliedIndex() uint64
	CommitIndex() uint64
	Join(ctx context.Context, r cluster.JoinRequest) (cluster.JoinAnswer, error)
	Promote(ctx context.Context, id string) error
	RemoveNode(ctx context.Context, id string) error
	OpenBackup(ctx context.Context) (*cluster.Backup, error)
}

// Config is what New needs.
type Config struct {
	Store    Store
	Logger   *slog.Logger
	Registry prometheus.Registerer // HTTP metrics are registered here
	Gatherer prometheus.Gatherer   // served on /metrics; nil -> no /metrics route
	Version  string                // the binary's version, shown in /openapi.json (default "dev")
	clock    *clockChecker         // tests: a checker of their own; nil -> a fresh one

	// RequestTimeout bounds a proposal or read on this node (default 5s); a
	// forwarded request gets ForwardTimeout (default RequestTimeout + 2s).
	RequestTimeout time.Duration
	ForwardTimeout time.Duration
	// BodyLimit caps request bodies (default 1 MiB).
	BodyLimit int
	// RetentionExtraYears is the centre's retention setting: years added
	// to every period of the NHS Records Management Code (0 to
	// care.MaxRetentionExtra; retention.go).
	RetentionExtraYears int
	// KeyLease is how long a node trusts its API key state without the
	// leader's word (keylease.go; default 2s): the longest a revocation's
	// acknowledgement waits for a member that does not confirm it.
	KeyLease time.Duration
	// PeerDial opens a node-to-node connection to the member serving the
	// given HTTP address (forwarding to the leader, a member's figures):
	// *cluster.Store's DialPeerHTTP, mutual TLS over the raft port. nil ->
	// plain TCP to that address.
	PeerDial func(httpAddr string) (net.Conn, error)
	// PeerPipeDial opens a pipe (peerpipe: many requests at once on one
	// connection) to the member serving the given HTTP address: a
	// follower forwards its writes to the leader over one. Its
	// *cluster.Store's DialPeerPipe; nil -> writes are forwarded over
	// PeerDial's HTTP.
	PeerPipeDial func(httpAddr string) (net.Conn, error)
	// WebhookDevLoopback is serve --webhook-dev-loopback: PUT
	// /v1/services accepts http and loopback webhook URLs only with it.
	WebhookDevLoopback bool
}

// Server is one node's HTTP API: the fiber app, and the background work
// its answers rely on (Run).
type Server struct {
	*fiber.App
	clock      *clockChecker
	divergence *divergenceChecker
	peers      *peerWatch
	lease      *keyLease
	reads      *readAuditor
	pipes      *peerpipe.Server
	pipeClient *peerpipe.Client
}

// Run keeps this node's key lease fresh (keylease.go), has the record
// reads it served audited (readaudit.go), fetches the other
// members' figures every 2 seconds (GET /v1/cluster serves them), compares the members' state hash checkpoints
// every 5 seconds (divergence.go) and checks the peers' clocks every 2
// seconds until ctx ends (the figures
// GET /v1/cluster and /readyz report).
func (s *Server) Run(ctx context.Context) {
	go s.peers.run(ctx, 2*time.Second)
	go s.lease.run(ctx)
	go s.reads.run(ctx)
	go s.divergence.run(ctx, 5*time.Second)
	s.clock.run(ctx, 2*time.Second)
}

// server holds what the route handlers share. Handlers live in one file per
// resource (attendances.go, cluster.go, health.go, ...); routes.go lists
// the routes.
type server struct {
	store      Store
	selfID     string // this node's id
	log        *slog.Logger
	clock      *clockChecker
	reqTO      time.Duration
	fwdTO      time.Duration
	forwarder  *fasthttp.Client     // leader forwarding
	pipeClient *peerpipe.Client     // leader forwarding of proposals; nil: over forwarder
	peers      *http.Client         // short-timeout calls to other members
	keys       *keyCache            // API key hashes from local state (auth.go)
	lease      *keyLease            // whether the local key state may be trusted (keylease.go)
	reads      *readAuditor         // who read which patient's record, queued for the trail (readaudit.go)
	unknown    *unknownKeys         // what unknown keys may cost (keyflood.go)
	peerWatch  *peerWatch           // the other members' figures, refreshed in the background (cluster.go)
	peerOnly   bool                 // node-to-node requests only over the raft port (PeerDial given)
	routes     map[string]*routeRow // the route table by rowKey: forwarded proposals name theirs
	metrics    fiber.Handler        // GET /metrics; nil: not served
	version    string
	devHooks   bool          // Config.WebhookDevLoopback
	openAPIDoc func() []byte // the /openapi.json document, built once
	// complaints: the complaint search index of the protocol set in force
	complaints complaintIndexes
	// retentionExtra is Config.RetentionExtraYears; retention counts purges.
	retentionExtra int
	retention      *retentionMetrics
}

// New builds the HTTP API of one node.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = cfg.RequestTimeout + 2*time.Second
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &server{
		store:      cfg.Store,
		selfID:     cfg.Store.Status().NodeID,
		log:        cfg.Logger,
		clock:      cfg.clock,
		reqTO:      cfg.RequestTimeout,
		fwdTO:      cfg.ForwardTimeout,
		forwarder:  newForwarder(cfg.ForwardTimeout, cfg.PeerDial),
		pipeClient: newPipeClient(cfg.PeerPipeDial),
		peers:      newPeerClient(cfg.PeerDial),
		keys:       newKeyCache(cfg.Store),
		unknown:    newUnknownKeys(),
		peerOnly:   cfg.PeerDial != nil,
		version:    cfg.Version,

		retentionExtra: cfg.RetentionExtraYears,
		retention:      newRetentionMetrics(cfg.Registry),
		devHooks:       cfg.WebhookDevLoopback,
	}
	s.peerWatch = &peerWatch{s: s}
	s.lease = newKeyLease(s, cfg.KeyLease)
	s.lease.register(cfg.Registry)
	s.reads = newReadAuditor(s, cfg.Registry)
	s.openAPIDoc = sync.OnceValue(func() []byte { return mustOpenAPI(cfg.Version) })
	if cfg.Gatherer != nil {
		s.metrics = metricsHandler(cfg.Gatherer)
	}
	if s.clock == nil {
		s.clock = newClockChecker(cfg.Store, s.peers)
	}
	app := fiber.New(fiber.Config{
		AppName:               "frontdoor",
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(cfg.Logger),
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           60 * time.Second,
		StrictRouting:         false,
		CaseSensitive:         true,
	})
	if cfg.Registry != nil {
		app.Use(newHTTPMetrics(cfg.Registry).handler())
	}
	app.Use(recover.New())

	// Every route comes from the route table (routes.go), with its access
	// check in front of its handler; the rows' order is the registration
	// order.
	rows := routeTable()
	s.routes = make(map[string]*routeRow, len(rows))
	for i := range rows {
		rt := &rows[i]
		s.routes[rowKey(rt.Method, rt.Path)] = rt
		h := rt.Handler
		handlers := []fiber.Handler{s.authorize(rt), func(c *fiber.Ctx) error { return h(s, c) }}
		if rt.Method == fiber.MethodGet {
			app.Get(rt.Path, handlers...) // and HEAD, as fiber does for every GET
		} else {
			app.Add(rt.Method, rt.Path, handlers...)
		}
	}
	return &Server{App: app, clock: s.clock, divergence: &divergenceChecker{s: s, log: cfg.Logger}, peers: s.peerWatch, lease: s.lease, reads: s.reads,
		pipes: &peerpipe.Server{Handler: app.Handler()}, pipeClient: s.pipeClient}
}

// newForwarder is the kept-alive client a follower forwards to the leader
// with (forward.go, forward_proposal.go).
// forwardConns is how many connections a node keeps to the leader for
// forwarded writes: with two followers well under the leader's bound on
// handshakes in progress, and enough for its pace (each carries a write in
// a few milliseconds).
const forwardConns = 24

func newForwarder(timeout time.Duration, dial func(string) (net.Conn, error)) *fasthttp.Client {
	return &fasthttp.Client{
		Dial: dial,
		Name: "frontdoor-forwarder",
		// A few kept-alive connections to the leader carry every
		// forwarded write; a burst waits for a free one rather than
		// opening more. Opening one per request in a burst of 128 went
		// past the raft port's bound on handshakes in progress
		// (cluster.maxHandshakes, 64, shared by every member), which
		// closed the excess: 503s at the follower.
		MaxConnsPerHost:     forwardConns,
		MaxConnWaitTimeout:  timeout,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		MaxIdleConnDuration: 30 * time.Second,
		// A forwarded POST must not be re-sent by the client library:
		// only the caller may retry, with its Idempotency-Key.
		RetryIf: func(*fasthttp.Request) bool { return false },
	}
}

// newPipeClient is the client of the pipes a follower forwards proposals
// to the leader over (nil without dial).
func newPipeClient(dial func(string) (net.Conn, error)) *peerpipe.Client {
	if dial == nil {
		return nil
	}
	return &peerpipe.Client{Dial: dial}
}

// ServePipes answers the pipes accepted on ln (the raft port's pipe
// channel) with the API, as it answers the node-to-node HTTP channel,
// until ShutdownPipes.
func (s *Server) ServePipes(ln net.Listener) error { return s.pipes.Serve(ln) }

// ShutdownPipes stops serving pipes (requests in flight get up to timeout
// to answer) and closes this node's own pipes to the leader.
func (s *Server) ShutdownPipes(timeout time.Duration) {
	s.pipes.Shutdown(timeout)
	if s.pipeClient != nil {
		s.pipeClient.Close()
	}
}

// newPeerClient is the short-timeout client for other members' figures,
// dialling through dial when given.
func newPeerClient(dial func(string) (net.Conn, error)) *http.Client {
	c := &http.Client{Timeout: 750 * time.Millisecond}
	if dial != nil {
		c.Transport = &http.Transport{
			DialContext:         func(_ context.Context, _, addr string) (net.Conn, error) { return dial(addr) },
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     time.Minute,
		}
	}
	return c
}
