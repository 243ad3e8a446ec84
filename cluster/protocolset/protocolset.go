package protocolset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// Clinical protocols in the replicated state. The embedded protocol files
// enter the state at bootstrap as one protocols.load command (Apply never
// reads files); admins upload new versions (linted in the handler and again
// in Apply) and activate them deliberately. Triage inside Apply rebuilds a
// *triage.Set from the bytes in state, memoised by content hash.
//
// A "set" is a composition of files (file name -> content hash). The active
// set is the one new attendances start on; each attendance pins the set it
// started with (its SetKey), so an activation never changes the questions or
// the outcome of an attendance already in progress.
const (
	KindProtocolsLoad    cluster.Kind = "protocols.load"    // the embedded files, once (bootstrap)
	KindProtocolUpload   cluster.Kind = "protocol.upload"   // a new version of one protocol (admin), not yet active
	KindProtocolActivate cluster.Kind = "protocol.activate" // make an uploaded version the active one (admin)
)

// Key layout (see keys.go):
//
//	pv/b/<sha256>                 raw bytes of one protocol file
//	pv/v/<protocol id>/<version>  ProtocolVersion (version zero-padded)
//	pv/s/<set key>                ProtocolSetRecord: file name -> content hash
//	pv/active                     the set key new attendances start on
const (
	prefixProtocolBytes   = "pv/b/"
	prefixProtocolVersion = "pv/v/"
	prefixProtocolSet     = "pv/s/"
	keyProtocolActive     = "pv/active"
)

// ProtocolFile is one protocol file in a command payload.
type ProtocolFile struct {
	Name    string `json:"name"`    // e.g. chest-pain.yaml
	Content string `json:"content"` // the YAML
}

// ProtocolsLoad is the payload of KindProtocolsLoad.
type ProtocolsLoad struct {
	Files []ProtocolFile `json:"files"`
}

// ProtocolUpload is the payload of KindProtocolUpload.
type ProtocolUpload struct {
	Content string `json:"content"`
}

// ProtocolActivate is the payload of KindProtocolActivate.
type ProtocolActivate struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// ProtocolVersion describes one stored version of a protocol.
type ProtocolVersion struct {
	ID         string        `json:"id"`
	Version    int           `json:"version"`
	Kind       string        `json:"kind"`
	Title      string        `json:"title"`
	Synonyms   []string      `json:"synonyms,omitempty"`
	Hash       string        `json:"hash"` // hex sha256 of the file bytes
	File       string        `json:"file"`
	Active     bool          `json:"active"`
	UploadedAt time.Time     `json:"uploaded_at"`
	UploadedBy cluster.Actor `json:"uploaded_by"`
	Index      uint64        `json:"index"`
}

// ProtocolSetRecord is a composition of protocol files.
type ProtocolSetRecord struct {
	Key   string            `json:"key"`
	Files map[string]string `json:"files"` // file name -> content hash
}

// protocolLintError is a lint refusal: the *CommandError fields carry
// "file:line" -> message.
func protocolLintError(errs []triage.LintError) *cluster.CommandError {
	f := map[string]string{}
	for i, e := range errs {
		if i == 50 {
			break
		}
		k := fmt.Sprintf("%s:%d", e.File, e.Line)
		msg := e.Rule + ": " + e.Message
		if e.Hint != "" {
			msg += " (" + e.Hint + ")"
		}
		if old, ok := f[k]; ok {
			msg = old + "; " + msg
		}
		f[k] = msg
	}
	return &cluster.CommandError{Code: cluster.CodeInvalid, Message: fmt.Sprintf("the protocol set does not pass lint (%d problem(s))", len(errs)), Fields: f}
}

// Commands are this package's command kinds, for cluster.Config.Commands.
func Commands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindProtocolsLoad, Since: 1, Apply: applyProtocolsLoad},
		{Kind: KindProtocolUpload, Since: 1, Check: cluster.CheckOnly(checkProtocolUpload), Apply: applyProtocolUpload},
		{Kind: KindProtocolActivate, Since: 1, Apply: applyProtocolActivate},
	}
}

func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// setKeyOf is the key of a composition: sha256 over the sorted names and
// their content hashes.
func setKeyOf(files map[string]string) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(files[n]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func keyProtocolVersion(id string, version int) string {
	return fmt.Sprintf("%s%s/%06d", prefixProtocolVersion, id, version)
}

// storeSet writes the bytes and the composition record; it returns the set key.
func storeSet(tx *cluster.Tx, files map[string][]byte) (string, error) {
	comp := make(map[string]string, len(files))
	for n, b := range files {
		h := contentHash(b)
		comp[n] = h
		tx.PutRaw(prefixProtocolBytes+h, b)
	}
	key := setKeyOf(comp)
	return key, tx.Put(prefixProtocolSet+key, &ProtocolSetRecord{Key: key, Files: comp})
}

func putVersion(tx *cluster.Tx, p *triage.Protocol, active bool) error {
	v := ProtocolVersion{ID: p.ID, Version: p.Version, Kind: p.Kind, Title: p.Title, Synonyms: p.Synonyms,
		Hash: p.Hash, File: p.File, Active: active, UploadedAt: tx.Now(), UploadedBy: tx.Actor(), Index: tx.Index()}
	return tx.Put(keyProtocolVersion(p.ID, p.Version), &v)
}

func applyProtocolsLoad(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in ProtocolsLoad
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if _, found, err := tx.GetRaw(keyProtocolActive); err != nil {
		return nil, err
	} else if found {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "protocols are already loaded; upload and activate versions one by one"}
	}
	files := make(map[string][]byte, len(in.Files))
	for i, f := range in.Files {
		if f.Name == "" || strings.ContainsAny(f.Name, "/\\") {
			return nil, cluster.Invalid(map[string]string{fmt.Sprintf("files[%d].name", i): "must be a plain file name"})
		}
		files[f.Name] = []byte(f.Content)
	}
	set, err := buildSet(files)
	if err != nil {
		var le triage.LintErrors
		if errors.As(err, &le) {
			return nil, protocolLintError(le)
		}
		return nil, cluster.Invalid(map[string]string{"files": err.Error()})
	}
	key, err := storeSet(tx, files)
	if err != nil {
		return nil, err
	}
	setCachePut(key, set)
	tx.PutRaw(keyProtocolActive, []byte(key))
	all := append([]*triage.Protocol{set.Screen}, set.Presentations...)
	for _, p := range all {
		if err := putVersion(tx, p, true); err != nil {
			return nil, err
		}
	}
	tx.Audit("protocols.load", "protocols", map[string]any{"files": len(files), "set": key})
	return map[string]any{"protocols": len(all), "set": key}, nil
}

// protocolHeader is the part of a protocol file an upload needs before lint.
type protocolHeader struct {
	ID      string `yaml:"id"`
	Version int    `yaml:"version"`
}

// ParseProtocolHeader reads id and version from a protocol file (pure).
func ParseProtocolHeader(content []byte) (id string, version int, err error) {
	var h protocolHeader
	if err := yaml.Unmarshal(content, &h); err != nil {
		return "", 0, fmt.Errorf("not a YAML protocol file: %w", err)
	}
	if h.ID == "" || strings.ContainsAny(h.ID, "/\\ ") {
		return "", 0, fmt.Errorf("the file has no usable id")
	}
	if h.Version < 1 {
		return "", 0, fmt.Errorf("version must be a positive integer")
	}
	return h.ID, h.Version, nil
}

// activeComposition returns the active set's key and composition.
func activeComposition(txn cluster.Reader) (string, *ProtocolSetRecord, error) {
	kb, found, err := txn.GetRaw(keyProtocolActive)
	if err != nil || !found {
		return "", nil, err
	}
	var rec ProtocolSetRecord
	b, found, err := txn.GetRaw(prefixProtocolSet + string(kb))
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("protocol set %s missing", kb)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", nil, fmt.Errorf("decode protocol set: %w", err)
	}
	return string(kb), &rec, nil
}

// compositionBytes loads the bytes of every file of a composition.
func compositionBytes(txn cluster.Reader, rec *ProtocolSetRecord) (map[string][]byte, error) {
	out := make(map[string][]byte, len(rec.Files))
	for n, h := range rec.Files {
		b, found, err := txn.GetRaw(prefixProtocolBytes + h)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("protocol file %s (%s) missing", n, h)
		}
		out[n] = b
	}
	return out, nil
}

// fileOfProtocol is the file name holding protocol id in a composition:
// <id>.yaml (or .yml) as loaded at bootstrap, or <id>.yaml for a protocol
// new to the set.
func fileOfProtocol(rec *ProtocolSetRecord, id string) string {
	for _, n := range []string{id + ".yaml", id + ".yml"} {
		if _, ok := rec.Files[n]; ok {
			return n
		}
	}
	return id + ".yaml"
}

// candidateFiles is the active files with content in place of the file of
// its protocol: what an upload is linted against (handler and Apply).
func candidateFiles(txn cluster.Reader, id string, content []byte) (map[string][]byte, error) {
	_, rec, err := activeComposition(txn)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, ErrNoProtocols
	}
	files, err := compositionBytes(txn, rec)
	if err != nil {
		return nil, err
	}
	files[fileOfProtocol(rec, id)] = content
	return files, nil
}

var ErrNoProtocols = &cluster.CommandError{Code: cluster.CodeConflict, Message: "no protocols have been loaded"}

// CheckProtocolUpload lints content against the active set on a view (the
// handler's check before proposing). It returns the id and version, or a
// *CommandError.
func (v State) CheckProtocolUpload(content []byte) (string, int, error) {
	id, version, _, err := checkUpload(v.r, content)
	return id, version, err
}

// checkUpload parses the file's id and version, refuses a version that
// exists, and builds the active set with the file in place of its
// protocol's (one build: lint errors come back as file:line fields).
func checkUpload(txn cluster.Reader, content []byte) (string, int, *triage.Set, error) {
	id, version, err := ParseProtocolHeader(content)
	if err != nil {
		return "", 0, nil, cluster.Invalid(map[string]string{"content": err.Error()})
	}
	if _, found, err := txn.GetRaw(keyProtocolVersion(id, version)); err != nil {
		return "", 0, nil, err
	} else if found {
		return "", 0, nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: fmt.Sprintf("%s version %d already exists; give the new file a higher version", id, version),
			Fields: map[string]string{"version": "already exists"}}
	}
	files, err := candidateFiles(txn, id, content)
	if err != nil {
		return "", 0, nil, err
	}
	set, err := buildSet(files)
	if err != nil {
		var le triage.LintErrors
		if errors.As(err, &le) {
			return "", 0, nil, protocolLintError(le)
		}
		return "", 0, nil, cluster.Invalid(map[string]string{"content": err.Error()})
	}
	if _, ok := set.Protocol(id); !ok {
		return "", 0, nil, cluster.Invalid(map[string]string{"content": "the file does not define protocol " + id})
	}
	return id, version, set, nil
}

func applyProtocolUpload(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in ProtocolUpload
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	content := []byte(in.Content)
	id, version, set, err := checkUpload(tx, content)
	if err != nil {
		return nil, err
	}
	p, _ := set.Protocol(id)
	h := contentHash(content)
	tx.PutRaw(prefixProtocolBytes+h, content)
	if err := putVersion(tx, p, false); err != nil {
		return nil, err
	}
	tx.Audit("protocol.upload", "protocol/"+id, map[string]any{"version": version, "hash": h})
	var out ProtocolVersion
	_, err = tx.Get(keyProtocolVersion(id, version), &out)
	return &out, err
}

func applyProtocolActivate(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var in ProtocolActivate
	if err := cluster.DecodeStrict(raw, &in); err != nil {
		return nil, cluster.PayloadError(err)
	}
	if in.ID == "" || in.Version < 1 {
		return nil, cluster.Invalid(map[string]string{"version": "a protocol id and a positive version are required"})
	}
	var pv ProtocolVersion
	found, err := tx.Get(keyProtocolVersion(in.ID, in.Version), &pv)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: fmt.Sprintf("no %s version %d has been uploaded", in.ID, in.Version)}
	}
	_, rec, err := activeComposition(tx)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, ErrNoProtocols
	}
	files, err := compositionBytes(tx, rec)
	if err != nil {
		return nil, err
	}
	content, found, err := tx.GetRaw(prefixProtocolBytes + pv.Hash)
	if err != nil || !found {
		return nil, fmt.Errorf("protocol bytes %s: found %v: %v", pv.Hash, found, err)
	}
	name := fileOfProtocol(rec, in.ID)
	prevHash := rec.Files[name]
	files[name] = content
	set, err := buildSet(files)
	if err != nil {
		var le triage.LintErrors
		if errors.As(err, &le) {
			return nil, protocolLintError(le)
		}
		return nil, cluster.Invalid(map[string]string{"version": err.Error()})
	}
	key, err := storeSet(tx, files)
	if err != nil {
		return nil, err
	}
	setCachePut(key, set)
	tx.PutRaw(keyProtocolActive, []byte(key))
	// Flip the active flags of this protocol's versions.
	var versions []ProtocolVersion
	if err := tx.Scan(prefixProtocolVersion+in.ID+"/", "", func(_ string, v []byte) error {
		var x ProtocolVersion
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		versions = append(versions, x)
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range versions {
		x := &versions[i]
		want := x.Version == in.Version
		if x.Active != want {
			x.Active = want
			if err := tx.Put(keyProtocolVersion(x.ID, x.Version), x); err != nil {
				return nil, err
			}
		}
	}
	pv.Active = true
	tx.Audit("protocol.activate", "protocol/"+in.ID, map[string]any{"version": in.Version, "hash": pv.Hash, "previous_hash": prevHash, "set": key})
	return &pv, nil
}

// compositionKey is the set key of files (what storeSet would store).
func compositionKey(files map[string][]byte) string {
	comp := make(map[string]string, len(files))
	for n, b := range files {
		comp[n] = contentHash(b)
	}
	return setKeyOf(comp)
}

// buildSet is triage.NewSet memoised by composition: the handler's check,
// then every replica's Apply (several in one test process), then the
// activation of the same composition build it once. Content-keyed, so a
// hit is exactly what a build would return.
func buildSet(files map[string][]byte) (*triage.Set, error) {
	key := compositionKey(files)
	setCache.Lock()
	s, ok := setCache.m[key]
	setCache.Unlock()
	if ok {
		return s, nil
	}
	s, err := triage.NewSet(files)
	if err != nil {
		return nil, err
	}
	setCachePut(key, s)
	return s, nil
}

// setCache memoises built sets by set key (the content hash of their
// composition): a hit returns exactly what a rebuild would, so it is
// deterministic on every replica.
var setCache = struct {
	sync.Mutex
	order []string
	m     map[string]*triage.Set
}{m: map[string]*triage.Set{}}

const setCacheSize = 8

func setCachePut(key string, s *triage.Set) {
	setCache.Lock()
	defer setCache.Unlock()
	if _, ok := setCache.m[key]; ok {
		return
	}
	setCache.m[key] = s
	setCache.order = append(setCache.order, key)
	if len(setCache.order) > setCacheSize {
		delete(setCache.m, setCache.order[0])
		setCache.order = setCache.order[1:]
	}
}

// ReadSet builds (or finds in the cache) the set of a stored composition.
func ReadSet(txn cluster.Reader, key string) (*triage.Set, error) {
	setCache.Lock()
	s, ok := setCache.m[key]
	setCache.Unlock()
	if ok {
		return s, nil
	}
	b, found, err := txn.GetRaw(prefixProtocolSet + key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("protocol set %s missing", key)
	}
	var rec ProtocolSetRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode protocol set: %w", err)
	}
	files, err := compositionBytes(txn, &rec)
	if err != nil {
		return nil, err
	}
	s, err = triage.NewSet(files)
	if err != nil {
		// Every stored set passed lint when it was stored.
		return nil, fmt.Errorf("protocol set %s in state: %w", key, err)
	}
	setCachePut(key, s)
	return s, nil
}

// ActiveSet returns the active set and its key ("" and nil when none).
func ActiveSet(txn cluster.Reader) (string, *triage.Set, error) {
	kb, found, err := txn.GetRaw(keyProtocolActive)
	if err != nil || !found {
		return "", nil, err
	}
	s, err := ReadSet(txn, string(kb))
	return string(kb), s, err
}

// ActiveProtocolSet returns the active set (nil when none is loaded). The
// set is shared and immutable.
func (v State) ActiveProtocolSet() (*triage.Set, error) {
	_, s, err := ActiveSet(v.r)
	return s, err
}

// ProtocolVersions lists every stored version, by id then version.
func (v State) ProtocolVersions() ([]ProtocolVersion, error) {
	out := []ProtocolVersion{}
	out, err := cluster.ScanValues(v.r, prefixProtocolVersion, out)
	return out, err
}

// checkProtocolUpload is the leader's check of protocol.upload: the file
// lints against the active set and its version is new.
func checkProtocolUpload(r cluster.Reader, _ cluster.Actor, _ time.Time, raw json.RawMessage) error {
	var in ProtocolUpload
	if err := json.Unmarshal(raw, &in); err != nil {
		return cluster.PayloadError(err)
	}
	_, _, _, err := checkUpload(r, []byte(in.Content))
	return err
}
