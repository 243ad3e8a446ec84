package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
)

// keyRoutes are the route table's rows of access: who am I, API keys (routes.go).
func keyRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/whoami", Roles: rolesAll, Summary: "The key's holder and role", Handler: (*server).whoami},
		{Method: "POST", Path: "/v1/keys", Roles: rolesAdmin, Summary: "Create an API key (the secret is shown once)", Body: keyCreateBody{}, Kinds: []cluster.Kind{access.KindKeyCreate}, Handler: (*server).createKey},
		{Method: "GET", Path: "/v1/keys", Roles: rolesAdmin, Summary: "List API keys (never their secrets)", Query: []string{consistencyQuery}, Handler: (*server).listKeys},
		{Method: "DELETE", Path: "/v1/keys/:id", Roles: rolesAdmin, Summary: "Revoke an API key", Kinds: []cluster.Kind{access.KindKeyRevoke}, Handler: (*server).revokeKey},
	}
}

// keyCreateBody is the POST /v1/keys body. ServiceID scopes a responder
// key to one rapid_response team of the directory: it may then accept,
// decline and update only that team's dispatches. Without it a responder
// key acts for every team.
type keyCreateBody struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	ServiceID string `json:"service_id,omitempty"`
}

// KeyCreateBody is the POST /v1/keys body for clients (`frontdoor keys
// create`): an alias, so /openapi.json still names the schema
// keyCreateBody.
type KeyCreateBody = keyCreateBody

// KeyView is a key as the API shows it: never the hash, and the secret
// only in the response that created it.
type KeyView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Role      string         `json:"role"`
	ServiceID string         `json:"service_id,omitempty"` // a responder key's team; absent: every team
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy cluster.Actor  `json:"created_by"`
	Revoked   bool           `json:"revoked"`
	RevokedAt *time.Time     `json:"revoked_at,omitempty"`
	RevokedBy *cluster.Actor `json:"revoked_by,omitempty"`
	Index     uint64         `json:"index"`
	// Key is the secret, present only in the 201 that created the key.
	Key  string `json:"key,omitempty"`
	Note string `json:"note,omitempty"`
}

func renderKey(k *access.APIKey) KeyView {
	return KeyView{ID: k.ID, Name: k.Name, Role: k.Role, ServiceID: k.ServiceID, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		Revoked: k.Revoked, RevokedAt: k.RevokedAt, RevokedBy: k.RevokedBy, Index: k.CreatedIndex}
}

// keySecretPrefix makes keys recognisable in logs and secret scanners.
const keySecretPrefix = "fdk_"

// NewKeySecret returns a fresh API key: fdk_ + 256 random bits in hex.
func NewKeySecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("api key: %w", err)
	}
	return keySecretPrefix + hex.EncodeToString(b[:]), nil
}

func (s *server) whoami(c *fiber.Ctx) error {
	return c.JSON(actorFor(c))
}

// createKey: POST /v1/keys {name, role, service_id?} -> 201 with the key's secret, shown
// this once. Only its sha256 is proposed. A replay with the same
// Idempotency-Key returns the record without the secret (it was never
// stored).
func (s *server) createKey(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req keyCreateBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	secret, err := NewKeySecret()
	if err != nil {
		return err
	}
	payload := access.KeyCreate{Name: req.Name, Role: req.Role, ServiceID: req.ServiceID, Hash: access.HashKey(secret)}
	if f := payload.Validate(); f != nil {
		return invalid("the key is not valid", f)
	}
	p, err := proposal(c, access.KindKeyCreate, "POST /v1/keys", body)
	if err != nil {
		return err
	}
	if p.Payload, err = json.Marshal(payload); err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	var k access.APIKey
	if err := json.Unmarshal(res.Value, &k); err != nil {
		return err
	}
	out := renderKey(&k)
	if res.Replayed {
		out.Note = "replayed request: the key's secret was shown only in the first response"
	} else {
		out.Key = secret
		out.Note = "store this key now: it is shown once and the cluster keeps only its hash"
	}
	c.Location("/v1/keys/" + k.ID)
	return c.Status(http.StatusCreated).JSON(out)
}

// KeyList is the GET /v1/keys body.
type KeyList struct {
	Keys []KeyView `json:"keys"`
}

func (s *server) listKeys(c *fiber.Ctx) error {
	var keys []*access.APIKey
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		keys, err = access.In(v).APIKeys()
		return err
	})
	if handled || err != nil {
		return err
	}
	out := KeyList{Keys: make([]KeyView, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, renderKey(k))
	}
	return c.JSON(out)
}

// revokeKey: DELETE /v1/keys/:id -> 200 with the revoked key, once no
// member can accept it any more (keylease.go). It runs on the leader, which
// knows what its followers have confirmed: a follower forwards the request.
func (s *server) revokeKey(c *fiber.Ctx) error {
	if !s.store.IsLeader() && (c.Get(headerForwarded) == "" || (s.peerOnly && !fromPeer(c))) {
		return s.forward(c, true)
	}
	id := strings.Clone(c.Params("id"))
	res, handled, err := s.proposeJSON(c, access.KindKeyRevoke, "DELETE /v1/keys/"+id, access.KeyRevoke{ID: id})
	if handled || err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.fwdTO)
	defer cancel()
	if err := s.lease.awaitRevocation(ctx, res.Index); err != nil {
		return outcomeUnknown(fmt.Sprintf("key %s is revoked (index %d) but not every member has confirmed it yet; it is refused everywhere within %s", id, res.Index, s.lease.dur+keyLeaseMargin(s.lease.dur)))
	}
	var k access.APIKey
	if err := json.Unmarshal(res.Value, &k); err != nil {
		return err
	}
	out := renderKey(&k)
	out.Index = res.Index
	return c.JSON(out)
}
