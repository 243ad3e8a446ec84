package triage

import (
	"fmt"
	"strings"
)

// Global checks, run on every session alongside the tree. They can only raise
// the outcome. Their names are the DecidedBy values.
const (
	CheckNEWS2         = "news2"
	CheckNG143         = "fever_ng143"
	CheckSepsis        = "sepsis"
	CheckRepeatContact = "repeat_contact"
	CheckCarerWorry    = "carer_worry"
	CheckMaternity     = "maternity_ng133"
)

// The dispositions the checks demand (frontdoor's mapping, kept in one place).
var checkDisposition = map[string]struct {
	tier  Tier
	tf    Timeframe
	dx    string
	title string
}{
	"news2_ed_immediate":    {ED, Immediate, DxAmbulance, "Emergency assessment now: very abnormal observations (NEWS2 7 or more)"},
	"news2_ed_1h":           {ED, Within1h, DxED1h, "Urgent emergency assessment within 1 hour: abnormal observations (NEWS2)"},
	"news2_clinician":       {GP, Within6h, DxGP6h, "Needs a clinician's assessment: observations outside the normal range (NEWS2 1-4)"},
	"ng143_red_immediate":   {ED, Immediate, DxAmbulance, "Emergency care now: life-threatening signs in a feverish young child"},
	"ng143_red":             {ED, Within1h, DxED1h, "Urgent face-to-face assessment: red features in a feverish child under 5 (NICE NG143)"},
	"ng143_amber":           {GP, Within2h, DxGP2h, "Same-day assessment by a clinician: amber features in a feverish child under 5 (NICE NG143)"},
	"sepsis_ed_immediate":   {ED, Immediate, DxAmbulance, "Emergency care now: possible sepsis"},
	"sepsis_ed_1h":          {ED, Within1h, DxED1h, "Urgent emergency assessment: observations at high risk of sepsis (NICE NG51)"},
	"repeat_contact_review": {GP, Within2h, DxGP2h, "A clinician must review: third contact within 96 hours"},
	"carer_worry_review":    {GP, Within2h, DxGP2h, "A clinician will see them: the person caring for them is very worried"},
	"self_worry_review":     {GP, Within2h, DxGP2h, "A clinician will see them: they are very worried that this is serious"},
	"maternity_now":         {ED, Immediate, DxAmbulance, "Maternity assessment now: pregnancy red flags (NICE NG133)"},
	"maternity_1h":          {ED, Within1h, DxED1h, "Maternity assessment unit within 1 hour (NICE NG133)"},
	"maternity_4h":          {ED, Within4h, DxED4h, "Maternity assessment today: raised blood pressure in pregnancy (NICE NG133)"},
}

// checkCareNeeds are the care needs of a check's disposition (routing
// honours them: a maternity check goes to maternity assessment).
var checkCareNeeds = map[string][]string{
	"maternity_now": {"maternity"},
	"maternity_1h":  {"maternity"},
	"maternity_4h":  {"maternity"},
}

const globalSafetyNet = "If they get worse while waiting — struggling to breathe, blue or grey lips or skin, a rash that does not fade under a glass, very drowsy or hard to wake, a fit, or collapse — call 999 or tell a member of staff at once."

func mkCheck(check, outcomeID, reason string) CheckResult {
	d := checkDisposition[outcomeID]
	return CheckResult{Check: check, Applies: true, Raises: true, Tier: d.tier, Timeframe: d.tf, Dx: d.dx, CareNeeds: checkCareNeeds[outcomeID],
		Reason: reason + " [" + outcomeID + "]"}
}

func (r *Result) setCheck(c *CheckResult) {
	id := c.Reason[strings.LastIndexByte(c.Reason, '[')+1 : len(c.Reason)-1]
	d := checkDisposition[id]
	r.Outcome, r.Protocol, r.DecidedBy = id, "global", c.Check
	r.Tier, r.Dx, r.Timeframe = c.Tier, c.Dx, c.Timeframe
	r.CareNeeds = append([]string{}, checkCareNeeds[id]...)
	r.Title = d.title
	r.Advice = "Reason: " + c.Reason[:strings.LastIndexByte(c.Reason, '[')-1] + "."
	r.SafetyNet = globalSafetyNet
	r.Guidance = checkGuidance[c.Check]
}

var checkGuidance = map[string]string{
	CheckNEWS2:         "Royal College of Physicians NEWS2 (2017)",
	CheckNG143:         "NICE NG143 Fever in under 5s",
	CheckSepsis:        "NICE NG51 Sepsis",
	CheckRepeatContact: "frontdoor repeat-contact rule (domain brief)",
	CheckCarerWorry:    "NICE NG51 / NG143: carer concern",
	CheckMaternity:     "NICE NG133 Hypertension in pregnancy; NHS reduced fetal movements advice",
}

func topCheck(cs []CheckResult) *CheckResult {
	var top *CheckResult
	for i := range cs {
		c := &cs[i]
		if c.Raises && (top == nil || Intensity(c.Tier, c.Timeframe) > Intensity(top.Tier, top.Timeframe)) {
			top = c
		}
	}
	return top
}

// globalChecks evaluates every check in a fixed order.
func globalChecks(w *walker) ([]CheckResult, *NEWS2Result, *NG143Result) {
	p := &w.s.Patient
	o := p.Observations
	a := w.a
	out := make([]CheckResult, 0, 5)

	// NEWS2: adults 16+ (and unknown age: it can only raise), not pregnant.
	var news *NEWS2Result
	switch {
	case a.known && a.years < 16:
		out = append(out, CheckResult{Check: CheckNEWS2, Reason: "not applied: under 16"})
	case w.pregnant == Yes:
		out = append(out, CheckResult{Check: CheckNEWS2, Reason: "not applied: pregnant"})
	default:
		r := NEWS2(o)
		news = &r
		measured := 0
		for _, x := range r.Parameters {
			if x.Measured {
				measured++
			}
		}
		inc := ""
		if !r.Complete {
			inc = fmt.Sprintf(" (incomplete: %d of 7 measured; missing parameters are not scored and cannot lower anything)", measured)
		}
		switch r.Response {
		case NEWS2EDImmediate:
			out = append(out, mkCheck(CheckNEWS2, "news2_ed_immediate", fmt.Sprintf("NEWS2 %d, 7 or more%s", r.Score, inc)))
		case NEWS2Urgent:
			why := "5-6"
			if r.Score < 5 {
				why = "a single parameter scoring 3"
			}
			out = append(out, mkCheck(CheckNEWS2, "news2_ed_1h", fmt.Sprintf("NEWS2 %d, %s%s", r.Score, why, inc)))
		case NEWS2Clinician:
			out = append(out, mkCheck(CheckNEWS2, "news2_clinician", fmt.Sprintf("NEWS2 %d (1-4): clinician assessment, never self care or pharmacy%s", r.Score, inc)))
		default:
			reason := "NEWS2 0"
			if measured == 0 {
				reason = "no observations measured"
			}
			out = append(out, CheckResult{Check: CheckNEWS2, Applies: measured > 0, Reason: reason + inc})
		}
	}

	// NG143: children under 5 (or unknown age) with fever, a parent's report counting.
	var ng *NG143Result
	fever := w.flags&(1<<5) != 0 || (o.TemperatureC != nil && *o.TemperatureC >= 38)
	if (!a.known || a.years < 5) && fever {
		feats := w.features
		lifeThreat := false
		if c := o.Consciousness; c != nil && *c != Alert {
			feats = append(feats[:len(feats):len(feats)], Feature{Name: "not alert (" + string(*c) + ")", Colour: Red})
			lifeThreat = *c != Confusion
		}
		r := NG143(NG143Input{AgeDays: a.days, AgeKnown: a.daysKnown, Fever: true, Obs: o, SymptomFeatures: feats})
		ng = &r
		names := make([]string, len(r.Features))
		for i, f := range r.Features {
			names[i] = f.Name + " (" + string(f.Colour) + ")"
		}
		switch r.Colour {
		case Red:
			id := "ng143_red"
			if lifeThreat {
				id = "ng143_red_immediate"
			}
			out = append(out, mkCheck(CheckNG143, id, "NG143 red: "+strings.Join(names, ", ")))
		case Amber:
			out = append(out, mkCheck(CheckNG143, "ng143_amber", "NG143 amber: "+strings.Join(names, ", ")))
		default:
			out = append(out, CheckResult{Check: CheckNG143, Applies: true, Reason: "NG143 green: no amber or red feature found"})
		}
	} else {
		out = append(out, CheckResult{Check: CheckNG143, Reason: "not applied: not a child under 5 with fever"})
	}

	// Sepsis (NICE NG51 high-risk observations, by age).
	crit, severe := sepsisCriteria(a, o)
	switch {
	case len(crit) >= 2 || (len(crit) == 1 && severe):
		out = append(out, mkCheck(CheckSepsis, "sepsis_ed_immediate", "NG51 high-risk: "+strings.Join(crit, ", ")))
	case len(crit) == 1:
		out = append(out, mkCheck(CheckSepsis, "sepsis_ed_1h", "NG51 high-risk: "+crit[0]))
	default:
		out = append(out, CheckResult{Check: CheckSepsis, Applies: true, Reason: "no high-risk observation"})
	}

	contacts := max(p.PreviousContacts96h, w.contacts)
	if contacts >= 2 {
		out = append(out, mkCheck(CheckRepeatContact, "repeat_contact_review", fmt.Sprintf("%d earlier contacts within 96 hours", contacts)))
	} else {
		out = append(out, CheckResult{Check: CheckRepeatContact, Applies: true, Reason: fmt.Sprintf("%d earlier contacts within 96 hours", contacts)})
	}

	if b, _ := flagBit(FlagCarerVeryWorried); w.flags&b != 0 {
		if alone, _ := flagBit(FlagAlone); w.rules >= 1 && w.flags&alone != 0 {
			out = append(out, mkCheck(CheckCarerWorry, "self_worry_review", "they are very worried that this is serious"))
		} else {
			out = append(out, mkCheck(CheckCarerWorry, "carer_worry_review", "the carer or parent is very worried"))
		}
	} else {
		out = append(out, CheckResult{Check: CheckCarerWorry, Applies: true, Reason: "no carer worry reported"})
	}
	if w.rules >= 1 {
		out = append(out, maternityCheck(w))
	}
	return out, news, ng
}

// maternityCheck is the NICE NG133 check where NEWS2 does not apply: in
// pregnancy (20 weeks or more, or weeks unknown) and for 6 weeks after birth,
// severe hypertension (systolic 160 or more, or diastolic 110 or more) or a
// pre-eclampsia symptom with hypertension (140/90 or more) needs maternity
// assessment now; a symptom alone, reduced movements, bleeding or fluid loss
// the maternity unit within the hour; hypertension alone assessment today.
func maternityCheck(w *walker) CheckResult {
	g := w.s.Patient.GestationWeeks
	pregnant := w.pregnant == Yes
	if !pregnant && !w.postnatal() {
		return CheckResult{Check: CheckMaternity, Reason: "not applied: not pregnant or recently given birth"}
	}
	late := w.postnatal() || g == nil || *g >= 20
	o := w.s.Patient.Observations
	sys, dia := o.SystolicBP, o.DiastolicBP
	severe := (sys != nil && *sys >= 160) || (dia != nil && *dia >= 110)
	raised := (sys != nil && *sys >= 140) || (dia != nil && *dia >= 90)
	bp := ""
	switch {
	case sys != nil && dia != nil:
		bp = fmt.Sprintf("blood pressure %d/%d", *sys, *dia)
	case sys != nil:
		bp = fmt.Sprintf("systolic %d", *sys)
	case dia != nil:
		bp = fmt.Sprintf("diastolic %d", *dia)
	}
	var red, amber []string
	for _, f := range w.ng133 {
		if f.Colour == Red {
			red = append(red, f.Name)
		} else {
			amber = append(amber, f.Name)
		}
	}
	when := "in pregnancy"
	if g != nil {
		when = fmt.Sprintf("at %d weeks", *g)
	}
	if w.postnatal() && !pregnant {
		when = "after giving birth"
	}
	switch {
	case severe && late:
		return mkCheck(CheckMaternity, "maternity_now", fmt.Sprintf("severe hypertension %s (%s, 160/110 or more)", when, bp))
	case raised && late && len(amber) > 0:
		return mkCheck(CheckMaternity, "maternity_now", fmt.Sprintf("hypertension %s (%s) with %s", when, bp, strings.Join(amber, "; ")))
	case len(red) > 0:
		return mkCheck(CheckMaternity, "maternity_1h", fmt.Sprintf("%s: %s", when, strings.Join(red, "; ")))
	case severe:
		return mkCheck(CheckMaternity, "maternity_1h", fmt.Sprintf("severe hypertension %s (%s)", when, bp))
	case late && len(amber) > 0:
		return mkCheck(CheckMaternity, "maternity_1h", fmt.Sprintf("possible pre-eclampsia %s: %s", when, strings.Join(amber, "; ")))
	case raised && late:
		return mkCheck(CheckMaternity, "maternity_4h", fmt.Sprintf("new hypertension %s (%s, 140/90 or more)", when, bp))
	}
	reason := "no NG133 red flag"
	if bp != "" {
		reason += " (" + bp + ")"
	}
	return CheckResult{Check: CheckMaternity, Applies: true, Reason: reason}
}

// sepsisCount counts the NG51 high-risk observations without describing them.
func sepsisCount(a age, o Observations) (int, bool) {
	crit, severe := sepsisCriteriaExplain(a, o, false)
	return len(crit), severe
}

// sepsisCriteria lists the NG51 high-risk observations present. severe is set
// for a level of consciousness of voice, pain or unresponsive.
func sepsisCriteria(a age, o Observations) (crit []string, severe bool) {
	return sepsisCriteriaExplain(a, o, true)
}

func sepsisCriteriaExplain(a age, o Observations, explain bool) (crit []string, severe bool) {
	var buf [8]string
	crit = buf[:0]
	sprintf := fmt.Sprintf
	if !explain {
		sprintf = func(string, ...any) string { return "" }
	}
	if c := o.Consciousness; c != nil && *c != Alert {
		crit = append(crit, "altered mental state ("+string(*c)+")")
		severe = *c != Confusion
	}
	child5to11 := a.known && a.years >= 5 && a.years < 12
	under5 := a.known && a.years < 5
	rr, hr := o.RespiratoryRate, o.Pulse
	switch {
	case under5:
		if rr != nil && *rr > 60 {
			crit = append(crit, sprintf("respiratory rate %d > 60", *rr))
		}
		if hr != nil && *hr < 60 {
			crit = append(crit, sprintf("heart rate %d < 60", *hr))
		}
		if o.SpO2 != nil && *o.SpO2 < 90 {
			crit = append(crit, sprintf("SpO2 %d%% < 90", *o.SpO2))
		}
		if t := o.TemperatureC; t != nil && a.daysKnown && a.days < days3Months && *t >= 38 {
			crit = append(crit, "under 3 months with temperature >= 38C")
		}
		if t := o.TemperatureC; t != nil && *t < 36 {
			crit = append(crit, sprintf("temperature %.1fC < 36", *t))
		}
	case child5to11:
		rrLim, hrLim := 25, 115
		switch {
		case a.years == 5:
			rrLim, hrLim = 29, 130
		case a.years <= 7:
			rrLim, hrLim = 27, 120
		}
		if rr != nil && *rr >= rrLim {
			crit = append(crit, sprintf("respiratory rate %d >= %d", *rr, rrLim))
		}
		if hr != nil && *hr >= hrLim {
			crit = append(crit, sprintf("heart rate %d >= %d", *hr, hrLim))
		}
		if hr != nil && *hr < 60 {
			crit = append(crit, sprintf("heart rate %d < 60", *hr))
		}
		if o.SpO2 != nil && *o.SpO2 < 90 {
			crit = append(crit, sprintf("SpO2 %d%% < 90", *o.SpO2))
		}
	default: // 12 and over, or age unknown
		if rr != nil && *rr >= 25 {
			crit = append(crit, sprintf("respiratory rate %d >= 25", *rr))
		}
		if o.SpO2 != nil && !o.SpO2Scale2 && *o.SpO2 < 92 {
			crit = append(crit, sprintf("SpO2 %d%% < 92", *o.SpO2))
		}
		if hr != nil && *hr > 130 {
			crit = append(crit, sprintf("heart rate %d > 130", *hr))
		}
		if bp := o.SystolicBP; bp != nil && *bp <= 90 {
			crit = append(crit, sprintf("systolic BP %d <= 90", *bp))
		}
	}
	return crit, severe
}

// PatientChecks runs the global checks on what is known of a patient when
// there is no protocol session, e.g. an NHS 111 referral that carries only a
// Dx code: NEWS2, the NG143 traffic light (a fever flag or a measured
// temperature; no symptom features without questions), the NG51 sepsis
// observations, repeat contact and carer worry. It returns every check, the
// NEWS2 result when NEWS2 applied, and a copy of the most intensive check
// that raises the outcome (nil when none does). Like the engine, it is pure.
func PatientChecks(p Patient) (checks []CheckResult, news *NEWS2Result, top *CheckResult) {
	return PatientChecksRules(p, 0)
}

// PatientChecksRules is PatientChecks under a rules version (see
// CurrentRules; rules 1 adds the NG133 maternity check).
func PatientChecksRules(p Patient, rules int) (checks []CheckResult, news *NEWS2Result, top *CheckResult) {
	s := Session{Patient: p, Rules: rules}
	w := walker{s: &s, a: p.age(), pregnant: p.Pregnant, rules: rules}
	if w.pregnant == "" {
		w.pregnant = "unknown"
	}
	for _, f := range p.Flags {
		if f == FlagPregnant {
			w.pregnant = Yes
			continue
		}
		b, _ := flagBit(f)
		w.flags |= b
	}
	checks, news, _ = globalChecks(&w)
	if t := topCheck(checks); t != nil {
		c := *t
		top = &c
	}
	return checks, news, top
}
