package care

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// The ECDS extract (GET /v1/exports/ecds, `frontdoor export ecds`): one
// record per attendance that arrived in a period, shaped like the Emergency
// Care Data Set's attendance items, for the provider's own submission. It
// is a report, not a submission: LOCAL codes (local_codes names the
// columns) must be mapped before one, and attendances decided before logic
// version 9 carry no ECDS coding (coded=false).

// ECDSRecord is one attendance in the extract.
type ECDSRecord struct {
	AttendanceID string `json:"attendance_id"`
	// ArrivalDate and ArrivalTime are in UK local time, as ECDS records
	// them; ArrivedAt is the same instant in UTC.
	ArrivalDate string    `json:"arrival_date"`
	ArrivalTime string    `json:"arrival_time"`
	ArrivedAt   time.Time `json:"arrived_at"`
	// DepartureDate and DepartureTime (UK local time) and DepartedAt
	// (UTC) are when the attendance ended: seen, handed over or left (for
	// one seen, when it was concluded: frontdoor does not record when the
	// person walked out after). Empty while still in the department.
	DepartureDate string     `json:"departure_date,omitempty"`
	DepartureTime string     `json:"departure_time,omitempty"`
	DepartedAt    *time.Time `json:"departed_at,omitempty"`
	Channel       string     `json:"channel"`
	NHSNumber     string     `json:"nhs_number,omitempty"`
	DateOfBirth   string     `json:"date_of_birth,omitempty"`
	Status        string     `json:"status"`
	// EncounterStatus is FHIR's Encounter.status of it (EncounterStatus).
	EncounterStatus string `json:"encounter_status"`
	Coded           bool   `json:"coded"`
	// The ECDS codes with their terms (the first chief complaint of the
	// protocol is the primary one).
	ChiefComplaint       coding.Code `json:"chief_complaint"`
	Acuity               coding.Code `json:"acuity"`
	DischargeDestination coding.Code `json:"discharge_destination"`
	DischargeFollowUp    coding.Code `json:"discharge_follow_up"`
	// The disposition in NHS 111 terms.
	Dx        string `json:"dx,omitempty"`
	DxMeaning string `json:"dx_meaning,omitempty"`
	// DxLocal: Dx is a frontdoor local code (Dx9xxx), not NHS Pathways'.
	DxLocal   bool   `json:"dx_local,omitempty"`
	Tier      string `json:"tier,omitempty"`
	Timeframe string `json:"timeframe,omitempty"`
	// LocalCodes names the columns holding a frontdoor LOCAL code.
	LocalCodes []string `json:"local_codes"`
}

// AttendancesArrived calls fn with every attendance that arrived in
// [from, to), in order of arrival, stopping at fn's first error.
func (v State) AttendancesArrived(from, to time.Time, fn func(*Attendance) error) error {
	errStop := errors.New("stop")
	end := cluster.SortableTime(to)
	err := v.r.Keys(prefixArrival, cluster.SortableTime(from), func(key string) error {
		rest := key[len(prefixArrival):]
		at, id, ok := strings.Cut(rest, "/")
		if !ok {
			return fmt.Errorf("attendance arrival index %s: malformed", key)
		}
		if at >= end {
			return errStop
		}
		a, err := v.Attendance(id)
		if err != nil {
			return fmt.Errorf("attendance arrival index %s: %w", key, err)
		}
		return fn(a)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// InECDS reports whether an attendance belongs in the extract: one NHS 111
// announced whose patient never arrived (still expected, or cancelled or
// marked left before checking in) is not an attendance.
func InECDS(a *Attendance) bool {
	_, ok := ECDSArrival(a)
	return ok
}

// ECDSArrival is when the patient arrived: for one NHS 111 announced, when
// reception checked them in (the attendance was created when 111 sent the
// referral or booking); for a walk-in, when it was created. ok is false for
// one announced whose patient never arrived.
func ECDSArrival(a *Attendance) (at time.Time, ok bool) {
	if a.CheckedInAt != nil {
		return *a.CheckedInAt, true
	}
	if a.Status == AttendanceExpected || (len(a.Timeline) > 0 && a.Timeline[0].Status == AttendanceExpected) {
		return time.Time{}, false
	}
	return a.ArrivedAt, true
}

// announcedAhead bounds how long before arriving NHS 111 may announce a
// patient: a booking is of a session at most 14 days ahead (GET /Slot),
// a referral a few hours.
const announcedAhead = 15 * 24 * time.Hour

// ECDSAttendances calls fn with every attendance whose patient arrived in
// [from, to) (ECDSArrival), in order of creation, stopping at fn's first
// error. Those announced by NHS 111 are found by their check-in, which may
// come days after the announcement.
func (v State) ECDSAttendances(from, to time.Time, fn func(*Attendance) error) error {
	return v.AttendancesArrived(from.Add(-announcedAhead), to, func(a *Attendance) error {
		at, ok := ECDSArrival(a)
		if !ok || at.Before(from) || !at.Before(to) {
			return nil
		}
		return fn(a)
	})
}

// ECDSRecordOf shapes one attendance; loc is the local time zone
// (Europe/London).
func ECDSRecordOf(a *Attendance, lists *coding.Lists, loc *time.Location) ECDSRecord {
	arrived, _ := ECDSArrival(a)
	at := arrived.In(loc)
	r := ECDSRecord{AttendanceID: a.ID, ArrivalDate: at.Format("2006-01-02"), ArrivalTime: at.Format("15:04:05"),
		ArrivedAt: arrived.UTC(), Channel: a.Channel, NHSNumber: a.Patient.NHSNumber, DateOfBirth: a.Patient.DateOfBirth,
		Status: a.Status, EncounterStatus: EncounterStatus(a), LocalCodes: []string{}}
	if at, ok := departure(a); ok {
		utc, local := at.UTC(), at.In(loc)
		r.DepartedAt, r.DepartureDate, r.DepartureTime = &utc, local.Format("2006-01-02"), local.Format("15:04:05")
	}
	if a.Triage == nil || a.Triage.Disposition == nil {
		return r
	}
	d := a.Triage.Disposition
	r.Dx, r.Tier, r.Timeframe = d.Dx, string(d.Tier), string(d.Timeframe)
	if dx, ok := lists.Dx(d.Dx); ok {
		r.DxMeaning, r.DxLocal = dx.Meaning, dx.Local
	}
	e := d.ECDS
	if e == nil {
		return r
	}
	r.Coded = true
	term := func(list, col, code string) coding.Code {
		if code == "" {
			return coding.Code{}
		}
		c, ok := lists.Lookup(list, code)
		if !ok {
			// Coded by an older list: keep the code, say it is unknown here.
			c = coding.Code{Code: code, Term: "(not in this binary's lists)", Local: coding.IsLocal(code)}
		}
		if c.Local {
			r.LocalCodes = append(r.LocalCodes, col)
		}
		return c
	}
	if len(e.ChiefComplaint) > 0 {
		r.ChiefComplaint = term(coding.ListChiefComplaint, "chief_complaint", e.ChiefComplaint[0])
	}
	r.Acuity = term(coding.ListAcuity, "acuity", e.Acuity)
	if Discharged(a.Status) {
		r.DischargeDestination = term(coding.ListDestination, "discharge_destination", e.DischargeDestination)
		r.DischargeFollowUp = term(coding.ListFollowUp, "discharge_follow_up", e.DischargeFollowUp)
	}
	if r.DxLocal {
		r.LocalCodes = append(r.LocalCodes, "dx")
	}
	return r
}

// departure is when an attendance left the queue for good (seen, handed
// over or left): its last such status change.
func departure(a *Attendance) (time.Time, bool) {
	if a.Status != AttendanceSeen && a.Status != AttendanceHandedOver && a.Status != AttendanceLeft {
		return time.Time{}, false
	}
	for i := len(a.Timeline) - 1; i >= 0; i-- {
		if a.Timeline[i].Status == a.Status {
			return a.Timeline[i].At, true
		}
	}
	return time.Time{}, false
}

// Discharged reports whether an attendance of this status has been
// discharged from the centre: seen, or handed over. Only then does the
// extract give the outcome's discharge destination and follow-up; one
// still waiting has none yet, and one who left without being seen was
// not discharged to where the outcome would have sent them.
func Discharged(status string) bool {
	return status == AttendanceSeen || status == AttendanceHandedOver
}

// ECDSCSVHeader is the extract's CSV header.
var ECDSCSVHeader = []string{"attendance_id", "arrival_date", "arrival_time", "arrived_at_utc",
	"departure_date", "departure_time", "departed_at_utc", "channel", "nhs_number",
	"date_of_birth", "status", "coded", "chief_complaint", "chief_complaint_term", "acuity", "acuity_term",
	"discharge_destination", "discharge_destination_term", "discharge_follow_up", "discharge_follow_up_term",
	"dx", "dx_meaning", "tier", "timeframe", "local_codes"}

// ECDSCSVWriter writes the extract as CSV, one record at a time.
type ECDSCSVWriter struct{ w *csv.Writer }

// NewECDSCSVWriter writes the header to w.
func NewECDSCSVWriter(w io.Writer) (*ECDSCSVWriter, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(ECDSCSVHeader); err != nil {
		return nil, fmt.Errorf("ecds csv: %w", err)
	}
	return &ECDSCSVWriter{w: cw}, nil
}

// Write writes one record.
func (x *ECDSCSVWriter) Write(r *ECDSRecord) error {
	coded := "false"
	if r.Coded {
		coded = "true"
	}
	departed := ""
	if r.DepartedAt != nil {
		departed = r.DepartedAt.Format(time.RFC3339)
	}
	return x.w.Write([]string{r.AttendanceID, r.ArrivalDate, r.ArrivalTime, r.ArrivedAt.Format(time.RFC3339),
		r.DepartureDate, r.DepartureTime, departed, r.Channel,
		r.NHSNumber, r.DateOfBirth, r.Status, coded, r.ChiefComplaint.Code, r.ChiefComplaint.Term, r.Acuity.Code, r.Acuity.Term,
		r.DischargeDestination.Code, r.DischargeDestination.Term, r.DischargeFollowUp.Code, r.DischargeFollowUp.Term,
		r.Dx, r.DxMeaning, r.Tier, r.Timeframe, strings.Join(r.LocalCodes, " ")})
}

// Flush flushes the writer and reports any write error.
func (x *ECDSCSVWriter) Flush() error {
	x.w.Flush()
	return x.w.Error()
}
