package triage

import "fmt"

// Tier is the level of care, from least to most intensive.
type Tier string

// Tiers, in increasing order of intensity.
const (
	SelfCare      Tier = "self_care"
	Pharmacy      Tier = "pharmacy"
	GP            Tier = "gp"
	RapidResponse Tier = "rapid_response"
	ED            Tier = "ed"
)

// Rank orders tiers: self_care 1 < pharmacy 2 < gp 3 < rapid_response 4 < ed 5;
// an unknown tier ranks 0.
func (t Tier) Rank() int {
	switch t {
	case SelfCare:
		return 1
	case Pharmacy:
		return 2
	case GP:
		return 3
	case RapidResponse:
		return 4
	case ED:
		return 5
	}
	return 0
}

// Valid reports whether t is one of the five tiers.
func (t Tier) Valid() bool { return t.Rank() > 0 }

// Timeframe is how soon the care must happen.
type Timeframe string

// Timeframes, most urgent first.
const (
	Immediate Timeframe = "immediate"
	Within1h  Timeframe = "1h"
	Within2h  Timeframe = "2h"
	Within4h  Timeframe = "4h"
	Within6h  Timeframe = "6h"
	Within12h Timeframe = "12h"
	Within24h Timeframe = "24h"
	Within72h Timeframe = "72h"
	Within1w  Timeframe = "1w"
	NoTime    Timeframe = "none"
)

var timeframes = [...]Timeframe{Immediate, Within1h, Within2h, Within4h, Within6h, Within12h, Within24h, Within72h, Within1w, NoTime}

// Urgency ranks a timeframe: immediate 10 ... none 1; unknown 0.
func (tf Timeframe) Urgency() int {
	for i, t := range timeframes {
		if t == tf {
			return len(timeframes) - i
		}
	}
	return 0
}

// Valid reports whether tf is a known timeframe.
func (tf Timeframe) Valid() bool { return tf.Urgency() > 0 }

// Intensity orders dispositions: by tier, then by the urgency of the timeframe.
// The final outcome of a session is the one of highest intensity.
func Intensity(t Tier, tf Timeframe) int { return t.Rank()*16 + tf.Urgency() }

// AnswerType is the kind of answer a question takes.
type AnswerType string

// Answer types.
const (
	YesNo  AnswerType = "yes_no"
	Choice AnswerType = "choice"
	Number AnswerType = "number"
)

// Answer values shared by every question type.
const (
	Yes     = "yes"
	No      = "no"
	NotSure = "not_sure"
)

// Protocol kinds.
const (
	KindPresentation = "presentation"
	KindScreen       = "screen"
)

// Continue is the pseudo-node of the screen meaning "go on to the presentation".
const Continue = "continue"

// Context flags a question may set and a switch may test.
const (
	FlagPregnant         = "pregnant"
	FlagUsualResidence   = "usual_residence"
	FlagImmunosuppressed = "immunosuppressed"
	FlagAnticoagulated   = "anticoagulated"
	FlagCarerVeryWorried = "carer_very_worried"
	FlagFever            = "fever"
	// FlagInfection: an infection is possible (implied by infection
	// presentations, or reported): the NG51 sepsis questions apply.
	FlagInfection = "infection"
	// FlagDNACPR: a do-not-attempt-CPR decision is in place. It changes the
	// resuscitation advice only, never the tier.
	FlagDNACPR = "dnacpr"
	// FlagAdvanceCarePlan: an advance care plan or a wish to die at home
	// (end of life): routed by the plan, never given generic ambulance advice.
	FlagAdvanceCarePlan = "advance_care_plan"
	// FlagAlone: attending or calling alone, nobody with them to be worried:
	// the worry question asks about their own worry.
	FlagAlone = "alone"
	flagCount = 10
)

var flagNames = [flagCount]string{FlagPregnant, FlagUsualResidence, FlagImmunosuppressed, FlagAnticoagulated, FlagCarerVeryWorried, FlagFever,
	FlagInfection, FlagDNACPR, FlagAdvanceCarePlan, FlagAlone}

// SetsPreviousContacts is the `sets:` of a number question whose answer is
// how many earlier contacts (NHS 111, a GP, this centre) the person reports
// for this problem in the last 96 hours; the repeat-contact check counts the
// larger of that and what the record shows.
const SetsPreviousContacts = "previous_contacts"

// FlagNames lists the context flags a patient may carry.
func FlagNames() []string { return append([]string(nil), flagNames[:]...) }

// NotSureSets reports whether a "not sure" answer to a question that sets
// flag sets it. A sign or a risk that changes the urgency counts when the
// person is unsure (anticoagulated, fever, infection); a statement about
// them does not ("carer very worried: not sure" is not "very worried"; an
// unsure usual residence, plan or DNACPR is unknown). An unsure immune
// status is left for whoever sees them to check (the screen records it as a
// finding; chemotherapy with a possible infection is asked on its own and
// brings a clinician in when unsure). Under rules 0 every flag but
// usual_residence was set by "not sure".
func NotSureSets(flag string, rules int) bool {
	if rules < 1 {
		return flag != FlagUsualResidence
	}
	switch flag {
	case FlagAnticoagulated, FlagFever, FlagInfection:
		return true
	}
	return false
}

func flagBit(name string) (uint16, bool) {
	for i, n := range flagNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// Protocol is one parsed protocol file.
type Protocol struct {
	ID        string    `yaml:"id" json:"id"`
	Version   int       `yaml:"version" json:"version"`
	Kind      string    `yaml:"kind" json:"kind"`
	Title     string    `yaml:"title" json:"title"`
	Synonyms  []string  `yaml:"synonyms" json:"synonyms,omitempty"`
	Guidance  []string  `yaml:"guidance" json:"guidance,omitempty"`
	AppliesTo AppliesTo `yaml:"applies_to" json:"applies_to"`
	// Usually is who usually has this presentation. The complaint search
	// ranks a person outside it lower; it never hides the protocol (an
	// unknown age or sex demotes nothing, and people do not always fit).
	Usually      *Usually `yaml:"usually" json:"usually,omitempty"`
	ImpliesFlags []string `yaml:"implies_flags" json:"implies_flags,omitempty"`
	// ChiefComplaint is the presentation's Emergency Care Data Set chief
	// complaint: SNOMED CT concept ids from the vendored ECDS list, or
	// frontdoor's documented local fallbacks (LOCAL:...) where no code is
	// known with confidence (triage/coding). LintCoding checks them.
	ChiefComplaint []string   `yaml:"chief_complaint" json:"chief_complaint,omitempty"`
	Start          string     `yaml:"start" json:"start"`
	Nodes          []*Node    `yaml:"nodes" json:"nodes"`
	Outcomes       []*Outcome `yaml:"outcomes" json:"outcomes"`

	// File is the file name the protocol came from; Hash the hex SHA-256 of its bytes.
	File string `yaml:"-" json:"file"`
	Hash string `yaml:"-" json:"hash"`
	// Line numbers for lint messages.
	Line      int `yaml:"-" json:"-"`
	StartLine int `yaml:"-" json:"-"`
	// ChiefComplaintLine is the line of chief_complaint (or of the protocol).
	ChiefComplaintLine int `yaml:"-" json:"-"`

	nodeIdx    map[string]int
	outcomeIdx map[string]int
	startRef   ref
	implied    uint16
}

// AppliesTo is the age range that may start a protocol: [min, max) in years.
type AppliesTo struct {
	MinAgeYears *int `yaml:"min_age_years" json:"min_age_years,omitempty"`
	MaxAgeYears *int `yaml:"max_age_years" json:"max_age_years,omitempty"`
	Line        int  `yaml:"-" json:"-"`
}

// Usually is the usual patient of a presentation, for search ranking only:
// sex (female | male, empty for either) and ages [min, max) in years.
type Usually struct {
	Sex         string `yaml:"sex" json:"sex,omitempty"`
	MinAgeYears *int   `yaml:"min_age_years" json:"min_age_years,omitempty"`
	MaxAgeYears *int   `yaml:"max_age_years" json:"max_age_years,omitempty"`
}

// Node is a question, a switch on the patient context, or a floor.
type Node struct {
	ID string `yaml:"id" json:"id"`
	// Question nodes.
	Question string      `yaml:"question" json:"question,omitempty"`
	Help     string      `yaml:"help" json:"help,omitempty"`
	Type     AnswerType  `yaml:"type" json:"type,omitempty"`
	Sets     string      `yaml:"sets" json:"sets,omitempty"`
	NG143    string      `yaml:"ng143" json:"ng143,omitempty"` // red | amber: a "yes" is this NG143 feature
	Branches *Branches   `yaml:"branches" json:"branches,omitempty"`
	Unit     string      `yaml:"unit" json:"unit,omitempty"`
	Min      *float64    `yaml:"min" json:"min,omitempty"`
	Max      *float64    `yaml:"max" json:"max,omitempty"`
	Ranges   []*Range    `yaml:"ranges" json:"ranges,omitempty"`
	Choices  []*ChoiceOp `yaml:"choices" json:"choices,omitempty"`
	NotSure  string      `yaml:"not_sure" json:"not_sure,omitempty"`
	// Group names a form: the questions of one group that the walk would
	// reach if every one were answered "no" are asked together, in one step
	// (the desk observations, the caller's screen).
	Group string `yaml:"group" json:"group,omitempty"`
	// Observed marks a sign that is seen or checked, not recalled: reception
	// looks at a walk-in, the call handler hears the caller, a lay person
	// does a check they are told how to do (FAST, the glass test). "not_sure"
	// to it means "could not see or do it".
	Observed bool `yaml:"observed" json:"observed,omitempty"`
	// FollowUp marks the plain follow-up of an uncertain red-flag answer.
	FollowUp bool `yaml:"follow_up" json:"follow_up,omitempty"`
	// SameAs names observations that answer this question when they were
	// answered yes or no (e.g. screen.desk_breathing): what reception saw at
	// the desk is not asked again.
	SameAs []string `yaml:"same_as" json:"same_as,omitempty"`
	// NG133 marks a pregnancy red flag: a "yes" is that NICE NG133 feature
	// (red: maternity assessment now; amber: within the hour).
	NG133 string `yaml:"ng133" json:"ng133,omitempty"`
	// Switch nodes.
	Switch []*SwitchCase `yaml:"switch" json:"switch,omitempty"`
	// Floor nodes.
	Floor string `yaml:"floor" json:"floor,omitempty"`
	Next  string `yaml:"next" json:"next,omitempty"`
	// Reason says what was found (or not ruled out) that sets the floor,
	// e.g. "stroke not ruled out: face, arms and speech not checked".
	Reason string `yaml:"reason" json:"reason,omitempty"`

	Line int `yaml:"-" json:"-"`

	notSureRef ref
	yesRef     ref
	noRef      ref
	nextRef    ref
	floorIdx   int
	setsBit    uint16
}

// NodeKind names what a node does.
func (n *Node) NodeKind() string {
	switch {
	case n.Switch != nil:
		return "switch"
	case n.Floor != "":
		return "floor"
	default:
		return "question"
	}
}

// Branches are the targets of a yes/no question.
type Branches struct {
	Yes     string `yaml:"yes" json:"yes"`
	No      string `yaml:"no" json:"no"`
	NotSure string `yaml:"not_sure" json:"not_sure"`
	Line    int    `yaml:"-" json:"-"`
}

// Range is one band of a number question: [From, Below).
type Range struct {
	From  *float64 `yaml:"from" json:"from,omitempty"`
	Below *float64 `yaml:"below" json:"below,omitempty"`
	Next  string   `yaml:"next" json:"next"`
	Line  int      `yaml:"-" json:"-"`
	ref   ref
}

// ChoiceOp is one option of a choice question.
type ChoiceOp struct {
	Value string `yaml:"value" json:"value"`
	Label string `yaml:"label" json:"label"`
	Next  string `yaml:"next" json:"next"`
	Line  int    `yaml:"-" json:"-"`
	ref   ref
}

// SwitchCase is one entry of a switch: the first whose When holds is taken.
type SwitchCase struct {
	When *When  `yaml:"when" json:"when,omitempty"`
	Next string `yaml:"next" json:"next"`
	Line int    `yaml:"-" json:"-"`
	ref  ref
}

// When is a conjunction of conditions on the patient context.
type When struct {
	AgeUnderYears *int   `yaml:"age_under_years" json:"age_under_years,omitempty"`
	AgeFromYears  *int   `yaml:"age_from_years" json:"age_from_years,omitempty"`
	AgeUnderDays  *int   `yaml:"age_under_days" json:"age_under_days,omitempty"`
	AgeFromDays   *int   `yaml:"age_from_days" json:"age_from_days,omitempty"`
	Sex           string `yaml:"sex" json:"sex,omitempty"`
	Pregnant      string `yaml:"pregnant" json:"pregnant,omitempty"`
	Channel       string `yaml:"channel" json:"channel,omitempty"`
	Flag          string `yaml:"flag" json:"flag,omitempty"`
	AgeUnknown    *bool  `yaml:"age_unknown" json:"age_unknown,omitempty"`
	NEWS2Complete *bool  `yaml:"news2_complete" json:"news2_complete,omitempty"`
	// ObservationsNormal: a complete set of observations scoring NEWS2 0
	// (adults 16+, not pregnant) is (true) or is not (false) recorded.
	ObservationsNormal *bool `yaml:"observations_normal" json:"observations_normal,omitempty"`
	// GestationFromWeeks: pregnant, at this many completed weeks or more.
	GestationFromWeeks *int `yaml:"gestation_from_weeks" json:"gestation_from_weeks,omitempty"`
	// Postnatal: gave birth in the last 6 weeks (true) or not (false).
	Postnatal *bool `yaml:"postnatal" json:"postnatal,omitempty"`
	// TemperatureFromC: a temperature of at least this was measured.
	TemperatureFromC *float64 `yaml:"temperature_from_c" json:"temperature_from_c,omitempty"`
	Line             int      `yaml:"-" json:"-"`
}

func (w *When) hasAge() bool {
	return w.AgeUnderYears != nil || w.AgeFromYears != nil || w.AgeUnderDays != nil || w.AgeFromDays != nil
}

func (w *When) onlyAge() bool {
	return w.hasAge() && w.Sex == "" && w.Pregnant == "" && w.Channel == "" && w.Flag == "" && w.AgeUnknown == nil && w.NEWS2Complete == nil &&
		w.ObservationsNormal == nil && w.GestationFromWeeks == nil && w.Postnatal == nil && w.TemperatureFromC == nil
}

// Outcome is a disposition: tier, Dx code, timeframe, care needs and advice.
type Outcome struct {
	ID        string    `yaml:"id" json:"id"`
	Tier      Tier      `yaml:"tier" json:"tier"`
	Dx        string    `yaml:"dx" json:"dx"`
	Timeframe Timeframe `yaml:"timeframe" json:"timeframe"`
	CareNeeds []string  `yaml:"care_needs" json:"care_needs"`
	Title     string    `yaml:"title" json:"title"`
	Advice    string    `yaml:"advice" json:"advice"`
	SafetyNet string    `yaml:"safety_net" json:"safety_net"`
	Guidance  string    `yaml:"guidance" json:"guidance,omitempty"`
	// Stream marks a screen outcome that is not a destination but a
	// clinician's assessment first: clinician_now (a walk-in is seen by the
	// centre's clinician at once) or clinician_callback (an NHS 111 caller is
	// called back by a clinician within the timeframe). Only floors use them.
	Stream string `yaml:"stream" json:"stream,omitempty"`
	Line   int    `yaml:"-" json:"-"`
}

// FloorClinicianFirst is the floor a presentation names to bring a
// clinician in first when a red-flag answer stays uncertain: the screen's
// clinician_now outcome (clinician_callback for an NHS 111 caller).
const FloorClinicianFirst = "clinician_first"

// floorClinicianFirstIdx marks a floor node resolved to FloorClinicianFirst.
const floorClinicianFirstIdx = -2

// Streams of a clinician-first outcome.
const (
	StreamClinicianNow      = "clinician_now"
	StreamClinicianCallback = "clinician_callback"
)

// Intensity of the outcome (see the package function Intensity).
func (o *Outcome) Intensity() int { return Intensity(o.Tier, o.Timeframe) }

// ref is a resolved branch target: >= 0 a node index, refContinue, or an
// outcome encoded as -(index+2)... see below. refNone marks an unresolved target.
type ref int32

const (
	refNone     ref = -1 << 30
	refContinue ref = -1
)

func outcomeRef(i int) ref    { return ref(-(i + 2)) }
func (r ref) isOutcome() bool { return r <= -2 && r != refNone }
func (r ref) outcome() int    { return int(-r) - 2 }
func (r ref) isNode() bool    { return r >= 0 }

// NodeByID returns the node with that id.
func (p *Protocol) NodeByID(id string) (*Node, bool) {
	i, ok := p.nodeIdx[id]
	if !ok {
		return nil, false
	}
	return p.Nodes[i], true
}

// OutcomeByID returns the outcome with that id.
func (p *Protocol) OutcomeByID(id string) (*Outcome, bool) {
	i, ok := p.outcomeIdx[id]
	if !ok {
		return nil, false
	}
	return p.Outcomes[i], true
}

func (p *Protocol) String() string { return fmt.Sprintf("%s v%d", p.ID, p.Version) }
