package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

func (s *server) registerKeys(r fiber.Router) {
	r.Get("/whoami", s.whoami)
	r.Post("/keys", s.createKey)
	r.Get("/keys", s.listKeys)
	r.Delete("/keys/:id", s.revokeKey)
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

// keyView is a key as the API shows it: never the hash, and the secret
// only in the response that created it.
type keyView struct {
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

func renderKey(k *cluster.APIKey) keyView {
	return keyView{ID: k.ID, Name: k.Name, Role: k.Role, ServiceID: k.ServiceID, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		Revoked: k.Revoked, RevokedAt: k.RevokedAt, RevokedBy: k.RevokedBy, Index: k.CreatedIndex}
}

// keySecretPrefix makes keys recognisable in logs and secret scanners.
const keySecretPrefix = "fdk_"

// newKeySecret returns a fresh API key: fdk_ + 256 random bits in hex.
func newKeySecret() (string, error) {
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
	secret, err := newKeySecret()
	if err != nil {
		return err
	}
	payload := cluster.KeyCreate{Name: req.Name, Role: req.Role, ServiceID: req.ServiceID, Hash: cluster.HashKey(secret)}
	if f := payload.Validate(); f != nil {
		return invalid("the key is not valid", f)
	}
	if payload.ServiceID != "" {
		if err := s.localCheck(c, func(v *cluster.View) error {
			svc, err := v.Service(payload.ServiceID)
			if errors.Is(err, cluster.ErrNotFound) {
				svc, err = nil, nil
			}
			if err != nil {
				return err
			}
			if msg := cluster.ValidateKeyService(payload.ServiceID, svc); msg != "" {
				return invalid("the key is not valid", map[string]string{"service_id": msg})
			}
			return nil
		}); err != nil {
			return handledOK(err)
		}
	}
	p, err := proposal(c, cluster.KindKeyCreate, "POST /v1/keys", body)
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
	var k cluster.APIKey
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

// keyList is the GET /v1/keys body.
type keyList struct {
	Keys []keyView `json:"keys"`
}

func (s *server) listKeys(c *fiber.Ctx) error {
	var keys []*cluster.APIKey
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		keys, err = v.APIKeys()
		return err
	})
	if handled || err != nil {
		return err
	}
	out := keyList{Keys: make([]keyView, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, renderKey(k))
	}
	return c.JSON(out)
}

// revokeKey: DELETE /v1/keys/:id -> 200 with the revoked key.
func (s *server) revokeKey(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	res, handled, err := s.proposeJSON(c, cluster.KindKeyRevoke, "DELETE /v1/keys/"+id, cluster.KeyRevoke{ID: id})
	if handled || err != nil {
		return err
	}
	var k cluster.APIKey
	if err := json.Unmarshal(res.Value, &k); err != nil {
		return err
	}
	out := renderKey(&k)
	out.Index = res.Index
	return c.JSON(out)
}

// AdminKeyFile holds the bootstrap admin key in the first node's data dir.
const AdminKeyFile = "admin.key"

// proposer is what bootstrapping needs from the store.
type proposer interface {
	Propose(ctx context.Context, p cluster.Proposal) (*cluster.Result, error)
}

// bootstrapActor proposes the reference data of a new cluster.
var bootstrapActor = cluster.Actor{ID: "system", Name: "frontdoor bootstrap", Role: "system"}

// bootstrapAccess makes the first admin key of a new cluster: the secret is
// written to <dataDir>/admin.key (0600) before its hash is proposed (so a
// crash cannot leave a key nobody holds), printed once to out, and only
// the hash enters the replicated state. A cluster that already has keys
// refuses the bootstrap key (Apply decides); the file is then removed.
func bootstrapAccess(ctx context.Context, st proposer, dataDir string, out io.Writer) error {
	secret, err := newKeySecret()
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, AdminKeyFile)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	payload, err := json.Marshal(cluster.KeyCreate{Name: "bootstrap admin", Role: cluster.RoleAdmin,
		Hash: cluster.HashKey(secret), Bootstrap: true})
	if err != nil {
		return err
	}
	res, err := st.Propose(ctx, cluster.Proposal{Kind: cluster.KindKeyCreate, Actor: bootstrapActor, Payload: payload})
	if err != nil {
		return fmt.Errorf("propose the admin key: %w", err)
	}
	if res.Err != nil {
		_ = os.Remove(path)
		if res.Err.Code == cluster.CodeConflict {
			return nil
		}
		return fmt.Errorf("admin key: %w", res.Err)
	}
	fmt.Fprintf(out, "frontdoor: admin API key (shown once; also in %s, mode 0600):\n\n    %s\n\n", path, secret)
	fmt.Fprintf(out, "frontdoor: create keys for staff with: frontdoor keys create --role reception --name \"<holder>\" --data-dir %s\n", dataDir)
	return nil
}

// ReadKeyFile reads a key from a file such as admin.key.
func ReadKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", errors.New(path + " is empty")
	}
	return k, nil
}

// bootstrapReferenceData proposes what a new cluster starts with, once, on
// the bootstrapping node (serve.go calls it right after Bootstrap).
func bootstrapReferenceData(ctx context.Context, st proposer, dataDir string, out io.Writer) error {
	if err := bootstrapAccess(ctx, st, dataDir, out); err != nil {
		return err
	}
	return bootstrapDirectory(ctx, st)
}
