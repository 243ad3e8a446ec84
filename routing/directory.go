package routing

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Tier is a level of care, cheapest first: self_care < pharmacy < gp <
// rapid_response < ed.
type Tier string

// The tiers, cheapest first.
const (
	TierSelfCare      Tier = "self_care"
	TierPharmacy      Tier = "pharmacy"
	TierGP            Tier = "gp"
	TierRapidResponse Tier = "rapid_response"
	TierED            Tier = "ed"
)

// Tiers lists the tiers cheapest first.
var Tiers = [...]Tier{TierSelfCare, TierPharmacy, TierGP, TierRapidResponse, TierED}

// Rank is the tier's position in Tiers, or -1 for an unknown tier.
func (t Tier) Rank() int {
	for i, x := range Tiers {
		if x == t {
			return i
		}
	}
	return -1
}

// Status is a service's RAG capacity status set by its staff.
type Status string

// RAG statuses. Red takes a service out of routing.
const (
	StatusGreen Status = "green"
	StatusAmber Status = "amber"
	StatusRed   Status = "red"
)

// Capacity kinds.
const (
	CapacitySlots  = "slots"  // bookable slots per session (Session.Slots)
	CapacityPlaces = "places" // concurrent places (Capacity.Places)
	CapacityNone   = ""       // not limited (e.g. ED)
)

// Session is a weekly opening session in Europe/London wall-clock time.
// End at or before Start means the session runs overnight into the next
// day; "24:00" is allowed as an end. Days is a list like "mon-fri",
// "sat,sun" or "daily".
type Session struct {
	Days  string `json:"days,omitempty"`
	Start string `json:"start"`
	End   string `json:"end"`
	Slots int    `json:"slots,omitempty"`
}

// DateException replaces every weekly and bank-holiday session on Date
// ("2026-12-24"); no sessions means closed that day.
type DateException struct {
	Date     string    `json:"date"`
	Sessions []Session `json:"sessions,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Capacity describes how a service's capacity is counted.
type Capacity struct {
	Kind   string `json:"kind,omitempty"`
	Places int    `json:"places,omitempty"`
}

// RAG is the staff-set status; a non-green status returns to green
// ResetAfterMinutes after SetAt (0 = stays until changed).
type RAG struct {
	Status            Status `json:"status,omitempty"`
	SetAt             string `json:"set_at,omitempty"` // RFC 3339
	ResetAfterMinutes int    `json:"reset_after_minutes,omitempty"`
	SetBy             string `json:"set_by,omitempty"`
}

// AgeRange is an inclusive age range. Years bounds read naturally ("16-64"
// means from the 16th birthday until the day before the 65th); Days bounds
// are exact, for the very young. Zero maxima mean no upper limit.
type AgeRange struct {
	MinYears int `json:"min_years,omitempty"`
	MaxYears int `json:"max_years,omitempty"`
	MinDays  int `json:"min_days,omitempty"`
	MaxDays  int `json:"max_days,omitempty"`
}

// Provision is a care need a service provides, with its own limits (for
// example Pharmacy First conditions: pharmacy_first:uti for women 16-64).
type Provision struct {
	Need string   `json:"need"`
	Age  AgeRange `json:"age,omitempty"`
	Sex  string   `json:"sex,omitempty"` // "", "female" or "male"
}

// Eligibility limits who a service sees.
type Eligibility struct {
	Age                    AgeRange `json:"age,omitempty"`
	Sex                    string   `json:"sex,omitempty"`
	RequiresUsualResidence bool     `json:"requires_usual_residence,omitempty"`
	// Catchment lists postcode districts ("DY1") or sectors ("DY2 7");
	// empty means no catchment limit.
	Catchment []string `json:"catchment,omitempty"`
	// RegisteredOnly: the service sees only patients registered with the
	// practice whose ODS code it carries (a practice's same-day list).
	RegisteredOnly bool `json:"registered_only,omitempty"`
	// CareNeedsOnly: a dedicated service (a maternity assessment unit, a
	// hospice advice line) sees only patients whose need names care it
	// provides, and comes first among the suitable services of its tier
	// for them.
	CareNeedsOnly bool `json:"care_needs_only,omitempty"`
}

// Webhook is where a rapid response team is sent dispatches. Secret is in
// the Standard Webhooks "whsec_<base64>" form (see Notifier).
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// Service is one entry in the directory.
type Service struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Tier     Tier    `json:"tier"`
	ODSCode  string  `json:"ods_code,omitempty"`
	Address  string  `json:"address,omitempty"`
	Postcode string  `json:"postcode"`
	Lat      float64 `json:"lat,omitempty"`
	Lon      float64 `json:"lon,omitempty"`

	AlwaysOpen  bool            `json:"always_open,omitempty"`
	Sessions    []Session       `json:"sessions,omitempty"`
	BankHoliday []Session       `json:"bank_holiday_sessions,omitempty"` // Days ignored; none = closed
	Exceptions  []DateException `json:"exceptions,omitempty"`

	Capacity    Capacity    `json:"capacity,omitempty"`
	RAG         RAG         `json:"rag,omitempty"`
	Eligibility Eligibility `json:"eligibility,omitempty"`
	Provides    []Provision `json:"provides,omitempty"`

	Webhook           *Webhook `json:"webhook,omitempty"`
	AcceptanceMinutes int      `json:"acceptance_minutes,omitempty"`
}

// LatLon is a coordinate pair in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Directory is the service directory plus the postcode table used for
// distances. Call Validate after building, decoding or changing one: it
// checks it and builds the lookup index Route uses (Route still works
// without it, more slowly; an index from before a change is stale).
type Directory struct {
	Name              string            `json:"name"`
	CentrePostcode    string            `json:"centre_postcode"`
	Services          []Service         `json:"services"`
	Practices         []Practice        `json:"practices,omitempty"`
	Postcodes         map[string]LatLon `json:"postcodes,omitempty"`
	ExtraBankHolidays []string          `json:"extra_bank_holidays,omitempty"`
	// WebhookAllowList, when given at load, becomes the state's webhook
	// allow-list (later changed with PUT /v1/webhooks/allow-list).
	WebhookAllowList *WebhookAllowList `json:"webhook_allowlist,omitempty"`

	idx *dirIndex
}

// ErrInvalidDirectory wraps every validation problem.
var ErrInvalidDirectory = errors.New("invalid directory")

// NormalisePostcode upper-cases a postcode and puts one space before the
// inward code ("dy11aa" -> "DY1 1AA"). Partial postcodes (districts,
// sectors) are returned upper-cased with single spaces.
//
// A sector must keep its space ("DY2 7"): without one, "DY27" reads as a
// district.
func NormalisePostcode(p string) string {
	f := strings.Fields(strings.ToUpper(p))
	joined := strings.Join(f, "")
	if len(joined) >= 5 && (len(f) == 1 || len(f[len(f)-1]) == 3) {
		return joined[:len(joined)-3] + " " + joined[len(joined)-3:]
	}
	return strings.Join(f, " ")
}

// PostcodeDistrict returns the outward code ("DY1" of "DY1 1AA").
func PostcodeDistrict(p string) string {
	p = NormalisePostcode(p)
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return p[:i]
	}
	return p
}

// PostcodeSector returns the sector ("DY1 1" of "DY1 1AA"), or "" for a
// partial postcode.
func PostcodeSector(p string) string {
	p = NormalisePostcode(p)
	if i := strings.IndexByte(p, ' '); i >= 0 && len(p) > i+1 {
		return p[:i+2]
	}
	return ""
}

// InCatchment reports whether postcode lies in one of the districts or
// sectors listed. An empty catchment contains every postcode.
func InCatchment(catchment []string, postcode string) bool {
	if len(catchment) == 0 {
		return true
	}
	d, s := PostcodeDistrict(postcode), PostcodeSector(postcode)
	for _, c := range catchment {
		c = NormalisePostcode(c)
		if c == d || (s != "" && c == s) {
			return true
		}
	}
	return false
}

// Validate checks the directory and builds its lookup index. It is the
// check an admin API should run before accepting a directory: besides the
// shape (ids, tiers, sessions, postcodes, an always-open ED) every care need
// a service provides must be in the vocabulary (CareNeeds), so that a typo
// ("gp_asessment") cannot make a service silently unsuitable.
func (d *Directory) Validate() error {
	idx, err := buildIndex(d, true)
	if err != nil {
		return err
	}
	d.idx = idx
	return nil
}

// ValidateStructure is Validate without the vocabulary check: for a
// directory that was accepted before (replicated state written under an
// older vocabulary), which must keep routing as it did. A need outside the
// vocabulary is then simply one that no outcome names.
func (d *Directory) ValidateStructure() error {
	idx, err := buildIndex(d, false)
	if err != nil {
		return err
	}
	d.idx = idx
	return nil
}

// UnknownCareNeeds lists the care needs s provides that are not in the
// vocabulary, in the order given.
func UnknownCareNeeds(s *Service) []string {
	var out []string
	for _, p := range s.Provides {
		if p.Need != "" && !KnownCareNeed(p.Need) {
			out = append(out, p.Need)
		}
	}
	return out
}

// session with parsed fields.
type psession struct {
	start, end int // minutes from local midnight; end > start (may exceed 1440)
	slots      int
}

type pservice struct {
	// Read for every service on every Route call, so kept together
	// and precomputed from svc by buildIndex.
	id       string
	tier     Tier
	red      bool  // status red
	redUntil int64 // red with a reset: routable from this unix time; 0 = until changed
	needs0   uint64
	needBits []uint64 // bit i set: provides the need numbered i in dirIndex.needIDs (needs0 is word 0)
	age      ageLimit
	sex      sexLimit
	// registeredOnly: text of the not_registered rejection, "" if the
	// service sees everyone
	registeredOnly string
	usualResidence bool
	// careNeedsOnly: text of the care_needs_only rejection of a need naming
	// no care, "" if the service sees any need of its tier
	careNeedsOnly string
	// careNeedsOnlyWords: the same naming each need in words (rules 1)
	careNeedsOnlyWords string
	catchment          []string // normalised districts and sectors
	provs              []pprovision

	svc         *Service
	alwaysOpen  bool
	capKind     string // Capacity.Kind
	places      int    // Capacity.Places
	exceptions  map[Date][]psession
	weekly      [7][]psession // by time.Weekday
	bankHoliday []psession
	lat, lon    float64
	cosLat      float64
	// site numbers the distinct coordinates in the directory: services
	// at one site (a health centre, a hospital) are the same distance
	// from the patient
	site int32
}

// pprovision is a Provision with its limits prepared.
type pprovision struct {
	need int // bit number in dirIndex.needIDs
	age  ageLimit
	sex  sexLimit
	pr   *Provision
}

// ageLimit is an AgeRange in days with its age-unknown rejection text.
type ageLimit struct {
	none    bool // no limit at all
	lo, hi  int  // inclusive days; hi < 0: no upper limit
	unknown string
}

func newAgeLimit(a AgeRange, need string) ageLimit {
	l := ageLimit{lo: a.minDays(), hi: a.maxDays()}
	l.none = l.lo == 0 && l.hi < 0
	if !l.none {
		l.unknown = "age unknown, service sees " + a.String() + forNeed(need)
	}
	return l
}

// sexLimit is a sex restriction with its two rejection texts.
type sexLimit struct {
	want           string // "" everyone
	unknown, other string // texts for a patient of unknown and of the other sex
}

func newSexLimit(want, need string) sexLimit {
	if want == "" {
		return sexLimit{}
	}
	return sexLimit{want: want,
		unknown: "sex unknown, service sees " + want + " patients only" + forNeed(need),
		other:   "sees " + want + " patients only" + forNeed(need)}
}

type ragState struct {
	status Status
	setAt  int64 // unix seconds, 0 unknown
	reset  int64 // seconds
}

type dirIndex struct {
	services   []pservice
	byTier     [len(Tiers)][]int // indexes into services, sorted by id
	districts  map[string]LatLon
	centre     LatLon
	extraHols  map[Date]bool
	practiceBy map[string]int
	needIDs    map[string]int // care need -> bit number
}

var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

func parseDays(s string) ([7]bool, error) {
	var out [7]bool
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "daily" {
		for i := range out {
			out[i] = true
		}
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[a]
		if !ok {
			return out, fmt.Errorf("unknown day %q", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[b]; !ok {
				return out, fmt.Errorf("unknown day %q", b)
			}
		}
		for i := from; ; i = (i + 1) % 7 {
			out[i] = true
			if i == to {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	return hh*60 + mm, nil
}

func parseSession(s Session) (psession, error) {
	a, err := parseClock(s.Start)
	if err != nil {
		return psession{}, err
	}
	b, err := parseClock(s.End)
	if err != nil {
		return psession{}, err
	}
	if a == 1440 {
		return psession{}, fmt.Errorf("session cannot start at 24:00")
	}
	if b <= a {
		b += 1440 // overnight
	}
	if s.Slots < 0 {
		return psession{}, fmt.Errorf("negative slots")
	}
	return psession{start: a, end: b, slots: s.Slots}, nil
}

func (a AgeRange) minDays() int {
	m := a.MinDays
	if y := yearsToDays(a.MinYears); y > m {
		m = y
	}
	return m
}

// maxDays is the inclusive upper bound in days, or -1 for none.
func (a AgeRange) maxDays() int {
	switch {
	case a.MaxYears > 0:
		return yearsToDays(a.MaxYears+1) - 1
	case a.MaxDays > 0:
		return a.MaxDays
	}
	return -1
}

// yearsToDays converts whole years of age to days (365.25 days a year,
// rounded down): the convention used for every age limit in routing.
func yearsToDays(y int) int { return y*365 + y/4 }

// AgeDaysFromYears is the age in days of someone exactly y years old
// under routing's convention; use it to build Patient.AgeDays from years.
func AgeDaysFromYears(y int) int { return yearsToDays(y) }

func buildIndex(d *Directory, vocabulary bool) (*dirIndex, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	idx := &dirIndex{
		services:   make([]pservice, len(d.Services)),
		districts:  map[string]LatLon{},
		extraHols:  map[Date]bool{},
		practiceBy: map[string]int{},
		needIDs:    map[string]int{},
	}
	// district centroids from the postcode table, in sorted order so
	// floating-point sums are reproducible.
	keys := make([]string, 0, len(d.Postcodes))
	for k := range d.Postcodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type acc struct {
		lat, lon float64
		n        int
	}
	sums := map[string]*acc{}
	var dnames []string
	for _, k := range keys {
		if NormalisePostcode(k) != k {
			bad("postcode table key %q is not normalised (want %q)", k, NormalisePostcode(k))
		}
		dist := PostcodeDistrict(k)
		a := sums[dist]
		if a == nil {
			a = &acc{}
			sums[dist] = a
			dnames = append(dnames, dist)
		}
		a.lat += d.Postcodes[k].Lat
		a.lon += d.Postcodes[k].Lon
		a.n++
	}
	for _, dn := range dnames {
		a := sums[dn]
		idx.districts[dn] = LatLon{a.lat / float64(a.n), a.lon / float64(a.n)}
	}
	if c, ok := lookupPostcode(d.Postcodes, idx.districts, d.CentrePostcode); ok {
		idx.centre = c
	} else {
		bad("centre postcode %q has no coordinates in the postcode table", d.CentrePostcode)
	}
	for _, h := range d.ExtraBankHolidays {
		t, err := parseDate(h)
		if err != nil {
			bad("extra bank holiday %q: %v", h, err)
			continue
		}
		idx.extraHols[Date{t.Year(), t.Month(), t.Day()}] = true
	}
	seen := map[string]bool{}
	sites := map[LatLon]int32{}
	hasED := false
	for i := range d.Services {
		s := &d.Services[i]
		ps := &idx.services[i]
		ps.svc = s
		where := fmt.Sprintf("service %q", s.ID)
		if s.ID == "" {
			bad("service %d has no id", i)
		}
		if seen[s.ID] {
			bad("%s: duplicate id", where)
		}
		seen[s.ID] = true
		if s.Name == "" {
			bad("%s: no name", where)
		}
		r := s.Tier.Rank()
		if r < 0 {
			bad("%s: unknown tier %q", where, s.Tier)
		} else {
			idx.byTier[r] = append(idx.byTier[r], i)
		}
		if s.Tier == TierED && s.AlwaysOpen && !s.Eligibility.CareNeedsOnly {
			hasED = true // a dedicated unit (maternity) is no general fallback
		}
		ps.lat, ps.lon = s.Lat, s.Lon
		if s.Lat == 0 && s.Lon == 0 {
			if c, ok := lookupPostcode(d.Postcodes, idx.districts, s.Postcode); ok {
				ps.lat, ps.lon = c.Lat, c.Lon
			} else {
				bad("%s: no coordinates and postcode %q not in the postcode table", where, s.Postcode)
			}
		}
		for _, ss := range s.Sessions {
			days, err := parseDays(ss.Days)
			if err != nil {
				bad("%s: session days: %v", where, err)
				continue
			}
			p, err := parseSession(ss)
			if err != nil {
				bad("%s: session: %v", where, err)
				continue
			}
			for wd, on := range days {
				if on {
					ps.weekly[wd] = append(ps.weekly[wd], p)
				}
			}
		}
		for _, ss := range s.BankHoliday {
			p, err := parseSession(ss)
			if err != nil {
				bad("%s: bank holiday session: %v", where, err)
				continue
			}
			ps.bankHoliday = append(ps.bankHoliday, p)
		}
		for wd := range ps.weekly {
			sortSessions(ps.weekly[wd])
		}
		sortSessions(ps.bankHoliday)
		if len(s.Exceptions) > 0 {
			ps.exceptions = map[Date][]psession{}
		}
		for _, ex := range s.Exceptions {
			t, err := parseDate(ex.Date)
			if err != nil {
				bad("%s: exception date %q: %v", where, ex.Date, err)
				continue
			}
			list := []psession{}
			for _, ss := range ex.Sessions {
				p, err := parseSession(ss)
				if err != nil {
					bad("%s: exception %s: %v", where, ex.Date, err)
					continue
				}
				list = append(list, p)
			}
			sortSessions(list)
			ps.exceptions[Date{t.Year(), t.Month(), t.Day()}] = list
		}
		ps.cosLat = math.Cos(ps.lat * math.Pi / 180)
		site, ok := sites[LatLon{ps.lat, ps.lon}]
		if !ok {
			site = int32(len(sites))
			sites[LatLon{ps.lat, ps.lon}] = site
		}
		ps.site = site
		switch s.Capacity.Kind {
		case CapacitySlots, CapacityNone:
		case CapacityPlaces:
			if s.Capacity.Places <= 0 {
				bad("%s: places capacity needs places > 0", where)
			}
		default:
			bad("%s: unknown capacity kind %q", where, s.Capacity.Kind)
		}
		for j := range s.Provides {
			p := &s.Provides[j]
			if p.Need == "" {
				bad("%s: provision with no need", where)
			} else if vocabulary && !KnownCareNeed(p.Need) {
				bad("%s: provides %q, which is not a care need in the vocabulary (routing.CareNeeds, protocols/FORMAT.md)", where, p.Need)
			}
			id, ok := idx.needIDs[p.Need]
			if !ok {
				id = len(idx.needIDs)
				idx.needIDs[p.Need] = id
			}
			for len(ps.needBits) <= id/64 {
				ps.needBits = append(ps.needBits, 0)
			}
			ps.needBits[id/64] |= 1 << (id % 64)
			ps.provs = append(ps.provs, pprovision{need: id, age: newAgeLimit(p.Age, p.Need), sex: newSexLimit(p.Sex, p.Need), pr: p})
		}
		if len(ps.needBits) > 0 {
			ps.needs0 = ps.needBits[0]
		}
		ps.id, ps.tier = s.ID, s.Tier
		ps.alwaysOpen, ps.capKind, ps.places = s.AlwaysOpen, s.Capacity.Kind, s.Capacity.Places
		ps.age = newAgeLimit(s.Eligibility.Age, "")
		ps.sex = newSexLimit(s.Eligibility.Sex, "")
		if s.Eligibility.RegisteredOnly {
			ps.registeredOnly = "sees only patients registered with " + s.ODSCode
		}
		ps.usualResidence = s.Eligibility.RequiresUsualResidence
		if s.Eligibility.CareNeedsOnly {
			if len(s.Provides) == 0 {
				bad("%s: care_needs_only without anything it provides", where)
			}
			names := make([]string, len(s.Provides))
			for j, p := range s.Provides {
				names[j] = p.Need
			}
			ps.careNeedsOnly = "sees only patients who need " + strings.Join(names, " or ")
			ps.careNeedsOnlyWords = "sees only patients who need " + careNeedList(names, "or")
		}
		for _, c := range s.Eligibility.Catchment {
			ps.catchment = append(ps.catchment, NormalisePostcode(c))
		}
		switch s.Eligibility.Sex {
		case "", "female", "male":
		default:
			bad("%s: unknown sex %q", where, s.Eligibility.Sex)
		}
		rs, err := parseRAG(s.RAG)
		if err != nil {
			bad("%s: %v", where, err)
		}
		if rs.status == StatusRed {
			ps.red = true
			if rs.reset > 0 && rs.setAt > 0 {
				ps.redUntil = rs.setAt + rs.reset
			}
		}
		if s.Webhook != nil {
			if s.Webhook.URL == "" {
				bad("%s: webhook without url", where)
			}
			if s.Webhook.Secret != "" {
				if _, err := DecodeSecret(s.Webhook.Secret); err != nil {
					bad("%s: webhook secret: %v", where, err)
				}
			}
		}
	}
	if len(d.Services) > 0 && !hasED {
		bad("no always-open ed service (not care_needs_only) to fall back to")
	}
	if len(d.Services) > MaxServices {
		bad("%d services: at most %d", len(d.Services), MaxServices)
	}
	for t := range idx.byTier {
		list := idx.byTier[t]
		sort.Slice(list, func(a, b int) bool { return d.Services[list[a]].ID < d.Services[list[b]].ID })
	}
	// Route walks a tier in id order: lay the services out in that order
	// so the walk reads memory front to back.
	ordered := make([]pservice, 0, len(idx.services))
	for t := range idx.byTier {
		for k, i := range idx.byTier[t] {
			ordered = append(ordered, idx.services[i])
			idx.byTier[t][k] = len(ordered) - 1
		}
	}
	idx.services = ordered
	for i, p := range d.Practices {
		if p.ODSCode == "" {
			bad("practice %d has no ods code", i)
			continue
		}
		if _, dup := idx.practiceBy[p.ODSCode]; dup {
			bad("practice %q: duplicate ods code", p.ODSCode)
		}
		idx.practiceBy[p.ODSCode] = i
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidDirectory, strings.Join(problems, "; "))
	}
	return idx, nil
}

func sortSessions(s []psession) {
	sort.SliceStable(s, func(a, b int) bool { return s[a].start < s[b].start })
}

func parseRAG(r RAG) (ragState, error) {
	st := ragState{status: r.Status, reset: int64(r.ResetAfterMinutes) * 60}
	switch r.Status {
	case "":
		st.status = StatusGreen
	case StatusGreen, StatusAmber, StatusRed:
	default:
		return st, fmt.Errorf("unknown rag status %q", r.Status)
	}
	if r.SetAt != "" {
		t, err := parseRFC3339(r.SetAt)
		if err != nil {
			return st, fmt.Errorf("rag set_at: %w", err)
		}
		st.setAt = t.Unix()
	}
	return st, nil
}

func lookupPostcode(table map[string]LatLon, districts map[string]LatLon, pc string) (LatLon, bool) {
	if pc == "" {
		return LatLon{}, false
	}
	n := NormalisePostcode(pc)
	if c, ok := table[n]; ok {
		return c, true
	}
	if c, ok := districts[PostcodeDistrict(n)]; ok {
		return c, true
	}
	return LatLon{}, false
}

// index returns the prepared index, building a throwaway one if Validate
// has not been called.
func (d *Directory) index() (*dirIndex, error) {
	if d.idx != nil {
		return d.idx, nil
	}
	return buildIndex(d, false)
}
