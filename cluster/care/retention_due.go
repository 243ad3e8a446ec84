package care

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// What is due for purge at a time: read by the leader's check, by Apply
// and by the review alike, so all three decide the same from the same
// state.

// dueAttendance is one attendance due for purge.
type dueAttendance struct {
	id, period, patientID string
	open                  bool
}

// retentionView is what deciding an attendance's retention reads of its
// stored record a/<id>, and of its triage part ap/<id>/t and timeline log
// ap/<id>/tl when the record has them (logic version 15): the times of the
// observations and status changes.
type retentionView struct {
	ID        string    `json:"id"`
	ArrivedAt time.Time `json:"arrived_at"`
	Status    string    `json:"status"`
	Patient   struct {
		DateOfBirth string `json:"date_of_birth"`
	} `json:"patient"`
	PatientID string                   `json:"patient_id"`
	Timeline  []struct{ At time.Time } `json:"timeline"`
	Context   *struct {
		AgeYears  *int `json:"age_years"`
		AgeMonths *int `json:"age_months"`
		AgeWeeks  *int `json:"age_weeks"`
		AgeDays   *int `json:"age_days"`
	} `json:"context"`
	Triage *struct {
		Observations []struct{ At time.Time } `json:"observations"`
	} `json:"triage"`
	Overrides     []struct{ At time.Time } `json:"overrides"`
	Confirmations []struct{ At time.Time } `json:"confirmations"`
	Parts         *struct {
		Triage   bool `json:"triage"`
		Timeline int  `json:"timeline"`
	} `json:"parts"`
}

// dueAttendances lists, in order of arrival, the attendances due for
// purge at asOf. Every period runs at least RetentionAdultYears (plus the
// extra) from the conclusion of treatment, which is never before arrival,
// so only attendances that arrived that long before asOf are read.
func dueAttendances(r cluster.Reader, asOf time.Time, extraYears int) ([]dueAttendance, error) {
	// A day later than the exact bound: AddDate's month-end rounding can
	// differ by a day going back and forth.
	cutoff := prefixArrival + cluster.SortableTime(asOf.AddDate(-(RetentionAdultYears+extraYears), 0, 1))
	var ids []string
	err := r.Keys(prefixArrival, "", func(key string) error {
		if key >= cutoff {
			return cluster.ErrStop
		}
		ids = append(ids, key[strings.LastIndexByte(key, '/')+1:])
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []dueAttendance
	for _, id := range ids {
		d, ok, err := attendanceDue(r, id, asOf, extraYears)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// attendanceDue decides whether attendance id is due for purge at asOf.
func attendanceDue(r cluster.Reader, id string, asOf time.Time, extraYears int) (dueAttendance, bool, error) {
	raw, found, err := r.GetRaw(keyAttendance(id))
	if err != nil || !found {
		return dueAttendance{}, false, err
	}
	var a retentionView
	if err := json.Unmarshal(raw, &a); err != nil {
		return dueAttendance{}, false, fmt.Errorf("decode attendance %s: %w", id, err)
	}
	concluded := a.ArrivedAt
	later := func(t time.Time) {
		if t.After(concluded) {
			concluded = t
		}
	}
	for _, c := range a.Timeline {
		later(c.At)
	}
	if a.Parts != nil && a.Parts.Timeline > 0 {
		logged, err := readTimeline(r, id, a.Parts.Timeline)
		if err != nil {
			return dueAttendance{}, false, err
		}
		for _, c := range logged {
			later(c.At)
		}
	}
	for _, c := range a.Overrides {
		later(c.At)
	}
	for _, c := range a.Confirmations {
		later(c.At)
	}
	if a.Triage != nil && a.Parts != nil && a.Parts.Triage {
		if _, err := decodePart(r, id, partTriage, "triage", a.Triage); err != nil {
			return dueAttendance{}, false, err
		}
	}
	if a.Triage != nil {
		for _, o := range a.Triage.Observations {
			later(o.At)
		}
	}
	var ev AgeEvidence
	if d, ok := parseDOB(a.Patient.DateOfBirth); ok {
		ev.DOBs = append(ev.DOBs, d)
	}
	if a.PatientID != "" {
		var p PatientRecord
		found, err := r.Get(prefixPatient+a.PatientID, &p)
		if err != nil {
			return dueAttendance{}, false, err
		}
		if d, ok := parseDOB(p.DateOfBirth); found && ok {
			ev.DOBs = append(ev.DOBs, d)
		}
	}
	if c := a.Context; c != nil {
		arrivedDay := a.ArrivedAt.UTC()
		switch {
		case c.AgeYears != nil:
			ev.AgeYears = c.AgeYears
		case c.AgeMonths != nil:
			t := arrivedDay.AddDate(0, -*c.AgeMonths, 0)
			ev.LatestDOB = &t
		case c.AgeWeeks != nil:
			t := arrivedDay.AddDate(0, 0, -7**c.AgeWeeks)
			ev.LatestDOB = &t
		case c.AgeDays != nil:
			t := arrivedDay.AddDate(0, 0, -*c.AgeDays)
			ev.LatestDOB = &t
		}
	}
	// Cheap test first: without the dispatches, is it due at all?
	until, period := RetainUntil(a.ArrivedAt, concluded, ev, extraYears)
	if asOf.Before(until) {
		return dueAttendance{}, false, nil
	}
	// A dispatch made for it may have gone on after its last status.
	err = r.Keys(prefixDispatchByAtt+id+"/", "", func(key string) error {
		var d struct {
			Timeline []struct{ At time.Time } `json:"timeline"`
		}
		did := key[strings.LastIndexByte(key, '/')+1:]
		if _, err := r.Get(keyDispatch(did), &d); err != nil {
			return err
		}
		for _, c := range d.Timeline {
			later(c.At)
		}
		return nil
	})
	if err != nil {
		return dueAttendance{}, false, err
	}
	until, period = RetainUntil(a.ArrivedAt, concluded, ev, extraYears)
	if asOf.Before(until) {
		return dueAttendance{}, false, nil
	}
	return dueAttendance{id: id, period: period, patientID: a.PatientID, open: !closed(a.Status)}, true, nil
}

// patientDue decides whether patient pid goes at asOf, once the
// attendances in gone are purged: none of theirs remains (linked, or by
// NHS number) and their record's own period, from its creation, has
// passed.
func patientDue(r cluster.Reader, pid string, asOf time.Time, extraYears int, gone map[string]bool) (*PatientRecord, bool, error) {
	var p PatientRecord
	found, err := r.Get(prefixPatient+pid, &p)
	if err != nil || !found {
		return nil, false, err
	}
	remains, err := attendancesRemain(r, prefixByPatientID+pid+"/", gone)
	if err != nil || remains {
		return nil, false, err
	}
	if p.NHSNumber != "" {
		if remains, err = attendancesRemain(r, prefixByNHS+p.NHSNumber+"/", gone); err != nil || remains {
			return nil, false, err
		}
	}
	var ev AgeEvidence
	if d, ok := parseDOB(p.DateOfBirth); ok {
		ev.DOBs = []time.Time{d}
	}
	until, _ := RetainUntil(p.CreatedAt, p.CreatedAt, ev, extraYears)
	return &p, !asOf.Before(until), nil
}

// attendancesRemain reports whether an index under prefix names an
// attendance not in gone.
func attendancesRemain(r cluster.Reader, prefix string, gone map[string]bool) (bool, error) {
	remains := false
	err := r.Keys(prefix, "", func(key string) error {
		if !gone[key[strings.LastIndexByte(key, '/')+1:]] {
			remains = true
			return cluster.ErrStop
		}
		return nil
	})
	return remains, err
}

// orphanPatientsDue lists patients, not in skip, due at asOf with no
// attendance left once those in gone are purged (at most max; 0: all).
func orphanPatientsDue(r cluster.Reader, asOf time.Time, extraYears int, gone, skip map[string]bool, max int) ([]*PatientRecord, error) {
	var ids []string
	err := r.Keys(prefixPatient, "", func(key string) error {
		if id := key[len(prefixPatient):]; !skip[id] {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []*PatientRecord
	for _, id := range ids {
		if max > 0 && len(out) >= max {
			break
		}
		p, ok, err := patientDue(r, id, asOf, extraYears, gone)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}
