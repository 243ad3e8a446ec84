package routing

import (
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"unicode/utf8"
)

// Rejections is every service a Route call did not choose, with why.
//
// Route keeps them as compact codes: for each service its number in the
// directory's index, a reason code with one small argument, and a
// distance (12 bytes each). The reason's text is rendered when the list
// is read (At, All, MarshalJSON), from the directory index the call
// routed over (immutable once built, so a later directory change cannot
// alter what an old decision says) and the few texts the call built
// (opening times, age ranges), so routing over 2,000 services builds no
// text per service. A list decoded from JSON, or made by Rejected, holds
// rendered Rejection values. The JSON form is the same either way:
// byte for byte what a []Rejection encodes to.
type Rejections struct {
	c    considered  // Route's compact form (c.svcs != nil)
	list []Rejection // the rendered form otherwise
}

// Rejected is a Rejections holding the given list as it is.
func Rejected(list []Rejection) Rejections { return Rejections{list: list} }

// considered is the compact form.
type considered struct {
	svcs        []pservice // the index routed over
	texts       []reason   // the texts the call built (whyText)
	notProvided []string   // by index in Need.CareNeeds (whyNotProvided)
	dists       []int32    // metres to each suitable service not chosen (whyNotChosen)
	rules       int
	items       []compactRejection
}

type compactRejection struct {
	svc int32 // index in svcs
	why
}

// MaxServices is the most services a directory may hold: a rejection's
// argument (a text built per service, a suitable service's distance)
// is numbered in 16 bits. A centre's area has a few thousand.
const MaxServices = 60000

// why is a rejection's reason as a code and an argument; the zero why
// means the service is suitable.
type why struct {
	kind uint8
	arg  uint16
}

// reason kinds: where the text of a rejection lives.
const (
	whySuitable       = iota
	whyFixed          // fixedReasons[arg]
	whyText           // considered.texts[arg]: built by the call
	whyNotProvided    // considered.notProvided[arg]
	whyAgeUnknown     // the service's age limit
	whySexUnknown     // the service's sex limit, patient's sex unknown
	whySexOther       // the service's sex limit, patient of the other sex
	whyProvAgeUnknown // provision arg's age limit
	whyProvSexUnknown // provision arg's sex limit, sex unknown
	whyProvSexOther   // provision arg's sex limit, the other sex
	whyNotRegistered  // the service sees its registered patients only
	whyCareNeedsOnly  // the service sees named care needs only
	// whyNotChosen + 0..4: suitable but another came first, for the
	// reason fixedReasons[fixedNotChosenDedicate + kind-whyNotChosen];
	// arg numbers its distance in considered.dists
	whyNotChosen
)

// reason is a rejection code with its text.
type reason struct{ code, text string }

// fixedReasons are the texts that depend on nothing but the code.
var fixedReasons = [...]reason{
	fixedStatusRed:         {RejectStatusRed, "status red"},
	fixedNotAtResidence:    {RejectNotAtResidence, "sees patients only at their usual residence"},
	fixedPostcodeUnknown:   {RejectPostcodeUnknown, "postcode unknown, service has a catchment"},
	fixedOutsideCatchment:  {RejectOutsideCatchment, "outside catchment"},
	fixedClosedThroughout:  {RejectClosed, "closed throughout the timeframe"},
	fixedNotChosenDedicate: {RejectNotChosen, "suitable, but a service dedicated to this care comes first"},
	fixedNotChosenOwn:      {RejectNotChosen, "suitable, but the patient's own practice comes first"},
	fixedNotChosenFurther:  {RejectNotChosen, "suitable, but further away"},
	fixedNotChosenBusier:   {RejectNotChosen, "suitable, but busier"},
	fixedNotChosenTie:      {RejectNotChosen, "suitable, tie broken by id"},
}

const (
	fixedStatusRed = iota
	fixedNotAtResidence
	fixedPostcodeUnknown
	fixedOutsideCatchment
	fixedClosedThroughout
	fixedNotChosenDedicate
	fixedNotChosenOwn
	fixedNotChosenFurther
	fixedNotChosenBusier
	fixedNotChosenTie
)

func fixed(i int) why { return why{kind: whyFixed, arg: uint16(i)} }

// Len is the number of services rejected.
func (r *Rejections) Len() int {
	if r.c.svcs != nil {
		return len(r.c.items)
	}
	return len(r.list)
}

// At renders the i'th rejection.
func (r *Rejections) At(i int) Rejection {
	if r.c.svcs == nil {
		return r.list[i]
	}
	it := &r.c.items[i]
	ps := &r.c.svcs[it.svc]
	code, text := r.c.render(it.why, ps)
	return Rejection{ServiceID: ps.id, Tier: ps.tier, Code: code, Reason: text, DistanceM: r.c.dist(it.why)}
}

// All renders the rejections in order.
func (r *Rejections) All() iter.Seq2[int, Rejection] {
	return func(yield func(int, Rejection) bool) {
		for i := range r.Len() {
			if !yield(i, r.At(i)) {
				return
			}
		}
	}
}

// List renders every rejection into a new slice (nil for a list that is
// null in JSON).
func (r *Rejections) List() []Rejection {
	if r.c.svcs == nil {
		return r.list
	}
	out := make([]Rejection, r.Len())
	for i := range out {
		out[i] = r.At(i)
	}
	return out
}

// dist is the distance a rejection records: a suitable service's, 0 for
// others.
func (c *considered) dist(w why) int {
	if w.kind >= whyNotChosen {
		return int(c.dists[w.arg])
	}
	return 0
}

// render is the code and text of w for service ps.
func (c *considered) render(w why, ps *pservice) (code, text string) {
	if w.kind >= whyNotChosen {
		f := &fixedReasons[fixedNotChosenDedicate+int(w.kind-whyNotChosen)]
		return f.code, f.text
	}
	switch w.kind {
	case whyFixed:
		f := &fixedReasons[w.arg]
		return f.code, f.text
	case whyText:
		t := &c.texts[w.arg]
		return t.code, t.text
	case whyNotProvided:
		return RejectNotProvided, c.notProvided[w.arg]
	case whyAgeUnknown:
		return RejectAgeUnknown, ps.age.unknown
	case whySexUnknown:
		return RejectSex, ps.sex.unknown
	case whySexOther:
		return RejectSex, ps.sex.other
	case whyProvAgeUnknown:
		return RejectAgeUnknown, ps.provs[w.arg].age.unknown
	case whyProvSexUnknown:
		return RejectSex, ps.provs[w.arg].sex.unknown
	case whyProvSexOther:
		return RejectSex, ps.provs[w.arg].sex.other
	case whyNotRegistered:
		return RejectNotRegistered, ps.registeredOnly
	case whyCareNeedsOnly:
		if c.rules >= RulesWords {
			return RejectCareNeedsOnly, ps.careNeedsOnlyWords
		}
		return RejectCareNeedsOnly, ps.careNeedsOnly
	}
	panic(fmt.Sprintf("routing: rejection kind %d", w.kind))
}

// MarshalJSON writes the list as a []Rejection encodes, rendering the
// compact form straight into the output.
func (r Rejections) MarshalJSON() ([]byte, error) {
	if r.c.svcs == nil {
		return json.Marshal(r.list)
	}
	b := make([]byte, 0, 16+len(r.c.items)*112)
	b = append(b, '[')
	for i := range r.c.items {
		if i > 0 {
			b = append(b, ',')
		}
		it := &r.c.items[i]
		ps := &r.c.svcs[it.svc]
		code, text := r.c.render(it.why, ps)
		b = append(b, `{"service_id":`...)
		b = appendJSONString(b, ps.id)
		b = append(b, `,"tier":`...)
		b = appendJSONString(b, string(ps.tier))
		b = append(b, `,"code":`...)
		b = appendJSONString(b, code)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, text)
		if d := r.c.dist(it.why); d != 0 {
			b = append(b, `,"distance_m":`...)
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads the rendered form.
func (r *Rejections) UnmarshalJSON(b []byte) error {
	var list []Rejection
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*r = Rejections{list: list}
	return nil
}

// appendJSONString appends s quoted as encoding/json quotes it: plain
// printable ASCII directly, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// IsZero reports an empty list, so that a field tagged omitzero is
// omitted exactly when a []Rejection tagged omitempty was.
func (r Rejections) IsZero() bool { return r.Len() == 0 }
