package api

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// slipRoutes are the route table's rows of the patient's slip (routes.go).
func slipRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/v1/attendances/:id/slip", Roles: rolesDesk, Summary: "Printable page for the patient: where to go, when, how, care advice, when to come back", Query: []string{consistencyQuery}, Handler: (*server).slipAttendance},
	}
}

// slipTemplate is the printable page handed to the patient. Plain HTML
// with print styles, no scripts, no external assets.
var slipTemplate = template.Must(template.New("slip").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your next step — {{.Centre}}</title>
<style>
body{font-family:Arial,Helvetica,sans-serif;max-width:40em;margin:1.5em auto;color:#212b32;line-height:1.4}
h1{font-size:1.6em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.2em 0 .3em;border-bottom:2px solid #005eb8}
.box{border:3px solid #005eb8;padding:.8em 1em;margin:1em 0}.urgent{border-color:#d5281b}
.wait{border-color:#ffb81c}small{color:#4c6272}@media print{body{margin:0}}
</style></head><body>
<p><small>{{.Centre}} · reference {{.ID}} · printed {{.Printed}}</small></p>
{{if .Pending}}<div class="box wait"><h1>Please wait in the waiting area</h1>
<p>{{.Pending}}</p></div>{{else}}
<div class="box{{if .Urgent}} urgent{{end}}"><h1>{{.Headline}}</h1>
{{if .Service}}<p><strong>{{.Service}}</strong>{{if .Address}}<br>{{.Address}}{{end}}{{if .Postcode}}<br>{{.Postcode}}{{end}}</p>{{end}}
<p><strong>When:</strong> {{.When}}</p></div>
<h2>How to get there</h2><p>{{.How}}</p>{{end}}
{{if .Title}}<h2>What we think</h2><p>{{.Title}}</p>{{end}}
{{if .Advice}}<h2>Looking after yourself</h2><p>{{.Advice}}</p>{{end}}
<h2>When to come back or get help</h2>
<p>{{if .SafetyNet}}{{.SafetyNet}} {{end}}If you get worse, or you are worried, come back to us or call NHS 111. In an emergency call 999.</p>
</body></html>
`))

type slipData struct {
	Centre, ID, Printed                  string
	Pending                              string
	Headline, Service, Address, Postcode string
	When, How                            string
	Urgent                               bool
	Title, Advice, SafetyNet             string
}

var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

func (s *server) slipAttendance(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var d slipData
	var patientID string
	handled, err := s.read(c, func(v *cluster.View) error {
		a, err := care.In(v).Attendance(id)
		if err != nil {
			return err
		}
		var svc *routing.Service
		if a.Routing != nil {
			if svc, err = directory.In(v).Service(a.Routing.Decision.ServiceID); err != nil {
				svc = nil
			}
		}
		d = slipOf(a, svc)
		patientID = a.PatientID
		if h, err := directory.In(v).DirectoryHeader(); err == nil {
			d.Centre = h.Name
		}
		return nil
	})
	if handled || err != nil {
		return err
	}
	s.reads.noteAttendance(c, id, patientID)
	if d.Centre == "" {
		d.Centre = "Urgent care centre"
	}
	d.Printed = time.Now().In(london).Format("Mon 2 Jan 2006 15:04")
	var buf bytes.Buffer
	if err := slipTemplate.Execute(&buf, &d); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(buf.Bytes())
}

func slipOf(a *care.Attendance, svc *routing.Service) slipData {
	d := slipData{ID: a.ID}
	var disp *care.Disposition
	if a.Triage != nil {
		disp = a.Triage.Disposition
	}
	if disp != nil {
		d.Title, d.Advice, d.SafetyNet = disp.Title, disp.Advice, disp.SafetyNet
	}
	switch {
	case a.Status == care.AttendanceAwaitingConfirmation:
		d.Pending = "A clinician is checking the plan for you. We will call you shortly."
		return d
	case a.Status == care.AttendanceAwaitingClinician:
		d.Pending = clinicianFirstPending(disp, a.ClinicianDue)
		return d
	case a.Status == care.AttendanceAwaitingAddress:
		d.Pending = "The community team needs to know where you are now: please give reception (or NHS 111) your postcode and address."
		return d
	case a.Routing == nil:
		d.Pending = "We have not finished assessing you yet. We will call you shortly."
		return d
	}
	dec := a.Routing.Decision
	d.Service = dec.ServiceName
	if svc != nil {
		d.Address, d.Postcode = svc.Address, svc.Postcode
	}
	immediate := disp != nil && string(disp.Timeframe) == "immediate"
	d.Urgent = dec.Tier == routing.TierED
	switch dec.Tier {
	case routing.TierSelfCare:
		d.Headline = "You can look after yourself at home"
		d.Service = ""
		d.When = "Now: follow the advice below."
		d.How = "No appointment is needed."
		return d
	case routing.TierED:
		d.Headline = "Go to the emergency department"
	case routing.TierPharmacy:
		d.Headline = "See a pharmacist"
	case routing.TierRapidResponse:
		d.Headline = "The urgent community response team will visit you at home"
	default:
		d.Headline = "See a GP or nurse"
	}
	if immediate {
		d.Headline = "Stay here: a clinician will see you now"
		d.When = "Now."
		d.How = "Please stay in the waiting area and tell reception at once if you feel worse."
		return d
	}
	when := dec.SeeFrom.In(london)
	d.When = "From " + when.Format("15:04 on Monday 2 January")
	if disp != nil && disp.Timeframe != "" && disp.Timeframe != "none" {
		d.When += fmt.Sprintf(" (within %s)", disp.Timeframe)
	}
	switch {
	case dec.Tier == routing.TierRapidResponse:
		d.How = "Go home; the team will contact you. Keep your phone with you."
	case dec.DistanceM > 0:
		d.How = fmt.Sprintf("It is about %.1f km from here. Show this slip when you arrive.", float64(dec.DistanceM)/1000)
	default:
		d.How = "It is at this site: ask reception for directions and show this slip when you arrive."
	}
	return d
}

// clinicianFirstPending is the slip's word to a patient awaiting the
// clinician: seen now at the desk, or a call-back by the due time.
func clinicianFirstPending(disp *care.Disposition, due *time.Time) string {
	if disp != nil && disp.ClinicianFirst != nil && disp.ClinicianFirst.Stream == "clinician_callback" {
		msg := "A clinician will phone you back"
		if due != nil {
			msg += " by " + due.In(london).Format("15:04")
		}
		return msg + ". Keep your phone with you and the line free."
	}
	return "A clinician will see you now. Please stay in the waiting area and tell reception at once if you feel worse."
}
