package api

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

// exportRoutes are the route table's rows of the data extracts (routes.go).
func exportRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/exports/ecds", Roles: []string{access.RoleClinician}, Summary: "ECDS-shaped extract of the attendances that arrived from one UK date to another (both included, at most 31 days): format=csv (default) or fhir (a FHIR R4 Bundle of Encounters)", Query: []string{"from", "to", "format", consistencyQuery}, Handler: (*server).exportECDS},
	}
}

// ecdsMaxDays bounds one extract (it is built in memory).
const ecdsMaxDays = 31

// ecdsPeriod parses from and to (YYYY-MM-DD, UK local dates, both
// included) into the instants [start, end).
func ecdsPeriod(fromS, toS string) (start, end time.Time, p *Problem) {
	errs := map[string]string{}
	day := func(name, s string) time.Time {
		if s == "" {
			errs[name] = "required: a date, YYYY-MM-DD"
			return time.Time{}
		}
		d, err := time.ParseInLocation("2006-01-02", s, london)
		if err != nil {
			errs[name] = "a date, YYYY-MM-DD"
		}
		return d
	}
	from, to := day("from", fromS), day("to", toS)
	if len(errs) > 0 {
		return start, end, invalid("from and to must be dates", errs)
	}
	end = time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, london)
	switch {
	case to.Before(from):
		return start, end, invalid("to is before from", map[string]string{"to": "on or after from"})
	case end.After(time.Date(from.Year(), from.Month(), from.Day()+ecdsMaxDays, 0, 0, 0, 0, london)):
		return start, end, invalid("the period is too long", map[string]string{"to": fmt.Sprintf("at most %d days after from (both included)", ecdsMaxDays-1)})
	}
	return from, end, nil
}

// exportECDS: GET /v1/exports/ecds?from=&to=[&format=csv|fhir] -> the
// period's attendances as CSV or a FHIR Bundle. Each exported attendance
// is a read of its record (and its patient's), audited as record.read.
func (s *server) exportECDS(c *fiber.Ctx) error {
	format := strings.Clone(c.Query("format", "csv"))
	if format != "csv" && format != "fhir" {
		return invalid("unknown format", map[string]string{"format": "csv or fhir"})
	}
	start, end, p := ecdsPeriod(c.Query("from"), c.Query("to"))
	if p != nil {
		return p
	}
	lists, err := coding.Default()
	if err != nil {
		return fmt.Errorf("ecds code lists: %w", err)
	}
	var recs []care.ECDSRecord
	var patients []string
	handled, err := s.read(c, func(v *cluster.View) error {
		recs, patients = recs[:0], patients[:0]
		return care.In(v).ECDSAttendances(start, end, func(a *care.Attendance) error {
			recs = append(recs, care.ECDSRecordOf(a, lists, london))
			patients = append(patients, a.PatientID)
			return nil
		})
	})
	if handled || err != nil {
		return err
	}
	for i := range recs {
		s.reads.noteAttendance(c, recs[i].AttendanceID, patients[i])
	}
	var buf bytes.Buffer
	name := fmt.Sprintf("ecds-%s-%s", start.Format("2006-01-02"), end.AddDate(0, 0, -1).Format("2006-01-02"))
	if format == "csv" {
		w, err := care.NewECDSCSVWriter(&buf)
		if err != nil {
			return err
		}
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				return fmt.Errorf("ecds csv: %w", err)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
		return c.Send(buf.Bytes())
	}
	w, err := care.NewECDSBundleWriter(&buf, time.Now())
	if err != nil {
		return err
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/fhir+json")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.json"`)
	return c.Send(buf.Bytes())
}
