package care

import (
	"fmt"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage"
)

// The context that decides: an age given to the day for
// children without a date of birth, pregnancy weeks and the weeks since a
// birth, and the earlier contacts a patient reports. Logic version 3
// introduced them; an entry of an older logic version that carries any is
// refused as the older binary refused it (unknown field or flag).

// logicTriageRules1 is the logic version from which Apply starts sessions
// under the engine's rules 1 and decides with logic version 3's behaviour:
// clinician-first floors, interim raises, awaiting an address, the
// context fields below.
const logicTriageRules1 = 3

// triageRules is the engine rules version for a command of this logic version.
func triageRules(lv int) int {
	if lv >= logicTriageRules1 {
		return 1
	}
	return 0
}

// EarlierContact is a contact about this problem the patient reports.
type EarlierContact struct {
	// Service is who they contacted: nhs111, gp, this_centre, ed or other.
	Service string `json:"service"`
	// HoursAgo is how long ago, 0 to 96 hours.
	HoursAgo int `json:"hours_ago"`
}

// Earlier-contact services.
const (
	ContactNHS111     = "nhs111"
	ContactGP         = "gp"
	ContactThisCentre = "this_centre"
	ContactED         = "ed"
	ContactOther      = "other"
)

var contactServices = map[string]bool{ContactNHS111: true, ContactGP: true, ContactThisCentre: true, ContactED: true, ContactOther: true}

// maxEarlierContacts bounds the reported contacts of one attendance.
const maxEarlierContacts = 20

// Age bounds without a date of birth: each unit up to 130 years.
const (
	maxAgeMonths = 130 * 12
	maxAgeWeeks  = 130 * 52
	maxAgeDays   = 130 * 365
)

// ageFields names the context's age fields, for "at most one" messages.
const ageFields = "age_years, age_months, age_weeks or age_days"

// validateContextV3 adds field errors for the context fields logic version
// 3 introduced (pure).
func (c *TriageContext) validateContextV3(f map[string]string) {
	given := 0
	for _, a := range []struct {
		name string
		v    *int
		max  int
	}{{"age_years", c.AgeYears, 130}, {"age_months", c.AgeMonths, maxAgeMonths}, {"age_weeks", c.AgeWeeks, maxAgeWeeks}, {"age_days", c.AgeDays, maxAgeDays}} {
		if a.v == nil {
			continue
		}
		given++
		if given > 1 {
			f["context."+a.name] = "give only one of " + ageFields
		} else if *a.v < 0 || *a.v > a.max {
			f["context."+a.name] = fmt.Sprintf("must be between 0 and %d", a.max)
		}
	}
	if g := c.GestationWeeks; g != nil {
		switch {
		case *g < 0 || *g > 45:
			f["context.gestation_weeks"] = "must be between 0 and 45"
		case c.Pregnant != "" && c.Pregnant != triage.Yes:
			f["context.gestation_weeks"] = "only for a pregnancy: pregnant must be yes (or left out)"
		}
	}
	if p := c.PostnatalWeeks; p != nil && (*p < 0 || *p > 52) {
		f["context.postnatal_weeks"] = "must be between 0 and 52"
	}
	if len(c.EarlierContacts) > maxEarlierContacts {
		f["context.earlier_contacts"] = fmt.Sprintf("at most %d", maxEarlierContacts)
	}
	for i, ec := range c.EarlierContacts {
		if !contactServices[ec.Service] {
			f[fmt.Sprintf("context.earlier_contacts[%d].service", i)] = "must be nhs111, gp, this_centre, ed or other"
		}
		if ec.HoursAgo < 0 || ec.HoursAgo > 96 {
			f[fmt.Sprintf("context.earlier_contacts[%d].hours_ago", i)] = "must be between 0 and 96"
		}
	}
}

// v3Fields names the context fields an entry of logic version 2 or older
// could not carry (its binary refused them): the new age units, pregnancy
// weeks, earlier contacts, the diastolic pressure and the new flags.
func (c *TriageContext) v3Fields() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, x := range []struct {
		name string
		set  bool
	}{{"context.age_months", c.AgeMonths != nil}, {"context.age_weeks", c.AgeWeeks != nil}, {"context.age_days", c.AgeDays != nil},
		{"context.gestation_weeks", c.GestationWeeks != nil}, {"context.postnatal_weeks", c.PostnatalWeeks != nil},
		{"context.earlier_contacts", c.EarlierContacts != nil},
		{"context.observations.diastolic_bp", c.Observations != nil && c.Observations.DiastolicBP != nil}} {
		if x.set {
			out = append(out, x.name)
		}
	}
	for i, fl := range c.Flags {
		if !legacyFlags[fl] {
			out = append(out, fmt.Sprintf("context.flags[%d]", i))
		}
	}
	return out
}

// legacyFlags are the flags logic version 2 accepted.
var legacyFlags = map[string]bool{triage.FlagPregnant: true, triage.FlagUsualResidence: true, triage.FlagImmunosuppressed: true,
	triage.FlagAnticoagulated: true, triage.FlagCarerVeryWorried: true, triage.FlagFever: true}

// refuseBeforeV3 is the refusal of an entry of logic version lv that uses
// fields its binary did not know (nil when it uses none or lv >= 3).
func (a *AttendanceCreate) refuseBeforeV3(lv int) *cluster.CommandError {
	if lv >= logicTriageRules1 {
		return nil
	}
	names := a.Context.v3Fields()
	if len(names) == 0 {
		return nil
	}
	f := map[string]string{}
	for _, n := range names {
		f[n] = "not known at logic version " + fmt.Sprint(lv)
	}
	return cluster.Invalid(f)
}

// contextAgeDays is the age in days the context gives without a date of
// birth: days, weeks*7 or months*1461/48 (the average month); ok is false
// when it gives none of them (age_years stays whole years).
func (c *TriageContext) contextAgeDays() (int, bool) {
	switch {
	case c == nil:
		return 0, false
	case c.AgeDays != nil:
		return *c.AgeDays, true
	case c.AgeWeeks != nil:
		return *c.AgeWeeks * 7, true
	case c.AgeMonths != nil:
		return *c.AgeMonths * 1461 / 48, true
	}
	return 0, false
}

// applyAge sets the engine's age from a date of birth (which wins), else
// the context: days, weeks or months as days, or whole years.
func applyAge(p *triage.Patient, dob string, now time.Time, ctx *TriageContext) {
	if d, ok := ageDays(dob, now); dob != "" && ok {
		p.AgeDays = &d
		return
	}
	if d, ok := ctx.contextAgeDays(); ok {
		p.AgeDays = &d
		return
	}
	if ctx != nil && ctx.AgeYears != nil {
		y := *ctx.AgeYears
		p.AgeYears = &y
	}
}

// applyPregnancy copies the pregnancy weeks and weeks since a birth; a
// gestation given without pregnant means pregnant.
func applyPregnancy(p *triage.Patient, ctx *TriageContext) {
	if ctx == nil {
		return
	}
	if g := ctx.GestationWeeks; g != nil {
		w := *g
		p.GestationWeeks = &w
		if p.Pregnant == "" {
			p.Pregnant = triage.Yes
		}
	}
	if pn := ctx.PostnatalWeeks; pn != nil {
		w := *pn
		p.PostnatalWeeks = &w
	}
}

// contactsWithReported is the engine's PreviousContacts96h: the contacts
// the record shows plus those the patient reports. A reported contact with
// this centre counts only beyond what the record shows (the record may
// already hold it): max(recorded, reported this_centre) + the others.
func contactsWithReported(recorded int, ctx *TriageContext) int {
	if ctx == nil {
		return recorded
	}
	centre, others := 0, 0
	for _, ec := range ctx.EarlierContacts {
		if ec.Service == ContactThisCentre {
			centre++
		} else {
			others++
		}
	}
	return max(recorded, centre) + others
}

// previousContactsAt counts the recorded contacts and, from logic version
// 3, adds the reported ones.
func previousContactsAt(tx *cluster.Tx, a *Attendance, rec *PatientRecord) (int, error) {
	n, err := previousContacts(tx, a, rec)
	if err != nil {
		return 0, err
	}
	if tx.LogicVersion() >= logicTriageRules1 {
		n = contactsWithReported(n, a.Context)
	}
	return n, nil
}

// knownFlag reports whether f is one of the engine's context flags.
func knownFlag(f string) bool {
	for _, n := range triage.FlagNames() {
		if n == f {
			return true
		}
	}
	return false
}

// dxOnlyPatient is what the global checks know of an attendance without a
// protocol session (an NHS 111 Dx referral): age and pregnancy and, from
// logic version 3, everything triagePatient reads (sex, flags, pregnancy
// weeks) and the contacts recorded and reported.
func dxOnlyPatient(tx *cluster.Tx, a *Attendance) (triage.Patient, error) {
	ctx := a.Context
	if tx.LogicVersion() < logicTriageRules1 {
		// As logic version 2 decided: whole years from the context, a date
		// of birth on the attendance winning; pregnancy only.
		var tp triage.Patient
		if ctx != nil && ctx.AgeYears != nil {
			y := *ctx.AgeYears
			tp.AgeYears = &y
		}
		if ctx != nil {
			tp.Pregnant = ctx.Pregnant
		}
		if d, ok := ageDays(a.Patient.DateOfBirth, tx.Now()); a.Patient.DateOfBirth != "" && ok {
			tp.AgeDays = &d
		}
		return tp, nil
	}
	rec, err := patientRecordOf(tx, a)
	if err != nil {
		return triage.Patient{}, err
	}
	tp := triagePatient(tx.Now(), a, ctx, rec)
	tp.Observations = triage.Observations{}
	if tp.PreviousContacts96h, err = previousContactsAt(tx, a, rec); err != nil {
		return triage.Patient{}, err
	}
	return tp, nil
}
