package routing

import "strings"

// CareNeed is one word of the care-needs vocabulary: what a triage outcome
// asks of a service (Need.CareNeeds) and what a service provides
// (Service.Provides). A service is suitable only when it provides every
// care need the outcome names.
type CareNeed struct {
	Code string `json:"code"`
	// Meaning is the need in words a receptionist understands; rejection
	// reasons read "does not provide <Meaning> (<Code>)".
	Meaning string `json:"meaning"`
	// Generic marks the need a plain outcome of a tier names (self_care,
	// minor_illness, gp_assessment, emergency): every service of that tier
	// meets it, and services of the tiers above meet it too.
	Generic Tier `json:"generic,omitempty"`
}

// careNeeds is the vocabulary, the one place it is written in code.
// protocols/FORMAT.md describes it for protocol authors; triage's lint keeps
// a copy (triage may not import routing) that the protocols package's tests
// hold equal to this list.
var careNeeds = [...]CareNeed{
	{"self_care", "self-care advice", TierSelfCare},
	{"minor_illness", "pharmacist advice and over-the-counter treatment", TierPharmacy},
	{"pharmacy_first:sinusitis", "Pharmacy First treatment for sinusitis", ""},
	{"pharmacy_first:sore_throat", "Pharmacy First treatment for a sore throat", ""},
	{"pharmacy_first:otitis_media", "Pharmacy First treatment for an ear infection", ""},
	{"pharmacy_first:insect_bite", "Pharmacy First treatment for an infected insect bite", ""},
	{"pharmacy_first:impetigo", "Pharmacy First treatment for impetigo", ""},
	{"pharmacy_first:shingles", "Pharmacy First treatment for shingles", ""},
	{"pharmacy_first:uti", "Pharmacy First treatment for a urine infection", ""},
	{"repeat_medicine", "an urgent supply of a repeat medicine", ""},
	{"emergency_contraception", "emergency contraception", ""},
	{"gp_assessment", "a GP assessment", TierGP},
	{"paediatrics", "care for a child", ""},
	{"minor_injury", "minor injury treatment", ""},
	{"xray", "an x-ray", ""},
	{"wound_care", "wound or burn care", ""},
	{"dental", "urgent dental care", ""},
	{"eye", "an urgent eye examination", ""},
	{"mental_health", "mental health crisis care", ""},
	{"maternity", "maternity assessment by a midwife", ""},
	{"catheter_care", "catheter care (a change or unblocking)", ""},
	{"emergency", "emergency department care", TierED},
	{"ucr:falls", "an urgent community response to a fall", ""},
	{"ucr:frailty", "an urgent community response to worsening frailty", ""},
	{"ucr:reduced_function", "an urgent community response to reduced function or mobility", ""},
	{"ucr:palliative", "an urgent community response for end-of-life care", ""},
	{"ucr:equipment", "urgent equipment at home", ""},
	{"ucr:delirium", "an urgent community response to new confusion", ""},
	{"ucr:catheter", "urgent catheter care at home", ""},
	{"ucr:diabetes", "urgent diabetes support at home", ""},
	{"ucr:carer_breakdown", "an urgent community response when a carer cannot cope", ""},
}

// careNeedIndex finds a code's place in careNeeds.
var careNeedIndex = func() map[string]int {
	m := make(map[string]int, len(careNeeds))
	for i, c := range careNeeds {
		m[c.Code] = i
	}
	return m
}()

// notProvidedText is "does not provide <meaning> (<code>)" for each need,
// built once so that Route does not build it per call.
var notProvidedText = func() map[string]string {
	m := make(map[string]string, len(careNeeds))
	for _, c := range careNeeds {
		m[c.Code] = "does not provide " + c.Meaning + " (" + c.Code + ")"
	}
	return m
}()

// CareNeeds returns the vocabulary in its documented order (a copy).
func CareNeeds() []CareNeed {
	out := make([]CareNeed, len(careNeeds))
	copy(out, careNeeds[:])
	return out
}

// CareNeedCodes returns the vocabulary's codes in order.
func CareNeedCodes() []string {
	out := make([]string, len(careNeeds))
	for i, c := range careNeeds {
		out[i] = c.Code
	}
	return out
}

// KnownCareNeed reports whether code is in the vocabulary.
func KnownCareNeed(code string) bool {
	_, ok := careNeedIndex[code]
	return ok
}

// CareNeedMeaning is the need in words ("a GP assessment"); an unknown
// code is returned as it is.
func CareNeedMeaning(code string) string {
	if i, ok := careNeedIndex[code]; ok {
		return careNeeds[i].Meaning
	}
	return code
}

// CareNeedWords is the need in words with its code, as explanations show
// it: "a GP assessment (gp_assessment)". An unknown code is returned as it is.
func CareNeedWords(code string) string {
	if i, ok := careNeedIndex[code]; ok {
		return careNeeds[i].Meaning + " (" + code + ")"
	}
	return code
}

// careNeedList joins needs in words: "a, b and c" (or "a, b or c").
func careNeedList(codes []string, conj string) string {
	var b strings.Builder
	for i, c := range codes {
		switch {
		case i == 0:
		case i == len(codes)-1:
			b.WriteString(" " + conj + " ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(CareNeedWords(c))
	}
	return b.String()
}

// GenericCareNeed is the need a plain outcome of tier t names ("" for the
// rapid response tier, whose outcomes always name an urgent community
// response group).
func GenericCareNeed(t Tier) string {
	if t.Rank() < 0 {
		return ""
	}
	for _, c := range careNeeds {
		if c.Generic == t {
			return c.Code
		}
	}
	return ""
}

// TierWords names a tier as reception says it ("GP", "pharmacy").
func TierWords(t Tier) string {
	switch t {
	case TierSelfCare:
		return "self-care"
	case TierPharmacy:
		return "pharmacy"
	case TierGP:
		return "GP"
	case TierRapidResponse:
		return "urgent community response"
	case TierED:
		return "emergency department"
	}
	return string(t)
}
