package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Access: API keys. Only the sha256 of a key's secret enters the replicated
// state; the secret is shown once to whoever created it. Each key is named
// after the person or system that holds it and carries one role.
const (
	KindKeyCreate cluster.Kind = "key.create"
	KindKeyRevoke cluster.Kind = "key.revoke"
)

// Roles a key can carry. Admin may call every route.
const (
	RoleReception = "reception"
	RoleClinician = "clinician"
	RoleNHS111    = "nhs111"
	RoleResponder = "responder"
	RoleAdmin     = "admin"
)

// Roles lists every role, in the order the README table shows them.
var Roles = []string{RoleReception, RoleClinician, RoleNHS111, RoleResponder, RoleAdmin}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Key layout (see keys.go):
//
//	k/id/<key id>        APIKey
//	k/hash/<sha256 hex>  key id of the key with that hash
//	k/gen                raft index of the last key change (decimal)
const (
	prefixKeyID   = "k/id/"
	prefixKeyHash = "k/hash/"
	keyKeyGen     = "k/gen"
)

// APIKey is one API key as the replicated state holds it: never the secret.
type APIKey struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Role         string         `json:"role"`
	ServiceID    string         `json:"service_id,omitempty"` // the service it acts for (see KeyCreate)
	Hash         string         `json:"hash"`                 // hex sha256 of the secret
	CreatedAt    time.Time      `json:"created_at"`
	CreatedBy    cluster.Actor  `json:"created_by"`
	CreatedIndex uint64         `json:"created_index"`
	Revoked      bool           `json:"revoked,omitempty"`
	RevokedAt    *time.Time     `json:"revoked_at,omitempty"`
	RevokedBy    *cluster.Actor `json:"revoked_by,omitempty"`
	RevokedIndex uint64         `json:"revoked_index,omitempty"`
}

// Actor is who a request made with this key acts as.
func (k *APIKey) Actor() cluster.Actor {
	return cluster.Actor{ID: k.ID, Name: k.Name, Role: k.Role, ServiceID: k.ServiceID}
}

// KeyCreate is the payload of KindKeyCreate. The HTTP layer generates the
// secret and proposes only its hash. Bootstrap marks the first admin key of
// a new cluster: it is refused once any key exists, so a retried or
// duplicated bootstrap can never leave two. ServiceID scopes a key to one
// service's staff: a responder key to one rapid response team (it reads,
// follows, accepts, declines and updates only that team's dispatches and
// sets only that team's status), a reception or clinician key (logic
// version 8) to the service whose status it may set. A key without one
// sets no service's status; an unscoped responder key still acts on any
// team's dispatches (as every responder key did before scopes existed).
type KeyCreate struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	ServiceID string `json:"service_id,omitempty"`
	Hash      string `json:"hash"`
	Bootstrap bool   `json:"bootstrap,omitempty"`
}

// KeyRevoke is the payload of KindKeyRevoke.
type KeyRevoke struct {
	ID string `json:"id"`
}

const maxKeyNameLen = 100

// ValidateKeyName checks a key holder's name (shared by the HTTP layer).
func ValidateKeyName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "required: the person or system holding the key"
	case len(name) > maxKeyNameLen:
		return "at most 100 characters"
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "must be printable text"
		}
	}
	return ""
}

// Validate returns field errors (nil when valid); pure, so the HTTP layer
// and Apply run the same check.
func (k *KeyCreate) Validate() map[string]string { return k.validateAt(cluster.LogicVersion) }

// validateAt is Validate as the decision code of logic version v made it.
func (k *KeyCreate) validateAt(v int) map[string]string {
	f := map[string]string{}
	if msg := ValidateKeyName(k.Name); msg != "" {
		f["name"] = msg
	}
	if !ValidRole(k.Role) {
		f["role"] = "must be one of " + strings.Join(Roles, ", ")
	}
	if !isHexSHA256(k.Hash) {
		f["hash"] = "must be a lowercase hex sha256"
	}
	if k.Bootstrap && k.Role != RoleAdmin {
		f["role"] = "the bootstrap key must be an admin key"
	}
	switch {
	case k.ServiceID == "":
	case v < ScopeSince && k.Role != RoleResponder:
		f["service_id"] = "only a responder key can be scoped to a service"
	case !ScopedRole(k.Role):
		f["service_id"] = "only a reception, clinician or responder key can be scoped to a service"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// ScopedRole reports whether a key of role r may be scoped to a service:
// the roles of a service's own staff. Admin keys act for every service and
// NHS 111 keys for none.
func ScopedRole(r string) bool {
	return r == RoleReception || r == RoleClinician || r == RoleResponder
}

// ValidateKeyService checks a key's service scope against the service of
// that id in the directory (nil: no such service); "" when valid. A
// responder key's service must be a rapid response team. The HTTP layer
// asks it against the leader's state, Apply against the state the command
// applies to.
func ValidateKeyService(role, id string, svc *routing.Service) string {
	switch {
	case svc == nil:
		return "no service " + id + " in the directory"
	case role == RoleResponder && svc.Tier != routing.TierRapidResponse:
		return "service " + id + " is " + string(svc.Tier) + ", not a rapid_response team"
	}
	return ""
}

// ScopeSince is the logic version from which reception and clinician keys
// may carry a service scope (before it only responder keys could).
const ScopeSince = 8

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CodeForbidden: the proposing key may not make this change (revoked, or
// not an admin key) by the time the command applies.
const CodeForbidden = "forbidden"

// requireAdminKey checks, against the state the command applies to, that
// the proposer is an active admin key: the HTTP guard checked it on the
// node's local copy, and a revocation may have applied since. Key
// management is decided here so a revoked admin key can never make or
// revoke keys, however the requests race.
func requireAdminKey(tx *cluster.Tx) error {
	a := tx.Actor()
	var k APIKey
	found, err := tx.Get(prefixKeyID+a.ID, &k)
	if err != nil {
		return err
	}
	if !found || k.Revoked || k.Role != RoleAdmin {
		return &cluster.CommandError{Code: CodeForbidden, Message: "only an active admin key may manage API keys"}
	}
	return nil
}

// HashKey is the hash under which a key secret is stored and looked up.
func HashKey(secret string) string { return cluster.HashToken(secret) }

// Commands are this package's command kinds, for cluster.Config.Commands.
func Commands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindKeyCreate, Since: 1, IDs: 1, Check: cluster.CheckOnly(checkKeyCreate), Apply: applyKeyCreate},
		{Kind: KindKeyRevoke, Since: 1, Apply: applyKeyRevoke},
	}
}

func applyKeyCreate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in KeyCreate
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, &cluster.CommandError{Code: cluster.CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	if f := in.validateAt(tx.LogicVersion()); f != nil {
		return nil, cluster.Invalid(f)
	}
	if !in.Bootstrap {
		if err := requireAdminKey(tx); err != nil {
			return nil, err
		}
	}
	if in.Bootstrap {
		exists := false
		if err := tx.Scan(prefixKeyID, "", func(string, []byte) error { exists = true; return nil }); err != nil {
			return nil, err
		}
		if exists {
			return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the cluster already has API keys; the bootstrap admin key is made once"}
		}
	}
	if in.ServiceID != "" {
		var svc routing.Service
		found, err := tx.Get(directory.PrefixService+in.ServiceID, &svc)
		if err != nil {
			return nil, err
		}
		p := &svc
		if !found {
			p = nil
		}
		if msg := ValidateKeyService(in.Role, in.ServiceID, p); msg != "" {
			return nil, cluster.Invalid(map[string]string{"service_id": msg})
		}
	}
	if _, found, err := tx.GetRaw(prefixKeyHash + in.Hash); err != nil {
		return nil, err
	} else if found {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "a key with this hash exists", Fields: map[string]string{"hash": "already in use"}}
	}
	id, err := tx.NewID()
	if err != nil {
		return nil, err
	}
	k := &APIKey{ID: id, Name: in.Name, Role: in.Role, ServiceID: in.ServiceID, Hash: in.Hash, CreatedAt: tx.Now(), CreatedBy: tx.Actor(), CreatedIndex: tx.Index()}
	b, err := tx.PutJSON(prefixKeyID+id, k)
	if err != nil {
		return nil, err
	}
	tx.PutRaw(prefixKeyHash+in.Hash, []byte(id))
	tx.PutRaw(keyKeyGen, []byte(strconv.FormatUint(tx.Index(), 10)))
	ev := map[string]any{"name": k.Name, "role": k.Role, "bootstrap": in.Bootstrap}
	if k.ServiceID != "" {
		ev["service_id"] = k.ServiceID
	}
	tx.Audit("key.create", "key/"+id, ev)
	return b, nil
}

func applyKeyRevoke(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in KeyRevoke
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, &cluster.CommandError{Code: cluster.CodeInvalid, Message: fmt.Sprintf("payload: %v", err)}
	}
	if in.ID == "" {
		return nil, cluster.Invalid(map[string]string{"id": "required"})
	}
	if err := requireAdminKey(tx); err != nil {
		return nil, err
	}
	var k APIKey
	found, err := tx.Get(prefixKeyID+in.ID, &k)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no API key " + in.ID}
	}
	if k.Revoked {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "key " + in.ID + " is already revoked"}
	}
	if k.Role == RoleAdmin {
		admins := 0
		err := tx.Scan(prefixKeyID, "", func(_ string, val []byte) error {
			var o APIKey
			if err := json.Unmarshal(val, &o); err != nil {
				return err
			}
			if o.Role == RoleAdmin && !o.Revoked {
				admins++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if admins <= 1 {
			return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "the last active admin key cannot be revoked; create another admin key first"}
		}
	}
	now, by := tx.Now(), tx.Actor()
	k.Revoked, k.RevokedAt, k.RevokedBy, k.RevokedIndex = true, &now, &by, tx.Index()
	b, err := tx.PutJSON(prefixKeyID+k.ID, &k)
	if err != nil {
		return nil, err
	}
	tx.Delete(prefixKeyHash + k.Hash)
	tx.PutRaw(keyKeyGen, []byte(strconv.FormatUint(tx.Index(), 10)))
	tx.Audit("key.revoke", "key/"+k.ID, map[string]string{"name": k.Name, "role": k.Role})
	return b, nil
}

// APIKeys lists every key (revoked ones too) in order of creation.
func (v State) APIKeys() ([]*APIKey, error) {
	var out []*APIKey
	err := v.r.Scan(prefixKeyID, "", func(key string, val []byte) error {
		var k APIKey
		if err := json.Unmarshal(val, &k); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		out = append(out, &k)
		return nil
	})
	return out, err
}

// APIKey returns one key (ErrNotFound).
func (v State) APIKey(id string) (*APIKey, error) {
	var k APIKey
	if err := v.get(prefixKeyID+id, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// AccessGeneration is the raft index of the last key change (0: none yet).
// A cache of active keys built at generation g stays valid while this
// returns g.
func (v State) AccessGeneration() (uint64, error) {
	b, ok, err := v.r.GetRaw(keyKeyGen)
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseUint(string(b), 10, 64)
}

// checkKeyCreate is the leader's check of key.create: a scoped key's
// service is in the directory (a rapid response team for a responder key).
func checkKeyCreate(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in KeyCreate
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	if in.ServiceID == "" {
		return nil
	}
	svc, err := directory.In(r).Service(in.ServiceID)
	if errors.Is(err, cluster.ErrNotFound) {
		svc, err = nil, nil
	}
	if err != nil {
		return err
	}
	if msg := ValidateKeyService(in.Role, in.ServiceID, svc); msg != "" {
		return cluster.Invalid(map[string]string{"service_id": msg})
	}
	return nil
}
