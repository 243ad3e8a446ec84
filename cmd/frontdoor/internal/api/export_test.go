package api

import (
	"context"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// The names the external tests (package api_test, which runs a whole
// cluster through nodetest) need from this package. They exist only while
// testing.

const (
	HeaderForwarded      = headerForwarded
	HeaderIdempotencyKey = headerIdempotencyKey
	HeaderStale          = headerStale
	KeySecretPrefix      = keySecretPrefix

	ProblemBadRequest     = problemBadRequest
	ProblemConflict       = problemConflict
	ProblemForbidden      = problemForbidden
	ProblemIdempotency    = problemIdempotency
	ProblemInvalid        = problemInvalid
	ProblemNotAccepted    = problemNotAccepted
	ProblemNotFound       = problemNotFound
	ProblemOutcomeUnknown = problemOutcomeUnkown
	ProblemUnauthorized   = problemUnauthorized

	AccessKey = accessKey
	// Route scopes (routes.go).
	ScopeService = scopeService
	ScopeTeam    = scopeTeam
	AccessOpen   = accessOpen

	ForwardPath           = forwardPath
	HeaderForwardProtocol = headerForwardProtocol
)

type (
	RouteRow         = routeRow
	AlertList        = alertList
	CandidateList    = candidateList
	DirectoryBody    = directoryBody
	DispatchList     = dispatchList
	DispatchView     = dispatchView
	ExplainBody      = explainBody
	PracticeList     = practiceList
	ProtocolList     = protocolList
	QueueBody        = queueBody
	RegistrationList = registrationList
	ServiceList      = serviceList
)

var (
	RouteTable   = routeTable
	RowKey       = rowKey
	OpenAPIPath  = openAPIPath
	BuildOpenAPI = buildOpenAPI
	ExplainOf    = explainOf
	London       = london
	NewKeyCache  = newKeyCache
	DecodeResult = decodeResult
)

// EncodeForwarded is a POST /v1/cluster/forward body, as a follower (or
// someone forging one) sends it.
func EncodeForwarded(route, actorID string, kind cluster.Kind, idem *cluster.Idempotency, payload []byte) []byte {
	return encodeForwarded(&forwardedProposal{Route: route, ActorID: actorID, Kind: kind, Idempotency: idem, Payload: payload})
}

// Allows reports whether role may call the route.
func (r *routeRow) Allows(role string) bool { return r.allows(role) }

// Lookup is the key check of one request.
func (kc *keyCache) Lookup(ctx context.Context, hash string) (cluster.Actor, bool, error) {
	a, ok, _, err := kc.lookup(ctx, hash)
	return a, ok, err
}

// ForgetApplied makes the next Lookup re-check the access generation, as
// if the node had applied a write since the last one.
func (kc *keyCache) ForgetApplied() { kc.cur.Load().applied = 0 }
