package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
)

// The UK Core reads: behind the same keys and roles as /v1, each audited
// as a read of the patient's record (readaudit.go).

func fhirJSON(c *fiber.Ctx, v any) error {
	b, err := bars.Resource(v)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}

func fhirNotFound(what string) error {
	return &bars.Error{Status: http.StatusNotFound, Issues: []bars.Issue{{Code: fhir.IssueTypeNotFound, Diagnostics: "no " + what}}}
}

func (s *server) fhirPatient(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	var p *care.PatientRecord
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		p, err = care.In(v).Patient(id)
		return err
	})
	if handled {
		return err
	}
	if errors.Is(err, cluster.ErrNotFound) {
		return fhirNotFound("Patient " + id)
	} else if err != nil {
		return err
	}
	s.reads.note(c, "patient/"+p.ID)
	return fhirJSON(c, bars.Patient(p))
}

func (s *server) fhirEncounter(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	var a *care.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		a, err = care.In(v).Attendance(id)
		return err
	})
	if handled {
		return err
	}
	if errors.Is(err, cluster.ErrNotFound) {
		return fhirNotFound("Encounter " + id)
	} else if err != nil {
		return err
	}
	s.reads.noteAttendance(c, a.ID, a.PatientID)
	return fhirJSON(c, bars.Encounter(a))
}

func (s *server) fhirServiceRequest(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	var r *care.Referral
	var a *care.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		// frontdoor's id, or the sender's ServiceRequest id.
		if r, err = care.In(v).Referral(id); errors.Is(err, cluster.ErrNotFound) {
			r, err = care.In(v).ReferralByServiceRequest(id)
		}
		if err != nil {
			return err
		}
		a, err = care.In(v).Attendance(r.AttendanceID)
		return err
	})
	if handled {
		return err
	}
	if errors.Is(err, cluster.ErrNotFound) {
		return fhirNotFound("ServiceRequest " + id)
	} else if err != nil {
		return err
	}
	s.reads.noteAttendance(c, a.ID, a.PatientID)
	return fhirJSON(c, bars.ServiceRequest(r, a))
}

// fhirObservations: GET /fhir/R4/Observation?encounter=<id> (or
// Encounter/<id>) -> a searchset of the observations its referral carried.
func (s *server) fhirObservations(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	enc := strings.TrimPrefix(strings.Clone(c.Query("encounter")), "Encounter/")
	if enc == "" {
		return bars.BadRequest(fhir.IssueTypeRequired, "encounter", "search Observation by encounter (?encounter=<Encounter id>)")
	}
	var r *care.Referral
	var a *care.Attendance
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		if a, err = care.In(v).Attendance(enc); err != nil {
			return err
		}
		r, err = care.In(v).ReferralOfAttendance(enc)
		if errors.Is(err, cluster.ErrNotFound) {
			r, err = nil, nil // an attendance not referred over BaRS: none
		}
		return err
	})
	if handled {
		return err
	}
	if errors.Is(err, cluster.ErrNotFound) {
		return fhirNotFound("Encounter " + enc)
	} else if err != nil {
		return err
	}
	s.reads.noteAttendance(c, a.ID, a.PatientID)
	var list []any
	if r != nil {
		for _, o := range bars.Observations(r) {
			list = append(list, o)
		}
	}
	b, err := bars.SearchSet(c.BaseURL()+fhirBase+"/Observation?encounter="+enc, list)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}
