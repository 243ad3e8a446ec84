package triage

import (
	"fmt"
	"slices"

	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// Coding lint rules (LintCoding). They are not part of Lint/NewSet: a
// protocol set stored before the code lists existed must still load and
// replay, so the coding is checked where protocols are written (the
// protocols package's lint test and `frontdoor protocols lint`).
const (
	// RuleECDSCode: a presentation names no ECDS chief complaint, or a code
	// that is not in the vendored list (triage/coding/codes, whose SNOMED
	// codes coding checks against the ECDS refset members), or an outcome
	// does not map to an ECDS acuity, discharge destination and follow-up.
	RuleECDSCode = "ecds_code"
	// RuleDxMeaning: an outcome's Dx is not in the vendored NHS Pathways Dx
	// list, means another tier, or sends to the wrong kind of service: a
	// dental outcome below ed needs a dental code, a repeat-medicine outcome
	// a prescription code (and those codes only on those outcomes).
	RuleDxMeaning = "dx_meaning"
	// RuleLocalCode is a note, not an error: a chief complaint or an
	// outcome's ECDS code is a documented local fallback (LOCAL:...), or a
	// Dx is a frontdoor local code, not an NHS Pathways one. A local chief
	// complaint is one no member of the ECDS refset fits; a local follow-up
	// is one of a list with no member source to check it against.
	RuleLocalCode = "local_code"
)

// LintCoding checks the coding of a protocol set against the vendored code
// lists. errs fail the set; notes list every local fallback in use.
func LintCoding(files map[string][]byte) (errs, notes []LintError) {
	set, lerrs := build(files)
	if len(lerrs) > 0 {
		return lerrs, nil
	}
	lists, err := coding.Default()
	if err != nil {
		return []LintError{{File: "triage/coding", Line: 1, Rule: RuleECDSCode, Message: err.Error(), Hint: "fix the vendored code list"}}, nil
	}
	ps := append([]*Protocol{set.Screen}, set.Presentations...)
	for _, p := range ps {
		l := &linter{p: p}
		n := &linter{p: p}
		codingOf(l, n, p, lists)
		errs = append(errs, l.errs...)
		notes = append(notes, n.errs...)
	}
	sortLint(errs)
	sortLint(notes)
	return errs, notes
}

func codingOf(l, n *linter, p *Protocol, lists *coding.Lists) {
	if p.Kind != "screen" {
		if len(p.ChiefComplaint) == 0 {
			l.add(p.ChiefComplaintLine, RuleECDSCode, "add chief_complaint: [SNOMED CT id from triage/coding/codes/ecds-chief-complaint.csv] (or a LOCAL:cc-... fallback from local-codes.csv)",
				"protocol %s names no ECDS chief complaint", p.ID)
		}
		for _, c := range p.ChiefComplaint {
			switch cc, ok := lists.Lookup(coding.ListChiefComplaint, c); {
			case !ok:
				l.add(p.ChiefComplaintLine, RuleECDSCode, "use a code from ecds-chief-complaint.csv (or add a member of the refset, from ecds-refset-members.csv, with its term) or a LOCAL:cc-... from local-codes.csv; never a guessed SNOMED id",
					"protocol %s: chief complaint %q is not in the vendored ECDS list", p.ID, c)
			case cc.Local:
				n.add(p.ChiefComplaintLine, RuleLocalCode, "no member of the ECDS chief complaint refset fits (local-codes.csv says why): replace it if a later refset release adds one",
					"protocol %s: chief complaint is the local fallback %s (%s)", p.ID, c, cc.Term)
			}
		}
	}
	for _, o := range p.Outcomes {
		m, ok := lists.Outcome(string(o.Tier), string(o.Timeframe), o.CareNeeds)
		if !ok {
			l.add(o.Line, RuleECDSCode, "add a row for this tier and timeframe to triage/coding/codes/outcome-map.csv",
				"outcome %s (%s %s) maps to no ECDS acuity, discharge destination and follow-up", o.ID, o.Tier, o.Timeframe)
		} else {
			var local []string
			for _, c := range []string{m.Acuity, m.Destination, m.FollowUp} {
				if coding.IsLocal(c) {
					local = append(local, c)
				}
			}
			if len(local) > 0 {
				n.add(o.Line, RuleLocalCode, "a local follow-up: the discharge follow-up list has no vendored refset members to check codes against, replace it once checked against the ETOS release; a local acuity or destination: use a member from ecds-refset-members.csv", "outcome %s: ECDS local fallbacks %v", o.ID, local)
			}
		}
		dxMeaning(l, n, o, lists)
	}
}

func dxMeaning(l, n *linter, o *Outcome, lists *coding.Lists) {
	d, ok := lists.Dx(o.Dx)
	if !ok {
		l.add(o.Line, RuleDxMeaning, "use a Dx from triage/coding/codes/nhs-pathways-dx.csv, or add it there with its NHS 111 meaning (a local code as Dx9xxx, status local)",
			"outcome %s: %s is not in the vendored Dx list", o.ID, o.Dx)
		return
	}
	if d.Local {
		n.add(o.Line, RuleLocalCode, "a receiver must be told what a local Dx means", "outcome %s: %s is a frontdoor local code (%s)", o.ID, o.Dx, d.Meaning)
	}
	if d.Tier != string(o.Tier) {
		l.add(o.Line, RuleDxMeaning, fmt.Sprintf("use a %s-tier Dx, or tier %s", o.Tier, d.Tier), "outcome %s: %s (%s) is tier %s, not %s", o.ID, o.Dx, d.Meaning, d.Tier, o.Tier)
		return
	}
	if d.Timeframe != "" && o.Timeframe != "" && d.Timeframe != string(o.Timeframe) && o.Tier != ED {
		l.add(o.Line, RuleDxMeaning, "use the Dx whose timeframe is the outcome's", "outcome %s: %s means %q, not timeframe %s", o.ID, o.Dx, d.Meaning, o.Timeframe)
	}
	if o.Tier == ED || o.Stream != "" {
		return
	}
	dental := slices.Contains(o.CareNeeds, "dental")
	medicine := slices.Contains(o.CareNeeds, "repeat_medicine")
	switch {
	case dental && d.Family != "dental":
		l.add(o.Line, RuleDxMeaning, "a dental outcome uses a dental-family Dx (NHS 111 reads a primary-care Dx as a GP, not a dentist)",
			"outcome %s needs a dentist but %s means %q", o.ID, o.Dx, d.Meaning)
	case medicine && d.Family != "prescription":
		l.add(o.Line, RuleDxMeaning, "a repeat-medicine outcome uses a prescription-family Dx (NHS 111 reads Dx28 as advice from a pharmacist)",
			"outcome %s supplies a regular medicine but %s means %q", o.ID, o.Dx, d.Meaning)
	case !dental && d.Family == "dental", !medicine && d.Family == "prescription":
		l.add(o.Line, RuleDxMeaning, "use the Dx family that matches the care needs", "outcome %s: %s (%s) does not match its care needs %v", o.ID, o.Dx, d.Meaning, o.CareNeeds)
	}
}
