package directory

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Reference data: the service directory and GP practices live in the
// replicated state, one record each, and change only through commands. The
// demo directory enters at bootstrap as one directory.load command (Apply
// never reads files). Routing decisions inside Apply rebuild a
// *routing.Directory from these records (DirectoryFromState) and the load
// from the slot records (LoadAt).
const (
	KindDirectoryLoad   cluster.Kind = "directory.load"          // the whole directory, once (bootstrap)
	KindServicePut      cluster.Kind = "service.put"             // create or replace one service (admin)
	KindServiceStatus   cluster.Kind = "service.status"          // RAG status and capacity (a service's staff)
	KindServiceExcept   cluster.Kind = "service.exception"       // a date's opening exception (admin)
	KindBankHolidaysSet cluster.Kind = "directory.bank_holidays" // extra bank holidays (admin)
)

// Key layout (see keys.go):
//
//	sx/directory                          directory header (name, centre, postcodes, extra bank holidays)
//	sx/gen                                raft index of the last directory change (decimal)
//	s/<service id>                        routing.Service
//	pr/<ods code>                         routing.Practice
//	sl/t/<session start>/<service>/<att>  SlotRecord of a booked slot, by session start
//	sl/s/<service>/<session start>/<att>  (empty) the same, by service
//	sl/p/<service>/<att>                  SlotRecord of an occupied concurrent place
const (
	keyDirectory    = "sx/directory"
	keyPostcodes    = "sx/postcodes" // an imported postcode table (import.go)
	keyDirectoryGen = "sx/gen"
	PrefixService   = "s/"
	prefixPractice  = "pr/"
	prefixSlotTime  = "sl/t/"
	prefixSlotSvc   = "sl/s/"
	prefixSlotPlace = "sl/p/"
)

// DirectoryHeader is the directory minus its services and practices.
type DirectoryHeader struct {
	Name           string                    `json:"name"`
	CentrePostcode string                    `json:"centre_postcode"`
	Postcodes      map[string]routing.LatLon `json:"postcodes,omitempty"`
	// PostcodesSHA256, once an import has run, is the hash of the postcode
	// table kept apart under keyPostcodes (Postcodes then empty): an
	// imported area holds tens of thousands of postcodes, and the header
	// is read and hashed by every routing decision (ReadDirectory), the
	// table only when the directory is built anew.
	PostcodesSHA256   string   `json:"postcodes_sha256,omitempty"`
	ExtraBankHolidays []string `json:"extra_bank_holidays,omitempty"`
	UpdatedIndex      uint64   `json:"updated_index"`
}

// ServiceStatus is the payload of KindServiceStatus: what a service's staff
// say about it now. Places, when set, replaces the concurrent capacity.
type ServiceStatus struct {
	ServiceID         string `json:"service_id"`
	Status            string `json:"status"`
	ResetAfterMinutes int    `json:"reset_after_minutes,omitempty"`
	Places            *int   `json:"places,omitempty"`
	Note              string `json:"note,omitempty"`
}

// ServiceException is the payload of KindServiceExcept: the sessions of one
// date (none: closed that day), or Remove to drop the date's exception.
type ServiceException struct {
	ServiceID string            `json:"service_id"`
	Date      string            `json:"date"`
	Sessions  []routing.Session `json:"sessions,omitempty"`
	Note      string            `json:"note,omitempty"`
	Remove    bool              `json:"remove,omitempty"`
}

// BankHolidays is the payload of KindBankHolidaysSet: dates (YYYY-MM-DD)
// treated as bank holidays besides England's.
type BankHolidays struct {
	Dates []string `json:"dates"`
}

// SlotRecord is one slot or place taken by an attendance.
type SlotRecord struct {
	ServiceID    string    `json:"service_id"`
	Kind         string    `json:"kind"` // slots | places
	SessionStart time.Time `json:"session_start"`
	SessionEnd   time.Time `json:"session_end"`
	AttendanceID string    `json:"attendance_id"`
	Index        uint64    `json:"index"`
	At           time.Time `json:"at"`
}

// Allocation is the routing allocation this record stands for.
func (r *SlotRecord) Allocation() routing.Allocation {
	return routing.Allocation{ServiceID: r.ServiceID, Kind: r.Kind, SessionStart: r.SessionStart, SessionEnd: r.SessionEnd}
}

// DatePattern is a calendar date as the API writes it (YYYY-MM-DD).
var DatePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// MaxTextLen bounds every free-text field (names, notes, reasons).
const MaxTextLen = 500

// Commands are this package's command kinds, for cluster.Config.Commands.
func Commands() []cluster.Command {
	return []cluster.Command{
		{Kind: KindDirectoryLoad, Since: 1, Apply: applyDirectoryLoad},
		{Kind: KindServicePut, Since: 1, Apply: applyServicePut},
		{Kind: KindServiceStatus, Since: 1, Apply: applyServiceStatus},
		{Kind: KindServiceExcept, Since: 1, Apply: applyServiceException},
		{Kind: KindBankHolidaysSet, Since: 1, Apply: applyBankHolidays},
		{Kind: KindWebhookAllowList, Since: WebhookRulesSince, Apply: applyWebhookAllowList},
		{Kind: KindDirectoryImport, Since: ImportSince, Apply: applyDirectoryImport},
	}
}

// ErrNoDirectory is the CommandError of a decision that needs the service
// directory before one was loaded.
var ErrNoDirectory = &cluster.CommandError{Code: cluster.CodeConflict, Message: "no service directory has been loaded"}

func applyDirectoryLoad(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var d routing.Directory
	if err := cluster.DecodeStrict(raw, &d); err != nil {
		return nil, cluster.PayloadError(err)
	}
	validate := d.ValidateStructure
	if tx.LogicVersion() >= CareNeedsSince {
		validate = d.Validate // care needs in the vocabulary
	}
	if err := validate(); err != nil {
		return nil, cluster.Invalid(map[string]string{"directory": err.Error()})
	}
	if tx.LogicVersion() >= WebhookRulesSince {
		if f := checkDirectoryWebhooks(&d); f != nil {
			return nil, cluster.Invalid(f)
		}
	}
	if _, found, err := tx.GetRaw(keyDirectory); err != nil {
		return nil, err
	} else if found {
		return nil, &cluster.CommandError{Code: cluster.CodeConflict, Message: "a directory is already loaded; change services one by one"}
	}
	h := DirectoryHeader{Name: d.Name, CentrePostcode: d.CentrePostcode, Postcodes: d.Postcodes,
		ExtraBankHolidays: d.ExtraBankHolidays, UpdatedIndex: tx.Index()}
	if err := tx.Put(keyDirectory, h); err != nil {
		return nil, err
	}
	for i := range d.Services {
		if err := tx.Put(PrefixService+d.Services[i].ID, &d.Services[i]); err != nil {
			return nil, err
		}
	}
	for i := range d.Practices {
		if err := tx.Put(prefixPractice+d.Practices[i].ODSCode, &d.Practices[i]); err != nil {
			return nil, err
		}
	}
	if d.WebhookAllowList != nil {
		n := d.WebhookAllowList.Normalised()
		if err := tx.Put(keyWebhookAllowList, &n); err != nil {
			return nil, err
		}
		tx.Audit("webhook.allowlist", AllowListAuditEntity, map[string]any{"hosts": n.Hosts, "cidrs": n.CIDRs, "at": "directory.load"})
	}
	touchDirectory(tx)
	tx.Audit("directory.load", "directory", map[string]any{"name": d.Name, "services": len(d.Services), "practices": len(d.Practices)})
	return map[string]any{"name": d.Name, "services": len(d.Services), "practices": len(d.Practices)}, nil
}

func touchDirectory(tx *cluster.Tx) {
	tx.PutRaw(keyDirectoryGen, []byte(strconv.FormatUint(tx.Index(), 10)))
}

// ValidateServiceChange checks that dir stays a valid directory with svc
// put in place of the service of the same id (or added), and that every
// care need svc provides is in routing's vocabulary. Pure: the HTTP layer
// runs it on a local read, Apply on the current state.
func ValidateServiceChange(dir *routing.Directory, svc *routing.Service) map[string]string {
	return validateServiceChange(dir, svc, true)
}

// validateServiceChange is ValidateServiceChange; vocabulary false leaves
// svc's care needs unchecked (entries before logic version 4, and a date's
// exception, which changes no provision).
func validateServiceChange(dir *routing.Directory, svc *routing.Service, vocabulary bool) map[string]string {
	f := map[string]string{}
	if vocabulary {
		if unknown := routing.UnknownCareNeeds(svc); len(unknown) > 0 {
			f["provides"] = "not care needs in the vocabulary (routing.CareNeeds, protocols/FORMAT.md): " + strings.Join(unknown, ", ")
		}
	}
	if strings.TrimSpace(svc.ID) == "" {
		f["id"] = "required"
	}
	if strings.TrimSpace(svc.Name) == "" {
		f["name"] = "required"
	}
	if svc.Tier.Rank() < 0 {
		f["tier"] = "must be one of self_care, pharmacy, gp, rapid_response, ed"
	}
	if svc.Postcode == "" {
		f["postcode"] = "required"
	}
	if len(f) > 0 {
		return f
	}
	if dir == nil {
		return nil
	}
	c := withService(dir, svc)
	if err := c.ValidateStructure(); err != nil {
		f["service"] = strings.TrimPrefix(err.Error(), routing.ErrInvalidDirectory.Error()+": ")
	}
	if len(f) > 0 {
		return f
	}
	return nil
}

// withService returns a shallow copy of dir with svc replacing (or added
// to) its services.
func withService(dir *routing.Directory, svc *routing.Service) *routing.Directory {
	c := &routing.Directory{Name: dir.Name, CentrePostcode: dir.CentrePostcode, Practices: dir.Practices,
		Postcodes: dir.Postcodes, ExtraBankHolidays: dir.ExtraBankHolidays}
	c.Services = make([]routing.Service, 0, len(dir.Services)+1)
	replaced := false
	for _, s := range dir.Services {
		if s.ID == svc.ID {
			s = *svc
			replaced = true
		}
		c.Services = append(c.Services, s)
	}
	if !replaced {
		c.Services = append(c.Services, *svc)
	}
	return c
}

func applyServicePut(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	var svc routing.Service
	if err := cluster.DecodeStrict(raw, &svc); err != nil {
		return nil, cluster.PayloadError(err)
	}
	dir, err := DirectoryFromState(tx)
	if err != nil {
		return nil, err
	}
	var old routing.Service
	existed, err := tx.Get(PrefixService+svc.ID, &old)
	if err != nil {
		return nil, err
	}
	if existed && svc.Webhook != nil && old.Webhook != nil && svc.Webhook.Secret == "" && svc.Webhook.URL == old.Webhook.URL {
		svc.Webhook.Secret = old.Webhook.Secret // the API never shows secrets; keep the stored one
	}
	if tx.LogicVersion() >= WebhookRulesSince {
		allow, err := In(tx).WebhookAllowList()
		if err != nil {
			return nil, err
		}
		if f := CheckWebhook(&svc, allow); f != nil {
			return nil, cluster.Invalid(f)
		}
	}
	if f := validateServiceChange(dir, &svc, tx.LogicVersion() >= CareNeedsSince); f != nil {
		return nil, cluster.Invalid(f)
	}
	b, err := tx.PutJSON(PrefixService+svc.ID, &svc)
	if err != nil {
		return nil, err
	}
	touchDirectory(tx)
	tx.Audit("service.put", "service/"+svc.ID, map[string]any{"created": !existed, "tier": svc.Tier})
	return b, nil
}

// Validate checks a status change (pure).
func (s *ServiceStatus) Validate() map[string]string {
	f := map[string]string{}
	switch routing.Status(s.Status) {
	case routing.StatusGreen, routing.StatusAmber, routing.StatusRed:
	default:
		f["status"] = "must be green, amber or red"
	}
	if s.ResetAfterMinutes < 0 || s.ResetAfterMinutes > 7*24*60 {
		f["reset_after_minutes"] = "must be between 0 and 10080"
	}
	if s.Places != nil && (*s.Places < 0 || *s.Places > 10000) {
		f["places"] = "must be between 0 and 10000"
	}
	if len(s.Note) > MaxTextLen {
		f["note"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// StatusScopeSince is the logic version from which a service's status is
// set only by an admin key or a key scoped to that service.
const StatusScopeSince = 8

// roleAdmin is access.RoleAdmin (access imports this package).
const roleAdmin = "admin"

// codeForbidden is access.CodeForbidden.
const codeForbidden = "forbidden"

// CanSetStatus is the least-privilege rule of service.status: an admin key
// sets any service's status; any other key only the status of the service
// it is scoped to (its Actor's ServiceID: the service's own staff). A key
// without a scope sets none. Apply decides it, on the scope the key's
// Actor carries in the command.
func CanSetStatus(a cluster.Actor, serviceID string) *cluster.CommandError {
	switch {
	case a.Role == roleAdmin:
		return nil
	case a.ServiceID == "":
		return &cluster.CommandError{Code: codeForbidden, Message: fmt.Sprintf(
			"only an admin key or a key scoped to service %s may set its status; this key is scoped to no service", serviceID)}
	case a.ServiceID != serviceID:
		return &cluster.CommandError{Code: codeForbidden, Message: fmt.Sprintf(
			"this key acts only for service %s, not %s", a.ServiceID, serviceID)}
	}
	return nil
}

func applyServiceStatus(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[ServiceStatus](raw)
	if err != nil {
		return nil, err
	}
	if tx.LogicVersion() >= StatusScopeSince {
		if cerr := CanSetStatus(tx.Actor(), in.ServiceID); cerr != nil {
			return nil, cerr
		}
	}
	var svc routing.Service
	found, err := tx.Get(PrefixService+in.ServiceID, &svc)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no service " + in.ServiceID}
	}
	if in.Places != nil && svc.Capacity.Kind != routing.CapacityPlaces {
		return nil, cluster.Invalid(map[string]string{"places": "the service's capacity is not counted in places"})
	}
	svc.RAG = routing.RAG{Status: routing.Status(in.Status), SetAt: tx.Now().Format(time.RFC3339),
		ResetAfterMinutes: in.ResetAfterMinutes, SetBy: tx.Actor().Name}
	if in.Places != nil {
		svc.Capacity.Places = *in.Places
	}
	b, err := tx.PutJSON(PrefixService+svc.ID, &svc)
	if err != nil {
		return nil, err
	}
	touchDirectory(tx)
	details := map[string]any{"status": in.Status, "reset_after_minutes": in.ResetAfterMinutes, "note": in.Note}
	if in.Places != nil {
		details["places"] = *in.Places
	}
	tx.Audit("service.status", "service/"+svc.ID, details)
	return b, nil
}

// Validate checks an exception's shape (pure); the sessions are checked
// against routing's rules in Apply and by the HTTP layer.
func (e *ServiceException) Validate() map[string]string {
	f := map[string]string{}
	if !DatePattern.MatchString(e.Date) {
		f["date"] = "must be YYYY-MM-DD"
	} else if _, err := time.Parse("2006-01-02", e.Date); err != nil {
		f["date"] = "not a calendar date"
	}
	if e.Remove && len(e.Sessions) > 0 {
		f["sessions"] = "must be empty when remove is true"
	}
	if len(e.Note) > MaxTextLen {
		f["note"] = "too long"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// apply returns svc with e applied (exceptions kept sorted by date).
func (e *ServiceException) apply(svc routing.Service) routing.Service {
	out := make([]routing.DateException, 0, len(svc.Exceptions)+1)
	for _, x := range svc.Exceptions {
		if x.Date != e.Date {
			out = append(out, x)
		}
	}
	if !e.Remove {
		out = append(out, routing.DateException{Date: e.Date, Sessions: e.Sessions, Note: e.Note})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	svc.Exceptions = out
	return svc
}

func applyServiceException(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[ServiceException](raw)
	if err != nil {
		return nil, err
	}
	var svc routing.Service
	found, err := tx.Get(PrefixService+in.ServiceID, &svc)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &cluster.CommandError{Code: cluster.CodeNotFound, Message: "no service " + in.ServiceID}
	}
	svc = in.apply(svc)
	dir, err := DirectoryFromState(tx)
	if err != nil {
		return nil, err
	}
	if f := validateServiceChange(dir, &svc, false); f != nil {
		if msg, ok := f["service"]; ok {
			return nil, cluster.Invalid(map[string]string{"sessions": msg})
		}
		return nil, cluster.Invalid(f)
	}
	b, err := tx.PutJSON(PrefixService+svc.ID, &svc)
	if err != nil {
		return nil, err
	}
	touchDirectory(tx)
	tx.Audit("service.exception", "service/"+svc.ID, map[string]any{"date": in.Date, "sessions": len(in.Sessions), "remove": in.Remove, "note": in.Note})
	return b, nil
}

// Validate checks the dates (pure).
func (b *BankHolidays) Validate() map[string]string {
	for i, d := range b.Dates {
		if !DatePattern.MatchString(d) {
			return map[string]string{fmt.Sprintf("dates[%d]", i): "must be YYYY-MM-DD"}
		}
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return map[string]string{fmt.Sprintf("dates[%d]", i): "not a calendar date"}
		}
	}
	if len(b.Dates) > 366 {
		return map[string]string{"dates": "at most 366 dates"}
	}
	return nil
}

func applyBankHolidays(tx *cluster.Tx, raw json.RawMessage) (any, error) {
	in, err := cluster.DecodeCommand[BankHolidays](raw)
	if err != nil {
		return nil, err
	}
	var h DirectoryHeader
	found, err := tx.Get(keyDirectory, &h)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNoDirectory
	}
	dates := append([]string{}, in.Dates...)
	sort.Strings(dates)
	uniq := dates[:0]
	for i, d := range dates {
		if i == 0 || d != dates[i-1] {
			uniq = append(uniq, d)
		}
	}
	h.ExtraBankHolidays = uniq
	h.UpdatedIndex = tx.Index()
	b, err := tx.PutJSON(keyDirectory, &h)
	if err != nil {
		return nil, err
	}
	touchDirectory(tx)
	tx.Audit("directory.bank_holidays", "directory", map[string]any{"dates": uniq})
	return b, nil
}

// dirCache memoises directories by the hash of the records they were built
// from, so consecutive routing decisions do not decode and index the same
// directory again. The key is the content, not an index or a node, so a
// hit returns exactly what a rebuild would: deterministic on every
// replica, and safe with several clusters in one test process.
var dirCache = struct {
	sync.Mutex
	order []string
	m     map[string]*routing.Directory
}{m: map[string]*routing.Directory{}}

const dirCacheSize = 8

// directoryPrefixes are the keys the directory is built from.
var directoryPrefixes = []string{keyDirectory, keyPostcodes, PrefixService, prefixPractice}

// ReadDirectory builds the directory from one Badger transaction (the
// batch transaction inside Apply, a read transaction in a View). It
// returns nil without error when no directory has been loaded. The result
// is shared: callers must not modify it. Inside Apply it is built once and
// reused until a command changes the directory (Tx.Derived): reading and
// hashing every service record for every routing decision was a twelfth
// of a walk-in's Apply.
func ReadDirectory(txn cluster.Reader) (*routing.Directory, error) {
	tx, ok := txn.(*cluster.Tx)
	if !ok {
		return readDirectory(txn)
	}
	v, err := tx.Derived("directory", directoryPrefixes, func() (any, error) { return readDirectory(tx) })
	if err != nil {
		return nil, err
	}
	return v.(*routing.Directory), nil
}

func readDirectory(txn cluster.Reader) (*routing.Directory, error) {
	hb, found, err := txn.GetRaw(keyDirectory)
	if err != nil || !found {
		return nil, err
	}
	sum := sha256.New()
	sum.Write(hb)
	var services, practices [][]byte
	if err := txn.Scan(PrefixService, "", func(_ string, v []byte) error {
		services = append(services, v)
		sum.Write([]byte{0})
		sum.Write(v)
		return nil
	}); err != nil {
		return nil, err
	}
	sum.Write([]byte{1})
	if err := txn.Scan(prefixPractice, "", func(_ string, v []byte) error {
		practices = append(practices, v)
		sum.Write([]byte{0})
		sum.Write(v)
		return nil
	}); err != nil {
		return nil, err
	}
	key := string(sum.Sum(nil))
	dirCache.Lock()
	d, ok := dirCache.m[key]
	dirCache.Unlock()
	if ok {
		return d, nil
	}
	var h DirectoryHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("decode %s: %w", keyDirectory, err)
	}
	if h.PostcodesSHA256 != "" {
		pb, found, err := txn.GetRaw(keyPostcodes)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("directory in state: %s missing", keyPostcodes)
		}
		if err := json.Unmarshal(pb, &h.Postcodes); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keyPostcodes, err)
		}
	}
	d = &routing.Directory{Name: h.Name, CentrePostcode: h.CentrePostcode, Postcodes: h.Postcodes,
		ExtraBankHolidays: h.ExtraBankHolidays,
		Services:          make([]routing.Service, len(services)), Practices: make([]routing.Practice, len(practices))}
	for i, v := range services {
		if err := json.Unmarshal(v, &d.Services[i]); err != nil {
			return nil, fmt.Errorf("decode service: %w", err)
		}
	}
	for i, v := range practices {
		if err := json.Unmarshal(v, &d.Practices[i]); err != nil {
			return nil, fmt.Errorf("decode practice: %w", err)
		}
	}
	if err := d.ValidateStructure(); err != nil {
		// Every command that changes the directory validated the result;
		// a directory accepted under an older vocabulary stays usable.
		return nil, fmt.Errorf("directory in state: %w", err)
	}
	dirCache.Lock()
	if _, ok := dirCache.m[key]; !ok {
		dirCache.m[key] = d
		dirCache.order = append(dirCache.order, key)
		if len(dirCache.order) > dirCacheSize {
			delete(dirCache.m, dirCache.order[0])
			dirCache.order = dirCache.order[1:]
		}
	}
	dirCache.Unlock()
	return d, nil
}

// DirectoryFromState is the service directory as the state holds it now,
// for decisions inside Apply (routing.Route, routing.Allocate). It sees
// every earlier command of the batch; a handler must call it before its
// own directory writes. No directory loaded -> a CodeConflict
// *CommandError. The result is shared and must not be modified.
func DirectoryFromState(tx *cluster.Tx) (*routing.Directory, error) {
	d, err := ReadDirectory(tx)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, ErrNoDirectory
	}
	return d, nil
}

// slotLookback bounds the booked slots LoadAt reads: a session that
// started more than this before now has ended (sessions run at most a
// day, overnight ones included).
const slotLookback = 48 * time.Hour

// LoadAt is routing's Load for a decision at now: booked slots of sessions
// that started within slotLookback before now or later, and every
// occupied concurrent place. It sees every earlier command of the batch.
// It reads keys only: a slot's key (sl/t/<start>/<service>/<attendance>)
// and a place's (sl/p/<service>/<attendance>) say all Load needs, so no
// record is fetched or decoded. Inside Apply, where every routing decision
// calls it, the keys are read once (from the start of the hour the
// lookback begins in) and kept until a command books or frees capacity
// (Tx.Derived); the Load is built afresh from them for each caller, who
// may change it.
func LoadAt(r cluster.Reader, now time.Time) (*routing.Load, error) {
	cutoff := now.Add(-slotLookback)
	tx, ok := r.(*cluster.Tx)
	if !ok {
		idx, err := readSlotIndex(r, cutoff)
		if err != nil {
			return nil, err
		}
		return idx.load(cutoff), nil
	}
	from := cutoff.Truncate(time.Hour)
	v, err := tx.Derived("slot-load/"+cluster.SortableTime(from), []string{prefixSlotTime, prefixSlotPlace},
		func() (any, error) { return readSlotIndex(tx, from) })
	if err != nil {
		return nil, err
	}
	return v.(*slotIndex).load(cutoff), nil
}

// slotIndex is what the slot and place keys say, from a time on.
type slotIndex struct {
	slots  []slotEntry // booked slots, in key (session start) order
	places []string    // the service of each occupied place
}

type slotEntry struct {
	start   int64 // session start, unix nanoseconds
	service string
}

func readSlotIndex(r cluster.Reader, from time.Time) (*slotIndex, error) {
	idx := &slotIndex{}
	err := r.Keys(prefixSlotTime, cluster.SortableTime(from), func(key string) error {
		rest := key[len(prefixSlotTime):]
		i := strings.IndexByte(rest, '/')
		j := strings.LastIndexByte(rest, '/')
		nanos, err := strconv.ParseInt(rest[:max(i, 0)], 10, 64)
		if i <= 0 || j <= i || err != nil {
			return fmt.Errorf("slot key %q: malformed", key)
		}
		idx.slots = append(idx.slots, slotEntry{start: nanos, service: rest[i+1 : j]})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = r.Keys(prefixSlotPlace, "", func(key string) error {
		rest := key[len(prefixSlotPlace):]
		j := strings.LastIndexByte(rest, '/')
		if j <= 0 {
			return fmt.Errorf("place key %q: malformed", key)
		}
		idx.places = append(idx.places, rest[:j])
		return nil
	})
	return idx, err
}

// load is the Load of the slots of sessions starting at cutoff or later
// and of every place.
func (idx *slotIndex) load(cutoff time.Time) *routing.Load {
	load := &routing.Load{}
	c := cutoff.UnixNano()
	first := sort.Search(len(idx.slots), func(i int) bool { return idx.slots[i].start >= c })
	for _, s := range idx.slots[first:] {
		load.Add(routing.Allocation{ServiceID: s.service, Kind: routing.CapacitySlots, SessionStart: time.Unix(0, s.start).UTC()})
	}
	for _, svc := range idx.places {
		load.Add(routing.Allocation{ServiceID: svc, Kind: routing.CapacityPlaces})
	}
	return load
}

func slotKeys(attendanceID string, a routing.Allocation) (primary, byService string) {
	if a.Kind == routing.CapacityPlaces {
		return prefixSlotPlace + a.ServiceID + "/" + attendanceID, ""
	}
	st := cluster.SortableTime(a.SessionStart)
	return prefixSlotTime + st + "/" + a.ServiceID + "/" + attendanceID,
		prefixSlotSvc + a.ServiceID + "/" + st + "/" + attendanceID
}

// ForgetSlot deletes what attendanceID holds of a's capacity, without an
// audit event (a retention purge: the attendance is gone, and the service's
// audit trail keeps its slot.allocate and slot.release events, which name
// the attendance by id only). It returns how many keys it deleted.
func ForgetSlot(tx *cluster.Tx, attendanceID string, a routing.Allocation) (int, error) {
	if a.Kind != routing.CapacitySlots && a.Kind != routing.CapacityPlaces {
		return 0, nil
	}
	primary, bySvc := slotKeys(attendanceID, a)
	n := 0
	for _, k := range []string{primary, bySvc} {
		if k == "" {
			continue
		}
		_, found, err := tx.GetRaw(k)
		if err != nil {
			return n, err
		}
		if found {
			tx.Delete(k)
			n++
		}
	}
	return n, nil
}

// AllocateSlot records that attendanceID took the capacity of a (a
// routing.Decision's Allocation). An allocation of an unlimited service
// (Kind "") records nothing. Audited as slot.allocate on the service.
func AllocateSlot(tx *cluster.Tx, attendanceID string, a routing.Allocation) error {
	if a.Kind != routing.CapacitySlots && a.Kind != routing.CapacityPlaces {
		return nil
	}
	r := SlotRecord{ServiceID: a.ServiceID, Kind: a.Kind, SessionStart: a.SessionStart.UTC(), SessionEnd: a.SessionEnd.UTC(),
		AttendanceID: attendanceID, Index: tx.Index(), At: tx.Now()}
	primary, bySvc := slotKeys(attendanceID, a)
	if err := tx.Put(primary, &r); err != nil {
		return err
	}
	if bySvc != "" {
		tx.PutRaw(bySvc, nil)
	}
	tx.Audit("slot.allocate", "service/"+a.ServiceID, map[string]any{"attendance_id": attendanceID, "kind": a.Kind, "session_start": r.SessionStart})
	return nil
}

// ReleaseSlot frees what AllocateSlot recorded (a patient left or was
// handed over before using it). Releasing nothing is not an error.
func ReleaseSlot(tx *cluster.Tx, attendanceID string, a routing.Allocation) error {
	if a.Kind != routing.CapacitySlots && a.Kind != routing.CapacityPlaces {
		return nil
	}
	primary, bySvc := slotKeys(attendanceID, a)
	if _, found, err := tx.GetRaw(primary); err != nil || !found {
		return err
	}
	tx.Delete(primary)
	if bySvc != "" {
		tx.Delete(bySvc)
	}
	tx.Audit("slot.release", "service/"+a.ServiceID, map[string]any{"attendance_id": attendanceID, "kind": a.Kind, "session_start": a.SessionStart.UTC()})
	return nil
}

// Directory returns the directory in state (nil when none is loaded). The
// result is shared and must not be modified.
func (v State) Directory() (*routing.Directory, error) { return ReadDirectory(v.r) }

// DirectoryHeader returns the directory header (ErrNotFound before load).
func (v State) DirectoryHeader() (*DirectoryHeader, error) {
	var h DirectoryHeader
	if err := v.get(keyDirectory, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Services lists the services, by id.
func (v State) Services() ([]routing.Service, error) {
	var out []routing.Service
	out, err := cluster.ScanValues(v.r, PrefixService, out)
	return out, err
}

// Service returns one service (ErrNotFound).
func (v State) Service(id string) (*routing.Service, error) {
	var s routing.Service
	if err := v.get(PrefixService+id, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Practices lists the GP practices, by ODS code.
func (v State) Practices() ([]routing.Practice, error) {
	var out []routing.Practice
	out, err := cluster.ScanValues(v.r, prefixPractice, out)
	return out, err
}

// Allocations lists what is taken of a service: booked slots by session
// start, then occupied places.
func (v State) Allocations(serviceID string) ([]SlotRecord, error) {
	out := []SlotRecord{}
	err := v.r.Keys(prefixSlotSvc+serviceID+"/", "", func(key string) error {
		rest := strings.TrimPrefix(key, prefixSlotSvc+serviceID+"/")
		st, att, ok := strings.Cut(rest, "/")
		if !ok {
			return fmt.Errorf("slot index %s: malformed", key)
		}
		var r SlotRecord
		if err := v.get(prefixSlotTime+st+"/"+serviceID+"/"+att, &r); err != nil {
			return fmt.Errorf("slot index %s: %w", key, err)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, err = cluster.ScanValues(v.r, prefixSlotPlace+serviceID+"/", out)
	return out, err
}

// CareNeedsSince is the logic version from which Apply does the above.
const CareNeedsSince = 4
