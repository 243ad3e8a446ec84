package routing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Need is what a triage outcome asks of a service.
type Need struct {
	MinTier Tier `json:"min_tier"`
	// Immediate means the service must be open now (and not closing
	// within 30 minutes). Otherwise WithinMinutes is the timeframe; zero
	// or less is treated as immediate.
	Immediate     bool     `json:"immediate,omitempty"`
	WithinMinutes int      `json:"within_minutes,omitempty"`
	CareNeeds     []string `json:"care_needs,omitempty"`
	Dx            string   `json:"dx,omitempty"`
}

// NeedFromTimeframe builds a Need from the protocol vocabulary timeframe
// (immediate | 1h | 2h | 4h | 6h | 12h | 24h | 72h | 1w | none).
func NeedFromTimeframe(min Tier, timeframe, dx string, careNeeds []string) (Need, error) {
	n := Need{MinTier: min, Dx: dx, CareNeeds: careNeeds}
	switch timeframe {
	case "immediate":
		n.Immediate = true
	case "none":
		n.WithinMinutes = 7 * 24 * 60
	case "1w":
		n.WithinMinutes = 7 * 24 * 60
	default:
		h, ok := strings.CutSuffix(timeframe, "h")
		v, err := strconv.Atoi(h)
		if !ok || err != nil || v <= 0 {
			return n, fmt.Errorf("timeframe %q: unknown", timeframe)
		}
		n.WithinMinutes = v * 60
	}
	return n, nil
}

// Patient holds what routing needs to know about the patient.
type Patient struct {
	AgeKnown bool   `json:"age_known"`
	AgeDays  int    `json:"age_days,omitempty"`
	Sex      string `json:"sex,omitempty"` // "female", "male" or "" unknown
	// Postcode of where the patient is (usually home); "" unknown.
	Postcode string `json:"postcode,omitempty"`
	// AtUsualResidence: the patient is at their usual place of residence
	// (needed by urgent community response).
	AtUsualResidence   bool   `json:"at_usual_residence,omitempty"`
	RegisteredPractice string `json:"registered_practice,omitempty"` // ODS code
	Pregnant           bool   `json:"pregnant,omitempty"`
	Immunosuppressed   bool   `json:"immunosuppressed,omitempty"`
}

// PatientAged returns a patient of the given whole years of age.
func PatientAged(years int, sex, postcode string) Patient {
	return Patient{AgeKnown: true, AgeDays: AgeDaysFromYears(years), Sex: sex, Postcode: postcode}
}

// Load is what routing has already allocated: booked slots per service
// per session start (unix seconds) and occupied concurrent places per
// service. The FSM keeps it and adds each Decision's Allocation.
type Load struct {
	Sessions map[string]map[int64]int `json:"sessions,omitempty"`
	Places   map[string]int           `json:"places,omitempty"`
}

// Used returns what is taken of an allocation's capacity.
func (l *Load) used(serviceID string, kind string, start int64) int {
	if l == nil {
		return 0
	}
	switch kind {
	case CapacitySlots:
		return l.Sessions[serviceID][start]
	case CapacityPlaces:
		return l.Places[serviceID]
	}
	return 0
}

// Add records an allocation (a booked slot or an occupied place).
func (l *Load) Add(a Allocation) {
	switch a.Kind {
	case CapacitySlots:
		if l.Sessions == nil {
			l.Sessions = map[string]map[int64]int{}
		}
		m := l.Sessions[a.ServiceID]
		if m == nil {
			m = map[int64]int{}
			l.Sessions[a.ServiceID] = m
		}
		m[a.SessionStart.Unix()]++
	case CapacityPlaces:
		if l.Places == nil {
			l.Places = map[string]int{}
		}
		l.Places[a.ServiceID]++
	}
}

// Release frees a concurrent place (slots are not released: a booked
// slot stays used).
func (l *Load) Release(a Allocation) {
	if a.Kind == CapacityPlaces && l.Places[a.ServiceID] > 0 {
		l.Places[a.ServiceID]--
	}
}

// Allocation is the capacity a Decision takes.
type Allocation struct {
	ServiceID    string    `json:"service_id"`
	Kind         string    `json:"kind,omitempty"` // slots | places | "" (unlimited)
	SessionStart time.Time `json:"session_start"`
	SessionEnd   time.Time `json:"session_end"`
}

// Rejection codes.
const (
	RejectStatusRed        = "status_red"
	RejectNotProvided      = "not_provided"
	RejectAge              = "age"
	RejectAgeUnknown       = "age_unknown"
	RejectSex              = "sex"
	RejectNotAtResidence   = "not_at_usual_residence"
	RejectOutsideCatchment = "outside_catchment"
	RejectPostcodeUnknown  = "postcode_unknown"
	RejectClosed           = "closed"
	RejectClosingSoon      = "closing_soon"
	RejectFull             = "full"
	RejectNotChosen        = "not_chosen"
	RejectNotRegistered    = "not_registered"
	RejectCareNeedsOnly    = "care_needs_only"
)

// Rejection says why one service was not chosen.
type Rejection struct {
	ServiceID string `json:"service_id"`
	Tier      Tier   `json:"tier"`
	Code      string `json:"code"`
	Reason    string `json:"reason"`
	// DistanceM is set for suitable services that were not chosen.
	DistanceM int `json:"distance_m,omitempty"`
}

// ServiceGap records that the ideal (minimum) tier had nothing suitable.
type ServiceGap struct {
	Tier      Tier      `json:"tier"`
	CareNeeds []string  `json:"care_needs,omitempty"`
	Dx        string    `json:"dx,omitempty"`
	At        time.Time `json:"at"`
	Postcode  string    `json:"postcode,omitempty"`
	District  string    `json:"district,omitempty"`
	// Reason says the gap in words and where the patient goes instead
	// (rules 1): "no GP service could see them for an urgent eye
	// examination (eye) within 4 hours, so they go to Castlegate General
	// Hospital Emergency Department instead".
	Reason string `json:"reason,omitempty"`
}

// Decision is the outcome of Route.
type Decision struct {
	ServiceID   string     `json:"service_id"`
	ServiceName string     `json:"service_name"`
	Tier        Tier       `json:"tier"`
	Allocation  Allocation `json:"allocation"`
	SeeFrom     time.Time  `json:"see_from"` // earliest time the patient can be seen
	DistanceM   int        `json:"distance_m"`
	Fallback    bool       `json:"fallback,omitempty"` // ED chosen because nothing qualified
	// FallbackReason says why the fallback ED was chosen (rules 1).
	FallbackReason string      `json:"fallback_reason,omitempty"`
	AcceptBy       *time.Time  `json:"accept_by,omitempty"`
	Rejections     Rejections  `json:"rejections"`
	Gap            *ServiceGap `json:"gap,omitempty"`
}

// Rules versions: what Route writes in its explanation. Route decides the
// same under every version; the replicated state machine passes the version
// its command was proposed under, so an old log entry replays with the
// words it was first explained in.
const (
	// RulesCodes (0): a missing care need is named by its code ("does not
	// provide dental").
	RulesCodes = 0
	// RulesWords (1): a missing care need is named in words with its code
	// ("does not provide urgent dental care (dental)"), a dedicated
	// service names its care in words, the gap carries a reason, and a
	// fallback says why.
	RulesWords = 1
	// CurrentRules is what Route uses.
	CurrentRules = RulesWords
)

// ErrNoService is returned when not even an always-open ED exists.
var ErrNoService = errors.New("no service can take the patient")

// ErrBadNeed is returned for a need with an unknown minimum tier.
var ErrBadNeed = errors.New("invalid need")

const closingMargin = 30 * 60 // seconds

// memo caches reason texts within one Route call: many services share
// opening times and limits, so most rejections reuse a string.
type memoKey struct {
	kind int
	a, b int64
	s    string
}

type memoEntry struct {
	k memoKey
	v reason
}

// memo is a small hash table: a Route call sees few distinct texts.
// It is fixed-size so that it lives on Route's stack; callers look a
// key up and build the text themselves on a miss (no closures, which
// would escape to the heap on every call). A text is known by its
// number (a whyText rejection's argument): entries first, then extra
// (texts built once the table is full, never looked up again).
type memo struct {
	rules       int
	n           int
	slots       [128]uint8 // index+1 into entries, by hash; 0 empty
	entries     [64]memoEntry
	extra       []reason
	notProvided []string // by index in Need.CareNeeds
}

func (k *memoKey) slot() int {
	h := uint64(k.kind)*0x9e3779b97f4a7c15 ^ uint64(k.a)*0xc2b2ae3d27d4eb4f ^ uint64(k.b)*0x165667b19e3779f9 ^ uint64(len(k.s))
	return int(h >> 57) // 7 bits: one of 128 slots
}

func (m *memo) lookup(k memoKey) (why, bool) {
	for i := k.slot(); ; i = (i + 1) % len(m.slots) {
		e := m.slots[i]
		if e == 0 {
			return why{}, false
		}
		if m.entries[e-1].k == k {
			return why{kind: whyText, arg: uint16(e - 1)}, true
		}
	}
}

// put remembers the code and text for k, which lookup has just missed,
// and returns its number.
func (m *memo) put(k memoKey, code, text string) why {
	if m.n < len(m.entries) {
		i := k.slot()
		for m.slots[i] != 0 {
			i = (i + 1) % len(m.slots)
		}
		m.entries[m.n] = memoEntry{k, reason{code, text}}
		m.n++
		m.slots[i] = uint8(m.n)
		return why{kind: whyText, arg: uint16(m.n - 1)}
	}
	// at most one per service: a uint16 holds every number for any
	// directory Validate accepts
	m.extra = append(m.extra, reason{code, text})
	return why{kind: whyText, arg: uint16(len(m.entries) + len(m.extra) - 1)}
}

// texts is every text the call built, by number.
func (m *memo) texts() []reason {
	if m.n == 0 && len(m.extra) == 0 {
		return nil
	}
	out := make([]reason, 0, m.n+len(m.extra))
	for i := range m.n {
		out = append(out, m.entries[i].v)
	}
	return append(out, m.extra...)
}

type candidate struct {
	i          int
	specialist bool // a care_needs_only service providing the need
	own        bool
	dist       int
	used       int
	start      int64
	end        int64
	visit      int64
	capacity   string
}

// Route chooses where the patient should be seen. It walks tiers from
// need.MinTier upward and, within a tier, keeps services that are not
// red, provide every care need, take the patient (age, sex, residence,
// catchment), are open long enough within the timeframe (open at some
// point in it and not closing within 30 minutes of the patient's arrival;
// immediate means open now) and have capacity left given load. Survivors
// are ranked: the patient's own practice first among GP services, then
// distance, then load, then id. If nothing qualifies the nearest
// always-open ED is the fallback. Amber status routes normally (it is a
// signal to staff); red excludes until its reset time. Route is pure:
// same arguments, same Decision; it never reads the clock and is safe
// for concurrent use once the directory has been validated. It explains
// itself under CurrentRules.
func Route(need Need, p Patient, now time.Time, dir *Directory, load *Load) (Decision, error) {
	return RouteRules(need, p, now, dir, load, CurrentRules)
}

// RouteRules is Route explaining itself under the given rules version
// (RulesCodes, RulesWords): the choice is the same, the words may differ.
func RouteRules(need Need, p Patient, now time.Time, dir *Directory, load *Load, rules int) (Decision, error) {
	minRank := need.MinTier.Rank()
	if minRank < 0 {
		return Decision{}, fmt.Errorf("route: %w: unknown min tier %q", ErrBadNeed, need.MinTier)
	}
	idx, err := dir.index()
	if err != nil {
		return Decision{}, fmt.Errorf("route: %w", err)
	}
	nowU := now.Unix()
	window := int64(need.WithinMinutes) * 60
	if need.Immediate || window < 0 {
		window = 0
	}
	winEnd := nowU + window
	// a week beyond the window so "closed until" can name the next opening
	var cal calendar
	newCalendar(&cal, now, time.Unix(winEnd+7*24*3600, 0), idx.extraHols)
	pLoc, ok := lookupPostcode(dir.Postcodes, idx.districts, p.Postcode)
	if !ok {
		pLoc = idx.centre
	}
	pCos := math.Cos(pLoc.Lat * math.Pi / 180)
	var d Decision
	rj := &d.Rejections.c
	rj.svcs, rj.rules = idx.services, rules
	rj.items = make([]compactRejection, 0, len(idx.byTier[minRank]))
	m := &memo{rules: rules}
	// care needs as bit numbers; -1 for a need no service provides
	needBits := make([]int, len(need.CareNeeds))
	m.notProvided = make([]string, len(need.CareNeeds))
	for i, n := range need.CareNeeds {
		if t, ok := notProvidedText[n]; ok && rules >= RulesWords {
			m.notProvided[i] = t
		} else {
			m.notProvided[i] = "does not provide " + n
		}
		if id, ok := idx.needIDs[n]; ok {
			needBits[i] = id
		} else {
			needBits[i] = -1
		}
	}
	// Suitable services of the tier being walked, kept compactly (the
	// best one is also kept whole); small tiers stay on the stack.
	var loserBuf [256]loser
	var area patientArea
	// distances already worked out, by site number (+1; 0 is empty)
	var siteDist [256]struct{ site, dist int32 }
	for r := minRank; r < len(Tiers); r++ {
		list := idx.byTier[r]
		// every service of this tier ends up rejected except the chosen one
		if n := len(rj.items) + len(list); cap(rj.items) < n {
			grown := make([]compactRejection, len(rj.items), n)
			copy(grown, rj.items)
			rj.items = grown
		}
		suitable := loserBuf[:0]
		var best, c candidate
		for _, si := range list {
			ps := &idx.services[si]
			if w := evaluate(&c, ps, &need, needBits, &p, &area, nowU, winEnd, &cal, load, m); w.kind != whySuitable {
				rj.items = append(rj.items, compactRejection{svc: int32(si), why: w})
				continue
			}
			c.i = si
			c.specialist = ps.careNeedsOnly != ""
			c.own = isOwnPractice(ps, Tiers[r], &p)
			sd := &siteDist[ps.site%int32(len(siteDist))]
			if sd.site != ps.site+1 {
				sd.site, sd.dist = ps.site+1, int32(haversineCos(pLoc.Lat, pLoc.Lon, pCos, ps.lat, ps.lon, ps.cosLat))
			}
			c.dist = int(sd.dist)
			if len(suitable) == 0 || compareCandidates(&c, &best, idx) < 0 {
				best = c
			}
			suitable = append(suitable, loser{i: int32(si), dist: int32(c.dist)})
		}
		if r == minRank && len(suitable) == 0 {
			d.Gap = &ServiceGap{Tier: Tiers[r], CareNeeds: need.CareNeeds, Dx: need.Dx, At: now.UTC(),
				Postcode: NormalisePostcode(p.Postcode), District: PostcodeDistrict(p.Postcode)}
		}
		if len(suitable) == 0 {
			continue
		}
		// the others, in id order, each with why it lost
		rj.dists = make([]int32, 0, len(suitable)-1)
		for _, l := range suitable {
			if int(l.i) == best.i {
				continue
			}
			ps := &idx.services[l.i]
			c := candidate{specialist: ps.careNeedsOnly != "", own: isOwnPractice(ps, Tiers[r], &p), dist: int(l.dist)}
			if c.specialist == best.specialist && c.own == best.own && c.dist == best.dist {
				// only an exact tie needs the load; evaluate is pure, so
				// this is the load the service was ranked with
				var e candidate
				evaluate(&e, ps, &need, needBits, &p, &area, nowU, winEnd, &cal, load, m)
				c.used = e.used
			}
			rj.items = append(rj.items, compactRejection{svc: l.i, why: why{kind: notChosenReason(&c, &best), arg: uint16(len(rj.dists))}})
			rj.dists = append(rj.dists, l.dist)
		}
		d.choose(&idx.services[best.i], best, now)
		d.explainGap(&need, rules)
		rj.texts, rj.notProvided = m.texts(), m.notProvided
		return d, nil
	}
	// Fallback: nearest always-open ED regardless of anything else (a
	// dedicated unit, care_needs_only, is not a general ED).
	bestI, bestDist := -1, 0
	for _, si := range idx.byTier[TierED.Rank()] {
		ps := &idx.services[si]
		if !ps.svc.AlwaysOpen || ps.careNeedsOnly != "" {
			continue
		}
		dist := haversineM(pLoc.Lat, pLoc.Lon, ps.lat, ps.lon)
		if bestI < 0 || dist < bestDist {
			bestI, bestDist = si, dist
		}
	}
	if bestI < 0 {
		rj.texts, rj.notProvided = m.texts(), m.notProvided
		return d, fmt.Errorf("route: %w", ErrNoService)
	}
	d.choose(&idx.services[bestI], candidate{dist: bestDist, start: nowU, end: nowU, visit: nowU}, now)
	d.Fallback = true
	if rules >= RulesWords {
		d.FallbackReason = "nothing suitable from " + TierWords(need.MinTier) + " level up could see them " + timeframeWords(&need) +
			": " + d.ServiceName + " is the safe default (always open)"
	}
	d.explainGap(&need, rules)
	rj.texts, rj.notProvided = m.texts(), m.notProvided
	return d, nil
}

// explainGap writes the gap's reason (rules 1) once the choice is made.
func (d *Decision) explainGap(need *Need, rules int) {
	if d.Gap == nil || rules < RulesWords {
		return
	}
	var b strings.Builder
	b.WriteString("no ")
	b.WriteString(TierWords(d.Gap.Tier))
	b.WriteString(" service could see them ")
	if len(need.CareNeeds) > 0 {
		b.WriteString("for ")
		b.WriteString(careNeedList(need.CareNeeds, "and"))
		b.WriteString(" ")
	}
	b.WriteString(timeframeWords(need))
	b.WriteString(", so they go to ")
	b.WriteString(d.ServiceName)
	b.WriteString(" instead")
	d.Gap.Reason = b.String()
}

// timeframeWords: "now", "within 2 hours", "within 7 days".
func timeframeWords(n *Need) string {
	m := n.WithinMinutes
	switch {
	case n.Immediate || m <= 0:
		return "now"
	case m%(24*60) == 0 && m >= 48*60:
		return "within " + strconv.Itoa(m/(24*60)) + " days"
	case m%60 == 0 && m == 60:
		return "within 1 hour"
	case m%60 == 0:
		return "within " + strconv.Itoa(m/60) + " hours"
	}
	return "within " + strconv.Itoa(m) + " minutes"
}

func (d *Decision) choose(ps *pservice, c candidate, now time.Time) {
	s := ps.svc
	d.ServiceID, d.ServiceName, d.Tier, d.DistanceM = s.ID, s.Name, s.Tier, c.dist
	d.Allocation = Allocation{ServiceID: s.ID, Kind: c.capacity,
		SessionStart: time.Unix(c.start, 0).UTC(), SessionEnd: time.Unix(c.end, 0).UTC()}
	d.SeeFrom = time.Unix(c.visit, 0).UTC()
	if s.Tier == TierRapidResponse && s.AcceptanceMinutes > 0 {
		t := now.Add(time.Duration(s.AcceptanceMinutes) * time.Minute).UTC()
		d.AcceptBy = &t
	}
}

func compareCandidates(a, b *candidate, idx *dirIndex) int {
	switch {
	case a.specialist != b.specialist:
		if a.specialist {
			return -1
		}
		return 1
	case a.own != b.own:
		if a.own {
			return -1
		}
		return 1
	case a.dist != b.dist:
		return a.dist - b.dist
	case a.used != b.used:
		return a.used - b.used
	}
	return strings.Compare(idx.services[a.i].svc.ID, idx.services[b.i].svc.ID)
}

// loser is a suitable service that may not be chosen: its index in
// dirIndex.services and its distance in metres (under 2.1e7 m on Earth).
type loser struct {
	i, dist int32
}

func isOwnPractice(ps *pservice, t Tier, p *Patient) bool {
	return t == TierGP && p.RegisteredPractice != "" && ps.svc.ODSCode == p.RegisteredPractice
}

// notChosenReason is the kind of rejection of suitable c, which lost to best.
func notChosenReason(c, best *candidate) uint8 {
	v := fixedNotChosenTie
	switch {
	case best.specialist && !c.specialist:
		v = fixedNotChosenDedicate
	case best.own && !c.own:
		v = fixedNotChosenOwn
	case c.dist != best.dist:
		v = fixedNotChosenFurther
	case c.used != best.used:
		v = fixedNotChosenBusier
	}
	return whyNotChosen + uint8(v-fixedNotChosenDedicate)
}

func km(m int) string {
	return strconv.FormatFloat(float64(m)/1000, 'f', 1, 64) + " km"
}

// patientArea is the patient's postcode district and sector, worked
// out once per Route call for catchment checks.
type patientArea struct {
	done             bool
	district, sector string
}

// evaluate checks one service; a why other than whySuitable is the
// rejection, otherwise *c is the slot found (c is scratch space on
// rejection).
func evaluate(c *candidate, ps *pservice, need *Need, needBits []int, p *Patient, area *patientArea, now, winEnd int64, cal *calendar, load *Load, m *memo) why {
	if ps.red && (ps.redUntil == 0 || now < ps.redUntil) {
		return fixed(fixedStatusRed)
	}
	for i := range need.CareNeeds {
		b := needBits[i]
		w := ps.needs0
		if b >= 64 {
			w = 0
			if b/64 < len(ps.needBits) {
				w = ps.needBits[b/64]
			}
		}
		if b < 0 || w&(1<<(b%64)) == 0 {
			return why{kind: whyNotProvided, arg: uint16(i)}
		}
	}
	if !ps.age.admits(p) {
		return ageRejection(&ps.age, &ps.svc.Eligibility.Age, p, "", m, whyAgeUnknown, 0)
	}
	if w := checkSex(&ps.sex, p.Sex, whySexUnknown, 0); w.kind != whySuitable {
		return w
	}
	if ps.registeredOnly != "" && p.RegisteredPractice != ps.svc.ODSCode {
		return why{kind: whyNotRegistered}
	}
	if ps.usualResidence && !p.AtUsualResidence {
		return fixed(fixedNotAtResidence)
	}
	if ps.careNeedsOnly != "" && len(need.CareNeeds) == 0 {
		return why{kind: whyCareNeedsOnly}
	}
	if len(ps.catchment) > 0 {
		if p.Postcode == "" {
			return fixed(fixedPostcodeUnknown)
		}
		if !area.done {
			area.district, area.sector = PostcodeDistrict(p.Postcode), PostcodeSector(p.Postcode)
			area.done = true
		}
		in := false
		for _, c := range ps.catchment {
			if c == area.district || (area.sector != "" && c == area.sector) {
				in = true
				break
			}
		}
		if !in {
			return fixed(fixedOutsideCatchment)
		}
	}
	for i, n := range need.CareNeeds {
		pj := -1
		for j := range ps.provs {
			if ps.provs[j].need == needBits[i] {
				pj = j
			}
		}
		pr := &ps.provs[pj]
		if !pr.age.admits(p) {
			return ageRejection(&pr.age, &pr.pr.Age, p, n, m, whyProvAgeUnknown, pj)
		}
		if w := checkSex(&pr.sex, p.Sex, whyProvSexUnknown, pj); w.kind != whySuitable {
			return w
		}
	}
	return openSlot(c, ps, now, winEnd, cal, load, m)
}

// admits reports whether the patient's age is known and within l (or l
// is no limit).
func (l *ageLimit) admits(p *Patient) bool {
	return l.none || (p.AgeKnown && p.AgeDays >= l.lo && (l.hi < 0 || p.AgeDays <= l.hi))
}

// ageRejection is the rejection for a patient l does not admit; a is the
// range l was made from (for the text of an age outside it); unknown and
// arg say where l's age-unknown text lives.
func ageRejection(l *ageLimit, a *AgeRange, p *Patient, need string, m *memo, unknown uint8, arg int) why {
	if !p.AgeKnown {
		return why{kind: unknown, arg: uint16(arg)}
	}
	k := memoKey{kind: 2, a: int64(l.lo), b: int64(l.hi), s: need}
	if w, ok := m.lookup(k); ok {
		return w
	}
	var buf [96]byte
	b := append(buf[:0], "age "...)
	b = appendAgeText(b, p.AgeDays, a)
	b = append(b, " outside "...)
	b = a.appendTo(b)
	if need != "" {
		b = append(append(b, " for "...), need...)
	}
	return m.put(k, RejectAge, string(b))
}

func forNeed(need string) string {
	if need == "" {
		return ""
	}
	return " for " + need
}

func appendAgeText(b []byte, days int, a *AgeRange) []byte {
	if a.MinDays > 0 || a.MaxDays > 0 {
		if days < 2*365 {
			return append(strconv.AppendInt(b, int64(days), 10), " days"...)
		}
	}
	// whole years under the 365.25-day convention
	y := days * 4 / 1461
	for yearsToDays(y+1) <= days {
		y++
	}
	for y > 0 && yearsToDays(y) > days {
		y--
	}
	return strconv.AppendInt(b, int64(y), 10)
}

// String renders the range as "16-64", "18+", "up to 17" or in days.
func (a AgeRange) String() string {
	var buf [32]byte
	return string(a.appendTo(buf[:0]))
}

func (a *AgeRange) appendTo(b []byte) []byte {
	if a.MinDays > 0 || a.MaxDays > 0 {
		lo, hi := a.minDays(), a.maxDays()
		b = strconv.AppendInt(b, int64(lo), 10)
		if hi < 0 {
			return append(b, "+ days"...)
		}
		b = append(b, '-')
		return append(strconv.AppendInt(b, int64(hi), 10), " days"...)
	}
	switch {
	case a.MaxYears > 0 && a.MinYears > 0:
		b = append(strconv.AppendInt(b, int64(a.MinYears), 10), '-')
		return strconv.AppendInt(b, int64(a.MaxYears), 10)
	case a.MaxYears > 0:
		return strconv.AppendInt(append(b, "up to "...), int64(a.MaxYears), 10)
	default:
		return append(strconv.AppendInt(b, int64(a.MinYears), 10), '+')
	}
}

// checkSex is the rejection, if any, of a patient of sex got by l;
// unknown (whySexUnknown or whyProvSexUnknown, with the other-sex kind
// after it) and arg say where l lives.
func checkSex(l *sexLimit, got string, unknown uint8, arg int) why {
	switch {
	case l.want == "" || l.want == got:
		return why{}
	case got == "":
		return why{kind: unknown, arg: uint16(arg)}
	}
	return why{kind: unknown + 1, arg: uint16(arg)}
}

// sessionsFor returns the sessions that apply on day i.
func (ps *pservice) sessionsFor(d *dayInfo) []psession {
	if ps.exceptions != nil {
		if ex, ok := ps.exceptions[d.date]; ok {
			return ex
		}
	}
	if d.bankHol {
		return ps.bankHoliday
	}
	return ps.weekly[d.weekday]
}

// openSlot finds the first session usable within [now, winEnd] with
// capacity left.
func openSlot(c *candidate, ps *pservice, now, winEnd int64, cal *calendar, load *Load, m *memo) why {
	kind := ps.capKind
	if ps.alwaysOpen {
		*c = candidate{start: now, end: now, visit: now, capacity: kind}
		if kind == CapacityPlaces {
			c.used = load.used(ps.id, kind, 0)
			if c.used >= ps.places {
				return placesFull(ps.places, m)
			}
		}
		return why{}
	}
	var fullStart int64 = -1
	var fullSlots int
	var closingAt int64 = -1
	days := cal.days()
	for i := range days {
		for _, ss := range ps.sessionsFor(&days[i]) {
			st := cal.at(i, ss.start)
			en := cal.at(i, ss.end)
			if en <= now {
				continue
			}
			if st > winEnd {
				return closedReason(fullStart, fullSlots, closingAt, st, now, cal, m)
			}
			visit := st
			if visit < now {
				visit = now
			}
			if en-visit < closingMargin {
				closingAt = en
				continue
			}
			*c = candidate{start: st, end: en, visit: visit, capacity: kind}
			switch kind {
			case CapacitySlots:
				c.used = load.used(ps.id, kind, st)
				if c.used >= ss.slots {
					if fullStart < 0 {
						fullStart, fullSlots = st, ss.slots
					}
					continue
				}
			case CapacityPlaces:
				c.used = load.used(ps.id, kind, 0)
				if c.used >= ps.places {
					return placesFull(ps.places, m)
				}
			}
			return why{}
		}
	}
	return closedReason(fullStart, fullSlots, closingAt, -1, now, cal, m)
}

func placesFull(places int, m *memo) why {
	k := memoKey{kind: 6, a: int64(places)}
	if w, ok := m.lookup(k); ok {
		return w
	}
	return m.put(k, RejectFull, "full: 0 of "+strconv.Itoa(places)+" places free")
}

func closedReason(fullStart int64, fullSlots int, closingAt, next, now int64, cal *calendar, m *memo) why {
	var k memoKey
	code := RejectClosed
	switch {
	case fullStart >= 0:
		k, code = memoKey{kind: 3, a: fullStart, b: int64(fullSlots)}, RejectFull
	case closingAt >= 0 && closingAt > now:
		k, code = memoKey{kind: 4, a: closingAt}, RejectClosingSoon
	case next >= 0:
		k = memoKey{kind: 5, a: next}
	default:
		return fixed(fixedClosedThroughout)
	}
	if w, ok := m.lookup(k); ok {
		return w
	}
	var buf [64]byte
	b := buf[:0]
	switch k.kind {
	case 3:
		b = append(b, "full: 0 of "...)
		b = strconv.AppendInt(b, int64(fullSlots), 10)
		b = append(b, " slots left in the "...)
		b = cal.appendClock(b, fullStart, now)
		b = append(b, " session"...)
	case 4:
		b = append(b, "closes at "...)
		b = cal.appendClock(b, closingAt, now)
		b = append(b, ", within 30 minutes"...)
	default:
		b = append(b, "closed until "...)
		b = cal.appendClock(b, next, now)
	}
	return m.put(k, code, string(b))
}

// appendClock appends t in London time: "08:00" on now's local day,
// "Wed 08:00" within the week, else "2026-12-29 08:00". Times on the
// calendar's days with one UTC offset are formatted from the day's
// midnight; others go through time.Time.
func (c *calendar) appendClock(b []byte, t, now int64) []byte {
	td, nd := c.dayOf(t), c.dayOf(now)
	if td == nil || nd == nil || !td.uniform || td.date.Year < 1000 || td.date.Year > 9999 {
		return appendLocalClock(b, t, now)
	}
	switch {
	case td != nd && t-now < 6*24*3600:
		b = append(b, td.weekday.String()[:3]...)
		b = append(b, ' ')
	case td != nd:
		b = append(b, td.date.String()...)
		b = append(b, ' ')
	}
	min := (t - td.midnight) / 60
	h, mm := min/60, min%60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mm/10), byte('0'+mm%10))
}

// dayOf returns the calendar day whose local midnight is the last at or
// before t, if t falls before the day after it starts; nil outside.
func (c *calendar) dayOf(t int64) *dayInfo {
	days := c.days()
	for i := len(days) - 2; i >= 0; i-- {
		if days[i].midnight <= t {
			if t < days[i+1].midnight {
				return &days[i]
			}
			return nil
		}
	}
	return nil
}

// appendLocalClock is appendClock for any instant.
func appendLocalClock(b []byte, t, now int64) []byte {
	lt := time.Unix(t, 0).In(London)
	ln := time.Unix(now, 0).In(London)
	switch {
	case lt.YearDay() == ln.YearDay() && lt.Year() == ln.Year():
		return lt.AppendFormat(b, "15:04")
	case t-now < 6*24*3600:
		return lt.AppendFormat(b, "Mon 15:04")
	}
	return lt.AppendFormat(b, "2006-01-02 15:04")
}

// haversineM is the great-circle distance in whole metres.
func haversineM(lat1, lon1, lat2, lon2 float64) int {
	const rad = math.Pi / 180
	return haversineCos(lat1, lon1, math.Cos(lat1*rad), lat2, lon2, math.Cos(lat2*rad))
}

// haversineCos is haversineM with the cosines of the latitudes given.
func haversineCos(lat1, lon1, cos1, lat2, lon2, cos2 float64) int {
	const r = 6371000.0
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	sa := math.Sin(dLat / 2)
	so := math.Sin(dLon / 2)
	h := sa*sa + cos1*cos2*so*so
	return int(math.Round(2 * r * math.Asin(math.Sqrt(math.Min(1, h)))))
}
