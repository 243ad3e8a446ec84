package care

import (
	"time"
)

// Retention periods. The centre keeps an attendance for the minimum
// periods of the NHS Records Management Code of Practice 2021 (NHS
// England; the current code, revised 2023), Appendix II, retention
// schedule:
//
//   - adult health records not covered elsewhere: 8 years after the
//     conclusion of treatment (or death);
//   - children and young people: until the patient's 25th birthday, or
//     26th if they were 17 at the conclusion of treatment, or 8 years
//     after death.
//
// These are the code's minimums: a centre may keep records longer (the
// retention setting adds whole years to every period, never takes any
// away), and its information governance lead approves each purge (the
// purge names who approved). frontdoor records no deaths, so every period
// runs from the conclusion of treatment: an attendance's last recorded
// step (its last status change, observation, override or confirmation,
// or the last change of a dispatch made for it).
//
// Age decides the period, and the date of birth is not always known. With
// one (on the attendance or on the patient record it is linked to; with
// both, the longer period of the two) the rules apply as written. Without
// one, an age of 18 or over given at arrival makes the record an adult's;
// any other age given at arrival, or none, keeps the record as a child's
// as long as the age allows: until the 26th anniversary of the latest
// date of birth the age allows (the arrival date itself when no age was
// given), and at least 8 years after the conclusion of treatment. A year
// more than the 25th birthday covers the age rounded down and the 17-year
// rule, so an unknown date of birth never shortens the code's period.

// Retention periods, as reported by the review and the purge.
const (
	PeriodAdult        = "adult"         // 8 years after the conclusion of treatment
	PeriodChild        = "child"         // until the 25th birthday
	PeriodChild17      = "child_17"      // 17 at the conclusion of treatment: until the 26th birthday
	PeriodAgeEstimated = "age_estimated" // no date of birth, an age under 18 given at arrival
	PeriodAgeUnknown   = "age_unknown"   // no date of birth, no age
)

// The code's minimums, and the most a centre may add.
const (
	RetentionAdultYears   = 8
	RetentionChildUntil   = 25 // birthday
	RetentionChild17Until = 26 // birthday, for a patient 17 at the conclusion of treatment
	adultAge              = 18
	MaxRetentionExtra     = 50 // years a centre may add to every period
)

// AgeEvidence is what is known of a patient's age for retention.
type AgeEvidence struct {
	// DOBs are the known dates of birth (UTC midnight): the attendance's
	// and the linked patient record's. With more than one, the longest
	// period wins.
	DOBs []time.Time
	// AgeYears is the age in years given at arrival (nil: none given).
	AgeYears *int
	// LatestDOB is the latest date of birth an age in months, weeks or
	// days given at arrival allows (nil: none given).
	LatestDOB *time.Time
}

// RetainUntil is when an attendance that arrived at arrived and whose
// treatment concluded at concluded may be purged, and under which period,
// with extraYears (the centre's setting, 0 or more) added.
func RetainUntil(arrived, concluded time.Time, ev AgeEvidence, extraYears int) (time.Time, string) {
	until, period := retainUntil(arrived, concluded, ev)
	return until.AddDate(extraYears, 0, 0), period
}

func retainUntil(arrived, concluded time.Time, ev AgeEvidence) (time.Time, string) {
	adultUntil := concluded.AddDate(RetentionAdultYears, 0, 0)
	if len(ev.DOBs) > 0 {
		var until time.Time
		var period string
		for _, dob := range ev.DOBs {
			u, p := exactUntil(dob, concluded, adultUntil)
			if u.After(until) {
				until, period = u, p
			}
		}
		return until, period
	}
	var latestDOB time.Time
	period := PeriodAgeEstimated
	switch {
	case ev.AgeYears != nil && *ev.AgeYears >= adultAge:
		return adultUntil, PeriodAdult
	case ev.AgeYears != nil:
		latestDOB = arrived.AddDate(-*ev.AgeYears, 0, 0)
	case ev.LatestDOB != nil:
		latestDOB = *ev.LatestDOB
	default:
		latestDOB, period = arrived, PeriodAgeUnknown
	}
	until := latestDOB.AddDate(RetentionChild17Until, 0, 0)
	if adultUntil.After(until) {
		until = adultUntil
	}
	return until, period
}

// exactUntil applies the code to a known date of birth.
func exactUntil(dob, concluded, adultUntil time.Time) (time.Time, string) {
	switch age := ageOn(dob, concluded); {
	case age >= adultAge:
		return adultUntil, PeriodAdult
	case age == adultAge-1:
		return dob.AddDate(RetentionChild17Until, 0, 0), PeriodChild17
	default:
		return dob.AddDate(RetentionChildUntil, 0, 0), PeriodChild
	}
}

// ageOn is the age in whole years at t of someone born on dob. A birthday
// on 29 February falls on 1 March in other years, as in English law
// (AddDate normalises it so).
func ageOn(dob, t time.Time) int {
	y := t.Year() - dob.Year()
	if t.Before(dob.AddDate(y, 0, 0)) {
		y--
	}
	return y
}

// parseDOB reads a YYYY-MM-DD date of birth (false when absent or bad).
func parseDOB(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	d, err := time.Parse("2006-01-02", s)
	return d, err == nil
}
