package care

import (
	"sort"
	"time"
)

// The review: what a purge would take, by id and period, for the
// information governance lead to approve (GET /v1/retention).

// RetentionDue is one attendance due for purge, as the review lists it:
// its id and period, no patient details.
type RetentionDue struct {
	ID     string `json:"id"`
	Period string `json:"period"`
	// Open: the attendance never reached an end state (seen, handed over,
	// left); its treatment is taken to have concluded at its last step.
	Open bool `json:"open,omitempty"`
}

// RetentionReview is what is due for purge at AsOf.
type RetentionReview struct {
	AsOf        time.Time      `json:"as_of"`
	ExtraYears  int            `json:"extra_years"`
	Attendances int            `json:"attendances"`
	ByPeriod    map[string]int `json:"by_period"`
	Patients    int            `json:"patients"`
	Due         []RetentionDue `json:"due"`         // the first RetentionReviewList
	PatientIDs  []string       `json:"patient_ids"` // the first RetentionReviewList
	Truncated   bool           `json:"truncated,omitempty"`
}

// RetentionReview lists what a purge at asOf would take, with the
// centre's extraYears.
func (v State) RetentionReview(asOf time.Time, extraYears int) (*RetentionReview, error) {
	due, err := dueAttendances(v.r, asOf, extraYears)
	if err != nil {
		return nil, err
	}
	out := &RetentionReview{AsOf: asOf, ExtraYears: extraYears, Attendances: len(due), ByPeriod: map[string]int{},
		Due: []RetentionDue{}, PatientIDs: []string{}}
	gone := map[string]bool{}
	var patients []string
	for _, d := range due {
		gone[d.id] = true
		out.ByPeriod[d.period]++
		if len(out.Due) < RetentionReviewList {
			out.Due = append(out.Due, RetentionDue{ID: d.id, Period: d.period, Open: d.open})
		} else {
			out.Truncated = true
		}
		if d.patientID != "" {
			patients = append(patients, d.patientID)
		}
	}
	sort.Strings(patients)
	seen := map[string]bool{}
	addPatient := func(id string) {
		out.Patients++
		if len(out.PatientIDs) < RetentionReviewList {
			out.PatientIDs = append(out.PatientIDs, id)
		} else {
			out.Truncated = true
		}
	}
	for _, pid := range patients {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if _, ok, err := patientDue(v.r, pid, asOf, extraYears, gone); err != nil {
			return nil, err
		} else if ok {
			addPatient(pid)
		}
	}
	orphans, err := orphanPatientsDue(v.r, asOf, extraYears, gone, seen, 0)
	if err != nil {
		return nil, err
	}
	for _, rec := range orphans {
		addPatient(rec.ID)
	}
	return out, nil
}
