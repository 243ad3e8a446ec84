package triage

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Lint rules. Every LintError names one.
const (
	RuleParse            = "parse"
	RuleField            = "field"
	RuleDuplicateID      = "duplicate_id"
	RuleDanglingRef      = "dangling_ref"
	RuleUnreachable      = "unreachable"
	RuleCycle            = "cycle"
	RuleAnswerType       = "answer_type"
	RuleMissingOutcome   = "missing_outcome"
	RuleMissingSafetyNet = "missing_safety_net"
	RuleAgeBandGap       = "age_band_gap"
	RuleNotSureUnsafe    = "not_sure_unsafe"
	RuleRangeGap         = "range_gap"
	// RuleCareNeeds: an outcome names no care need, so any service of its
	// tier would look suitable (a generic GP outcome sent to a dental service).
	RuleCareNeeds = "care_needs"
	// RuleChoiceNone: a choice question offers no "None of these".
	RuleChoiceNone = "choice_none"
	// RulePolarity: "no" to a yes/no question leads straight to more
	// intensive care than anything "yes" can reach: the worrying answer
	// must be "yes".
	RulePolarity = "polarity"
)

// LintError is one problem in a protocol file, with where and how to fix it.
type LintError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

func (e LintError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s (fix: %s)", e.File, e.Line, e.Rule, e.Message, e.Hint)
}

var (
	idRE = regexp.MustCompile(`^[a-z0-9]+([_-][a-z0-9]+)*$`)
	dxRE = regexp.MustCompile(`^Dx[0-9]{2,5}$`)
)

// careNeedVocab: what an outcome can ask of a service (protocols/FORMAT.md;
// the directory's services provide the same words).
var careNeedVocab = map[string]bool{
	"self_care": true, "gp_assessment": true, "emergency": true, "emergency_contraception": true,
	"pharmacy_first:sinusitis": true, "pharmacy_first:sore_throat": true, "pharmacy_first:otitis_media": true,
	"pharmacy_first:insect_bite": true, "pharmacy_first:impetigo": true, "pharmacy_first:shingles": true,
	"pharmacy_first:uti": true, "minor_illness": true, "repeat_medicine": true,
	"ucr:falls": true, "ucr:frailty": true, "ucr:reduced_function": true, "ucr:palliative": true, "ucr:equipment": true,
	"ucr:delirium": true, "ucr:catheter": true, "ucr:diabetes": true, "ucr:carer_breakdown": true,
	"minor_injury": true, "xray": true, "dental": true, "mental_health": true, "maternity": true,
	"eye": true, "paediatrics": true, "wound_care": true, "catheter_care": true,
}

type linter struct {
	p    *Protocol
	errs []LintError
}

func (l *linter) add(line int, rule, hint, format string, args ...any) {
	if line <= 0 {
		line = 1
	}
	l.errs = append(l.errs, LintError{File: l.p.File, Line: line, Rule: rule, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// lintProtocol checks one protocol and links it (indexes and resolved refs).
func lintProtocol(p *Protocol) []LintError {
	l := &linter{p: p}
	l.fields()
	l.link()
	if len(p.Outcomes) == 0 {
		l.add(p.Line, RuleMissingOutcome, "add an outcomes: list with at least one outcome", "protocol has no outcomes")
	}
	l.graph()
	return l.errs
}

func (l *linter) fields() {
	p := l.p
	hintFmt := "see protocols/FORMAT.md"
	if p.ID == "" {
		l.add(p.Line, RuleField, "add id: <kebab-case name of the file>", "missing id")
	} else {
		if !idRE.MatchString(p.ID) {
			l.add(p.Line, RuleField, "use lower-case kebab-case", "id %q is not kebab-case", p.ID)
		}
		if base := strings.TrimSuffix(strings.TrimSuffix(path.Base(p.File), ".yaml"), ".yml"); base != p.ID {
			l.add(p.Line, RuleField, "rename the file or the id so that they match", "id %q does not match the file name %q", p.ID, path.Base(p.File))
		}
	}
	if p.Version < 1 {
		l.add(p.Line, RuleField, "add version: 1 (an integer, bumped on every change)", "missing or non-positive version")
	}
	switch p.Kind {
	case KindPresentation, KindScreen:
	default:
		l.add(p.Line, RuleField, "kind: presentation or kind: screen", "kind %q is not presentation or screen", p.Kind)
	}
	if strings.TrimSpace(p.Title) == "" {
		l.add(p.Line, RuleField, "add a plain-English title", "missing title")
	}
	if len(p.Guidance) == 0 {
		l.add(p.Line, RuleField, "add guidance: [the public guidance the protocol follows]", "protocol names no guidance")
	}
	if p.Start == "" {
		l.add(p.Line, RuleDanglingRef, "add start: <id of the first node>", "missing start")
	}
	if u := p.Usually; u != nil {
		if u.Sex != "" && u.Sex != "female" && u.Sex != "male" {
			l.add(p.Line, RuleField, "usually.sex: female or male (leave it out for either)", "usually: sex %q", u.Sex)
		}
		if u.MinAgeYears != nil && u.MaxAgeYears != nil && *u.MinAgeYears >= *u.MaxAgeYears || u.MinAgeYears != nil && *u.MinAgeYears < 0 {
			l.add(p.Line, RuleField, "usually: min_age_years >= 0 and below max_age_years", "usually: ages cover nobody")
		}
	}
	for _, f := range p.ImpliesFlags {
		if _, ok := flagBit(f); !ok {
			l.add(p.Line, RuleField, "use one of: "+strings.Join(flagNames[:], ", "), "implies_flags: unknown flag %q", f)
		}
	}
	if p.Kind == KindPresentation {
		a := p.AppliesTo
		switch {
		case a.MinAgeYears == nil || a.MaxAgeYears == nil:
			l.add(max(a.Line, p.Line), RuleAgeBandGap, "declare applies_to: {min_age_years: N, max_age_years: M}", "applies_to must declare min_age_years and max_age_years")
		case *a.MinAgeYears < 0 || *a.MaxAgeYears <= *a.MinAgeYears:
			l.add(a.Line, RuleAgeBandGap, "min_age_years must be >= 0 and below max_age_years", "applies_to covers no ages (%d to %d)", *a.MinAgeYears, *a.MaxAgeYears)
		}
	}
	for _, n := range p.Nodes {
		if n.ID == "" {
			l.add(n.Line, RuleField, "give every node an id", "node without id")
		} else if !idRE.MatchString(n.ID) {
			l.add(n.Line, RuleField, "use lower-case letters, digits, _ and -", "node id %q is not a plain identifier", n.ID)
		}
		if n.Sets == SetsPreviousContacts {
			if n.Type != Number {
				l.add(n.Line, RuleAnswerType, "sets: previous_contacts goes on a number question", "sets: previous_contacts on a %s question", n.Type)
			}
		} else if n.Sets != "" {
			if _, ok := flagBit(n.Sets); !ok {
				l.add(n.Line, RuleField, "use one of: "+strings.Join(flagNames[:], ", "), "sets: unknown flag %q", n.Sets)
			}
			if n.Type != YesNo {
				l.add(n.Line, RuleAnswerType, "only yes_no questions may set a flag", "sets on a %s question", n.Type)
			}
		}
		if n.NG133 != "" && n.NG133 != "red" && n.NG133 != "amber" {
			l.add(n.Line, RuleField, "ng133: red or ng133: amber", "ng133: %q is not red or amber", n.NG133)
		}
		if (n.Group != "" || n.Observed || n.FollowUp || n.NG133 != "") && n.NodeKind() != "question" {
			l.add(n.Line, RuleField, "group, observed, follow_up and ng133 belong on questions", "node %s is a %s", n.ID, n.NodeKind())
		}
		if n.Group != "" && n.Type != YesNo {
			l.add(n.Line, RuleAnswerType, "a form (group) asks yes_no questions only", "group on a %s question", n.Type)
		}
		if n.Reason != "" && n.NodeKind() != "floor" {
			l.add(n.Line, RuleField, "reason: belongs on a floor node", "reason on a %s node", n.NodeKind())
		}
		if n.NG143 != "" && n.NG143 != "red" && n.NG143 != "amber" {
			l.add(n.Line, RuleField, "ng143: red or ng143: amber", "ng143: %q is not red or amber", n.NG143)
		}
		for _, c := range n.Switch {
			if c.When == nil {
				continue
			}
			w := c.When
			if w.Sex != "" && w.Sex != "female" && w.Sex != "male" && w.Sex != "unknown" {
				l.add(w.Line, RuleAnswerType, "sex: female, male or unknown", "when sex %q", w.Sex)
			}
			if w.Pregnant != "" && w.Pregnant != Yes && w.Pregnant != No && w.Pregnant != "unknown" {
				l.add(w.Line, RuleAnswerType, `pregnant: "yes", "no" or unknown (quote yes/no)`, "when pregnant %q", w.Pregnant)
			}
			if w.Channel != "" && w.Channel != ChannelWalkIn && w.Channel != ChannelNHS111 {
				l.add(w.Line, RuleAnswerType, "channel: walk_in or nhs111", "when channel %q", w.Channel)
			}
			if w.Flag != "" {
				if _, ok := flagBit(w.Flag); !ok {
					l.add(w.Line, RuleField, "use one of: "+strings.Join(flagNames[:], ", "), "when flag: unknown flag %q", w.Flag)
				}
			}
		}
	}
	for _, o := range p.Outcomes {
		if o.ID == "" {
			l.add(o.Line, RuleField, "give every outcome an id", "outcome without id")
		}
		if !o.Tier.Valid() {
			l.add(o.Line, RuleField, "tier: self_care, pharmacy, gp, rapid_response or ed", "outcome %s: tier %q", o.ID, o.Tier)
		}
		if !dxRE.MatchString(o.Dx) {
			l.add(o.Line, RuleField, "dx: an NHS 111 disposition code like Dx02 or Dx012", "outcome %s: dx %q is not Dx followed by 2-5 digits", o.ID, o.Dx)
		} else if info, ok := DxOutcome(o.Dx); ok && info.Tier != o.Tier && o.Tier.Valid() {
			l.add(o.Line, RuleField, fmt.Sprintf("use tier %s for %s, or pick a Dx of tier %s", info.Tier, o.Dx, o.Tier), "outcome %s: dx %s means tier %s, not %s", o.ID, o.Dx, info.Tier, o.Tier)
		}
		if !o.Timeframe.Valid() {
			l.add(o.Line, RuleField, "timeframe: immediate, 1h, 2h, 4h, 6h, 12h, 24h, 72h, 1w or none", "outcome %s: timeframe %q", o.ID, o.Timeframe)
		} else if o.Tier == ED && o.Timeframe != Immediate && o.Timeframe != Within1h && o.Timeframe != Within4h {
			l.add(o.Line, RuleField, "ed outcomes are immediate, 1h (Dx02) or 4h (Dx03)", "outcome %s: ed with timeframe %s", o.ID, o.Timeframe)
		}
		if strings.TrimSpace(o.Title) == "" || strings.TrimSpace(o.Advice) == "" {
			l.add(o.Line, RuleField, "write a title and plain-English care advice", "outcome %s: missing title or advice", o.ID)
		}
		if strings.TrimSpace(o.SafetyNet) == "" {
			l.add(o.Line, RuleMissingSafetyNet, "add safety_net: when to seek help again or call 999", "outcome %s has no safety_net", o.ID)
		}
		switch o.Stream {
		case "":
		case StreamClinicianNow, StreamClinicianCallback:
			if p.Kind != KindScreen {
				l.add(o.Line, RuleField, "only the screen's outcomes may be a clinician-first stream", "outcome %s: stream outside the screen", o.ID)
			}
		default:
			l.add(o.Line, RuleField, "stream: clinician_now or clinician_callback", "outcome %s: stream %q", o.ID, o.Stream)
		}
		if len(o.CareNeeds) == 0 {
			l.add(o.Line, RuleCareNeeds, "add care_needs: what the receiving service must provide (gp_assessment, emergency, self_care, minor_illness, ... in protocols/FORMAT.md)",
				"outcome %s names no care need", o.ID)
		}
		for _, c := range o.CareNeeds {
			if !careNeedVocab[c] {
				l.add(o.Line, RuleField, "use a care need from the vocabulary in protocols/FORMAT.md", "outcome %s: unknown care need %q", o.ID, c)
			}
		}
	}
	_ = hintFmt
}

// link builds the indexes and resolves every reference.
func (l *linter) link() {
	p := l.p
	p.nodeIdx = make(map[string]int, len(p.Nodes))
	p.outcomeIdx = make(map[string]int, len(p.Outcomes))
	lines := map[string]int{}
	for i, n := range p.Nodes {
		if n.ID == "" {
			continue
		}
		if prev, dup := lines[n.ID]; dup {
			l.add(n.Line, RuleDuplicateID, "rename one of them", "duplicate id %q (first at line %d)", n.ID, prev)
			continue
		}
		lines[n.ID] = n.Line
		p.nodeIdx[n.ID] = i
	}
	for i, o := range p.Outcomes {
		if o.ID == "" {
			continue
		}
		if prev, dup := lines[o.ID]; dup {
			l.add(o.Line, RuleDuplicateID, "rename one of them (nodes and outcomes share one namespace)", "duplicate id %q (first at line %d)", o.ID, prev)
			continue
		}
		lines[o.ID] = o.Line
		p.outcomeIdx[o.ID] = i
	}
	for _, f := range p.ImpliesFlags {
		if b, ok := flagBit(f); ok {
			p.implied |= b
		}
	}
	resolve := func(target string, line int, what string) ref {
		if target == "" {
			l.add(line, RuleDanglingRef, "name a node or outcome id", "%s has no target", what)
			return refNone
		}
		if target == Continue {
			if p.Kind != KindScreen {
				l.add(line, RuleDanglingRef, "only the screen may use continue", "%s: continue outside the screen", what)
				return refNone
			}
			return refContinue
		}
		if i, ok := p.nodeIdx[target]; ok {
			return ref(i)
		}
		if i, ok := p.outcomeIdx[target]; ok {
			return outcomeRef(i)
		}
		l.add(line, RuleDanglingRef, "define a node or outcome with that id, or correct the spelling", "%s: %q is not a node or outcome", what, target)
		return refNone
	}
	if p.Start != "" {
		p.startRef = resolve(p.Start, p.StartLine, "start")
	} else {
		p.startRef = refNone
	}
	for _, n := range p.Nodes {
		n.yesRef, n.noRef, n.notSureRef, n.nextRef, n.floorIdx = refNone, refNone, refNone, refNone, -1
		if n.Sets != "" {
			n.setsBit, _ = flagBit(n.Sets)
		}
		kinds := 0
		if n.Question != "" || n.Type != "" {
			kinds++
		}
		if n.Switch != nil {
			kinds++
		}
		if n.Floor != "" {
			kinds++
		}
		if kinds != 1 {
			l.add(n.Line, RuleAnswerType, "a node is a question (question+type), a switch, or a floor (floor+next)", "node %s is %d kinds of node at once", n.ID, kinds)
			continue
		}
		switch n.NodeKind() {
		case "switch":
			if len(n.Switch) == 0 {
				l.add(n.Line, RuleMissingOutcome, "give the switch at least a default entry (next: without when)", "switch %s is empty", n.ID)
			}
			for _, c := range n.Switch {
				c.ref = resolve(c.Next, c.Line, "switch "+n.ID)
			}
			l.switchDefault(n)
		case "floor":
			if i, ok := p.outcomeIdx[n.Floor]; ok {
				n.floorIdx = i
			} else if n.Floor == FloorClinicianFirst && p.Kind == KindPresentation {
				n.floorIdx = floorClinicianFirstIdx
				if n.Reason == "" {
					l.add(n.Line, RuleField, "say what stays uncertain, e.g. reason: \"heavy or spreading chest pain not ruled out\"", "floor %s: clinician_first needs a reason", n.ID)
				}
			} else {
				l.add(n.Line, RuleDanglingRef, "floor: must name an outcome of this protocol", "floor %s: %q is not an outcome", n.ID, n.Floor)
			}
			n.nextRef = resolve(n.Next, n.Line, "floor "+n.ID+" next")
		default:
			l.question(n, resolve)
		}
	}
}

func (l *linter) question(n *Node, resolve func(string, int, string) ref) {
	if strings.TrimSpace(n.Question) == "" {
		l.add(n.Line, RuleField, "write the question in plain English", "question %s has no text", n.ID)
	}
	hasNum := n.Min != nil || n.Max != nil || len(n.Ranges) > 0 || n.Unit != ""
	switch n.Type {
	case YesNo:
		if len(n.Choices) > 0 || hasNum || n.NotSure != "" {
			l.add(n.Line, RuleAnswerType, "a yes_no question has only branches: {yes, no, not_sure}", "yes_no question %s has choices, ranges or a node-level not_sure", n.ID)
		}
		if n.Branches == nil {
			l.add(n.Line, RuleMissingOutcome, "add branches: {yes: ..., no: ..., not_sure: ...}", "yes_no question %s has no branches", n.ID)
			return
		}
		b := n.Branches
		n.yesRef = resolve(b.Yes, b.Line, n.ID+" yes")
		n.noRef = resolve(b.No, b.Line, n.ID+" no")
		if b.NotSure == "" {
			l.add(b.Line, RuleNotSureUnsafe, "add not_sure: pointing at the safer branch", "question %s has no not_sure branch", n.ID)
		} else {
			n.notSureRef = resolve(b.NotSure, b.Line, n.ID+" not_sure")
		}
	case Choice:
		if n.Branches != nil || hasNum {
			l.add(n.Line, RuleAnswerType, "a choice question has choices: and not_sure: only", "choice question %s has branches or ranges", n.ID)
		}
		if len(n.Choices) < 2 {
			l.add(n.Line, RuleMissingOutcome, "list at least two choices, each {value, label, next}", "choice question %s has fewer than two choices", n.ID)
		}
		if len(n.Choices) >= 2 && !slices.ContainsFunc(n.Choices, func(c *ChoiceOp) bool { return c.Value == "none" }) {
			l.add(n.Line, RuleChoiceNone, `add a choice {value: none, label: "None of these", next: ...} on the reassuring path`,
				"choice question %s offers no \"None of these\"", n.ID)
		}
		seen := map[string]int{}
		for _, c := range n.Choices {
			if c.Value == "" || c.Value == NotSure {
				l.add(c.Line, RuleAnswerType, "give each choice a value other than not_sure", "choice without a usable value in %s", n.ID)
			}
			if prev, dup := seen[c.Value]; dup {
				l.add(c.Line, RuleDuplicateID, "give each choice a distinct value", "choice value %q repeats line %d", c.Value, prev)
			}
			seen[c.Value] = c.Line
			c.ref = resolve(c.Next, c.Line, n.ID+" choice "+c.Value)
		}
		l.nodeNotSure(n, resolve)
	case Number:
		if n.Branches != nil || len(n.Choices) > 0 {
			l.add(n.Line, RuleAnswerType, "a number question has min, max, ranges and not_sure only", "number question %s has branches or choices", n.ID)
		}
		if n.Min == nil || n.Max == nil || *n.Min > *n.Max {
			l.add(n.Line, RuleAnswerType, "add min: and max: (the plausible range, min <= max)", "number question %s needs a plausible range", n.ID)
		}
		for _, r := range n.Ranges {
			r.ref = resolve(r.Next, r.Line, n.ID+" range")
		}
		l.ranges(n)
		l.nodeNotSure(n, resolve)
	default:
		l.add(n.Line, RuleAnswerType, "type: yes_no, choice or number", "question %s: type %q", n.ID, n.Type)
	}
}

func (l *linter) nodeNotSure(n *Node, resolve func(string, int, string) ref) {
	if n.NotSure == "" {
		l.add(n.Line, RuleNotSureUnsafe, "add not_sure: pointing at the safer branch", "question %s has no not_sure", n.ID)
		return
	}
	n.notSureRef = resolve(n.NotSure, n.Line, n.ID+" not_sure")
}

func (l *linter) ranges(n *Node) {
	if len(n.Ranges) == 0 {
		l.add(n.Line, RuleRangeGap, "add ranges: [{below: X, next: a}, {from: X, next: b}]", "number question %s has no ranges", n.ID)
		return
	}
	if n.Min == nil || n.Max == nil {
		return
	}
	first, last := n.Ranges[0], n.Ranges[len(n.Ranges)-1]
	if first.From != nil && *first.From > *n.Min {
		l.add(first.Line, RuleRangeGap, fmt.Sprintf("start the first range at min (%g) or drop its from:", *n.Min), "values %g to %g match no range", *n.Min, *first.From)
	}
	if last.Below != nil {
		l.add(last.Line, RuleRangeGap, "the last range has only from: (no below:)", "values from %g up to max %g match no range", *last.Below, *n.Max)
	}
	for i := 1; i < len(n.Ranges); i++ {
		prev, cur := n.Ranges[i-1], n.Ranges[i]
		if prev.Below == nil {
			l.add(prev.Line, RuleRangeGap, "only the last range may omit below:", "range without below: before the last range")
			continue
		}
		if cur.From == nil {
			l.add(cur.Line, RuleRangeGap, fmt.Sprintf("add from: %g", *prev.Below), "range after the first without from:")
			continue
		}
		if *cur.From != *prev.Below {
			kind := "gap"
			if *cur.From < *prev.Below {
				kind = "overlap"
			}
			l.add(cur.Line, RuleRangeGap, fmt.Sprintf("set from: %g to meet the previous below:", *prev.Below), "%s between %g and %g", kind, *prev.Below, *cur.From)
		}
		if cur.Below != nil && *cur.Below <= *cur.From {
			l.add(cur.Line, RuleRangeGap, "below: must be greater than from:", "empty range [%g, %g)", *cur.From, *cur.Below)
		}
	}
}

// switchDefault checks that every patient matches some entry of a switch. With a
// default (last entry without when) that always holds; without one, the entries
// that test age only must cover the whole applies_to range.
func (l *linter) switchDefault(n *Node) {
	if len(n.Switch) == 0 {
		return
	}
	for i, c := range n.Switch {
		if c.When == nil && i != len(n.Switch)-1 {
			l.add(c.Line, RuleUnreachable, "move the entry without when: to the end", "switch %s: entries after a default can never be taken", n.ID)
		}
	}
	last := n.Switch[len(n.Switch)-1]
	if last.When == nil {
		return
	}
	ageOnly := true
	for _, c := range n.Switch {
		if c.When != nil && !c.When.onlyAge() {
			ageOnly = false
		}
	}
	if ageOnly {
		a := l.p.AppliesTo
		lo, hi := 0, 120
		if a.MinAgeYears != nil && a.MaxAgeYears != nil && *a.MaxAgeYears > *a.MinAgeYears {
			lo, hi = *a.MinAgeYears, *a.MaxAgeYears
		}
		gapFrom, gapTo := -1, -1
		for d := lo * 365; d < hi*365; {
			age := ageFromDays(d)
			covered := false
			for _, c := range n.Switch {
				if c.When.matchAge(age) {
					covered = true
					break
				}
			}
			if !covered {
				if gapFrom < 0 {
					gapFrom = d
				}
				gapTo = d
			}
			if d < 3*365 {
				d++
			} else {
				d += 30
			}
		}
		if gapFrom >= 0 {
			l.add(n.Line, RuleAgeBandGap, "add a last entry without when: (a safe default), or widen the age bands",
				"switch %s: ages %s to %s (and unknown ages) match no entry", n.ID, fmtDays(gapFrom), fmtDays(gapTo))
			return
		}
	}
	l.add(last.Line, RuleMissingOutcome, "end the switch with an entry without when: (patients of unknown age, sex or pregnancy match no condition)", "switch %s has no default entry: some patients match no entry", n.ID)
}

func fmtDays(d int) string {
	if d < 730 {
		return fmt.Sprintf("%d days", d)
	}
	return fmt.Sprintf("%d years", d*4/1461)
}

// graph checks reachability, cycles and the safety of not_sure branches.
func (l *linter) graph() {
	p := l.p
	if !p.startRef.isNode() && !p.startRef.isOutcome() {
		return
	}
	nodeSeen := make([]bool, len(p.Nodes))
	outSeen := make([]bool, len(p.Outcomes))
	state := make([]uint8, len(p.Nodes)) // 0 new, 1 on stack, 2 done
	reported := false
	var visit func(r ref, from *Node)
	visit = func(r ref, from *Node) {
		switch {
		case r.isOutcome():
			outSeen[r.outcome()] = true
		case r.isNode():
			i := int(r)
			if state[i] == 1 {
				if !reported {
					line := p.Nodes[i].Line
					if from != nil {
						line = from.Line
					}
					l.add(line, RuleCycle, "point the branch forward: a protocol must be a tree/DAG with no loops",
						"cycle: %s leads back to %s", idOf(from), p.Nodes[i].ID)
					reported = true
				}
				return
			}
			if state[i] == 2 {
				return
			}
			state[i] = 1
			nodeSeen[i] = true
			n := p.Nodes[i]
			for _, t := range n.targets() {
				visit(t, n)
			}
			if n.floorIdx >= 0 {
				outSeen[n.floorIdx] = true
			}
			state[i] = 2
		}
	}
	visit(p.startRef, nil)
	for i, n := range p.Nodes {
		if !nodeSeen[i] && n.ID != "" {
			l.add(n.Line, RuleUnreachable, "link it from a branch, or delete it", "node %s is never reached from start", n.ID)
		}
	}
	now := false
	for i, o := range p.Outcomes {
		now = now || (outSeen[i] && o.Stream == StreamClinicianNow)
	}
	for i, o := range p.Outcomes {
		if now && o.Stream == StreamClinicianCallback {
			outSeen[i] = true // the NHS 111 form of clinician_now (engine: streamFor)
		}
		if !outSeen[i] && o.ID != "" {
			l.add(o.Line, RuleUnreachable, "link it from a branch, or delete it", "outcome %s is never reached from start", o.ID)
		}
	}
	if reported {
		return
	}
	// not_sure must be at least as safe as every other branch. A target is
	// summarised by the least and the most intensive outcomes reachable from it
	// (floors included). not_sure is unsafe when another answer's target is at
	// least as intensive on both counts and strictly more on one: that answer
	// is then plainly the safer branch.
	type span struct{ lo, hi int }
	memo := make([]span, len(p.Nodes))
	done := make([]bool, len(p.Nodes))
	var reach func(r ref) span
	reach = func(r ref) span {
		switch {
		case r.isOutcome():
			v := p.Outcomes[r.outcome()].Intensity()
			return span{v, v}
		case !r.isNode():
			return span{0, 0} // continue, unresolved
		}
		i := int(r)
		if done[i] {
			return memo[i]
		}
		done[i] = true
		n := p.Nodes[i]
		v := span{1 << 20, 0}
		if n.NodeKind() == "floor" {
			v = reach(n.nextRef)
			f := -1
			if n.floorIdx >= 0 {
				f = p.Outcomes[n.floorIdx].Intensity()
			} else if n.floorIdx == floorClinicianFirstIdx {
				f = Intensity(GP, Immediate)
			}
			if f >= 0 {
				v = span{max(v.lo, f), max(v.hi, f)}
			}
		} else {
			for _, t := range n.targets() {
				x := reach(t)
				v = span{min(v.lo, x.lo), max(v.hi, x.hi)}
			}
		}
		memo[i] = v
		return v
	}
	// A not_sure that goes to a clinician-first path (a follow-up question
	// whose own not_sure does, or a floor that brings a clinician in first)
	// resolves the uncertainty instead of guessing: it is safe.
	clin := make([]int8, len(p.Nodes)) // 0 unknown, 1 yes, 2 no, 3 visiting
	var clinician func(r ref) bool
	clinician = func(r ref) bool {
		if !r.isNode() {
			return false
		}
		i := int(r)
		switch clin[i] {
		case 1:
			return true
		case 2, 3:
			return false
		}
		clin[i] = 3
		n := p.Nodes[i]
		ok := false
		switch n.NodeKind() {
		case "floor":
			ok = n.floorIdx == floorClinicianFirstIdx || (n.floorIdx >= 0 && p.Outcomes[n.floorIdx].Stream != "")
		case "switch":
			// Normal observations may settle the uncertainty (weighed with
			// what is measured); every other case must bring a clinician in.
			// A case may also record the uncertainty as a finding (a floor
			// with a reason) where at least one case brings a clinician in:
			// a risk factor weighed with what else is known.
			any := false
			ok = len(n.Switch) > 0
			for _, c := range n.Switch {
				settled := c.When != nil && c.When.ObservationsNormal != nil && *c.When.ObservationsNormal
				cl := clinician(c.ref)
				any = any || cl
				noted := c.ref.isNode() && p.Nodes[c.ref].NodeKind() == "floor" && p.Nodes[c.ref].Reason != ""
				ok = ok && (settled || cl || noted)
			}
			ok = ok && any
		default:
			// A follow-up resolves the uncertainty when its own not_sure
			// brings a clinician in or takes its yes branch.
			ok = n.FollowUp && (clinician(n.notSureRef) || (n.Branches != nil && n.notSureRef == n.yesRef))
		}
		clin[i] = 2
		if ok {
			clin[i] = 1
		}
		return ok
	}
	for _, n := range p.Nodes {
		if n.NodeKind() != "question" || n.notSureRef == refNone {
			continue
		}
		if clinician(n.notSureRef) {
			continue
		}
		ns := reach(n.notSureRef)
		for _, b := range n.answerTargets() {
			if b.ref == refNone || b.ref == n.notSureRef {
				continue
			}
			if s := reach(b.ref); s.lo >= ns.lo && s.hi >= ns.hi && (s.lo > ns.lo || s.hi > ns.hi) {
				l.add(n.Line, RuleNotSureUnsafe, fmt.Sprintf("point not_sure at %s (the %q branch) or at something safer", b.target, b.answer),
					"question %s: not_sure leads to less intensive care than answering %q", n.ID, b.answer)
				break
			}
		}
	}
	// One polarity: "yes" is the worrying answer. A "no" that leads
	// straight to an outcome more intensive than anything "yes" can reach
	// means the question asks about the reassuring thing ("Can they
	// drink?"): ask about the worrying one instead.
	for _, n := range p.Nodes {
		// A question that records a fact about the person (sets: a flag,
		// such as usual_residence) is not a symptom: either answer may worry.
		if n.NodeKind() != "question" || n.Type != YesNo || n.Branches == nil || !n.noRef.isOutcome() || n.Sets != "" {
			continue
		}
		if no, yes := reach(n.noRef), reach(n.yesRef); no.hi > yes.hi {
			l.add(n.Branches.Line, RulePolarity, "ask about the worrying sign so that \"yes\" is the worrying answer, and swap the branches",
				"question %s: \"no\" leads to %s, more intensive than anything \"yes\" reaches", n.ID, n.Branches.No)
		}
	}
}

func idOf(n *Node) string {
	if n == nil {
		return "start"
	}
	return n.ID
}

type answerTarget struct {
	answer, target string
	ref            ref
}

func (n *Node) answerTargets() []answerTarget {
	var out []answerTarget
	switch n.Type {
	case YesNo:
		if n.Branches != nil {
			out = append(out, answerTarget{Yes, n.Branches.Yes, n.yesRef}, answerTarget{No, n.Branches.No, n.noRef})
		}
	case Choice:
		for _, c := range n.Choices {
			out = append(out, answerTarget{c.Value, c.Next, c.ref})
		}
	case Number:
		for _, r := range n.Ranges {
			a := "a number"
			if r.From != nil {
				a = fmt.Sprintf("%g or more", *r.From)
			} else if r.Below != nil {
				a = fmt.Sprintf("below %g", *r.Below)
			}
			out = append(out, answerTarget{a, r.Next, r.ref})
		}
	}
	return out
}

func (n *Node) targets() []ref {
	var out []ref
	switch n.NodeKind() {
	case "switch":
		for _, c := range n.Switch {
			out = append(out, c.ref)
		}
	case "floor":
		out = append(out, n.nextRef)
	default:
		for _, t := range n.answerTargets() {
			out = append(out, t.ref)
		}
		out = append(out, n.notSureRef)
	}
	return out
}
