package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// clusterStore is what the HTTP layer needs from the replicated store
// (*cluster.Store implements it).
type clusterStore interface {
	Propose(ctx context.Context, p cluster.Proposal) (*cluster.Result, error)
	Read(ctx context.Context, c cluster.Consistency, fn func(v *cluster.View) error) error
	IsLeader() bool
	Leader() (cluster.LeaderInfo, bool)
	Status() cluster.Status
	AppliedIndex() uint64
	CommitIndex() uint64
	Join(ctx context.Context, r cluster.JoinRequest) error
	Promote(ctx context.Context, id string) error
	RemoveNode(ctx context.Context, id string) error
}

// appConfig is what newApp needs.
type appConfig struct {
	Store    clusterStore
	Logger   *slog.Logger
	Registry prometheus.Registerer // HTTP metrics are registered here
	Gatherer prometheus.Gatherer   // served on /metrics; nil -> no /metrics route
	Clock    *clockChecker         // nil -> a fresh one

	// RequestTimeout bounds a proposal or read on this node (default 5s); a
	// forwarded request gets ForwardTimeout (default RequestTimeout + 2s).
	RequestTimeout time.Duration
	ForwardTimeout time.Duration
	// BodyLimit caps request bodies (default 1 MiB).
	BodyLimit int
}

// server holds what the route handlers share. Handlers live in one file per
// resource: cluster.go, attendances.go, audit.go, health.go.
type server struct {
	store     clusterStore
	selfID    string // this node's id
	log       *slog.Logger
	clock     *clockChecker
	reqTO     time.Duration
	fwdTO     time.Duration
	forwarder *fasthttp.Client     // leader forwarding
	peers     *http.Client         // short-timeout calls to other members
	keys      *keyCache            // API key hashes from local state (auth.go)
	routes    map[string]*routeRow // routeTable by "METHOD /path" (auth_routes.go)
	// complaints: the complaint search index of the protocol set in force
	complaints complaintIndexes
}

// newApp builds the HTTP API of one node.
func newApp(cfg appConfig) *fiber.App {
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
	s := &server{
		store:  cfg.Store,
		selfID: cfg.Store.Status().NodeID,
		log:    cfg.Logger,
		clock:  cfg.Clock,
		reqTO:  cfg.RequestTimeout,
		fwdTO:  cfg.ForwardTimeout,
		forwarder: &fasthttp.Client{
			Name:                "frontdoor-forwarder",
			MaxConnsPerHost:     512,
			ReadTimeout:         cfg.ForwardTimeout,
			WriteTimeout:        cfg.ForwardTimeout,
			MaxIdleConnDuration: 30 * time.Second,
			// A forwarded POST must not be re-sent by the client library:
			// only the caller may retry, with its Idempotency-Key.
			RetryIf: func(*fasthttp.Request) bool { return false },
		},
		peers:  &http.Client{Timeout: 750 * time.Millisecond},
		keys:   newKeyCache(cfg.Store),
		routes: routeIndex(),
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

	// Health and metrics are open and registered on the app itself; every
	// other route goes through the guard, which checks it against the
	// route table (auth_routes.go).
	s.registerHealth(app, cfg.Gatherer)
	root := s.guard(app, "")
	s.registerOpenAPI(root)
	s.registerWeb(root)
	v1 := root.Group("/v1")
	s.registerCluster(v1)
	s.registerKeys(v1)
	s.registerServices(v1)
	s.registerPatients(v1)
	s.registerRegistrations(v1)
	s.registerAttendances(v1)
	s.registerDispatches(v1) // rapid response dispatch (dispatch.go)
	s.registerAlerts(v1)     // alerts until acknowledged (alerts.go)
	s.registerAudit(v1)
	return app
}
