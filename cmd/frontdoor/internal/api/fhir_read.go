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

// readFHIR reads one resource for a FHIR route: get runs in a read of the
// consistency asked for; a missing record is the OperationOutcome naming
// what (not found). done reports that the request is answered (forwarded,
// or refused): the handler returns err then.
func readFHIR[T any](s *server, c *fiber.Ctx, what string, get func(v *cluster.View) (T, error)) (out T, done bool, err error) {
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out, err = get(v)
		return err
	})
	switch {
	case handled:
		return out, true, err
	case errors.Is(err, cluster.ErrNotFound):
		return out, true, fhirNotFound(what)
	default:
		return out, err != nil, err
	}
}

// referralByAnyID finds a referral by frontdoor's id or the sender's
// ServiceRequest id.
func referralByAnyID(v *cluster.View, id string) (*care.Referral, error) {
	r, err := care.In(v).Referral(id)
	if errors.Is(err, cluster.ErrNotFound) {
		r, err = care.In(v).ReferralByServiceRequest(id)
	}
	return r, err
}

// appointmentByAnyID finds a booking by frontdoor's id or the sender's.
func appointmentByAnyID(v *cluster.View, id string) (*care.Appointment, error) {
	ap, err := care.In(v).Appointment(id)
	if errors.Is(err, cluster.ErrNotFound) {
		ap, err = care.In(v).AppointmentBySender(id)
	}
	return ap, err
}

func (s *server) fhirPatient(c *fiber.Ctx) error {
	if err := requireBaRSHeaders(c); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	p, done, err := readFHIR(s, c, "Patient "+id, func(v *cluster.View) (*care.PatientRecord, error) {
		return care.In(v).Patient(id)
	})
	if done {
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
	a, done, err := readFHIR(s, c, "Encounter "+id, func(v *cluster.View) (*care.Attendance, error) {
		return care.In(v).Attendance(id)
	})
	if done {
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
	var a *care.Attendance
	r, done, err := readFHIR(s, c, "ServiceRequest "+id, func(v *cluster.View) (*care.Referral, error) {
		r, err := referralByAnyID(v, id)
		if err != nil {
			return nil, err
		}
		a, err = care.In(v).Attendance(r.AttendanceID)
		return r, err
	})
	if done {
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
	b, err := bars.SearchSet(clientBaseURL(c)+fhirBase+"/Observation?encounter="+enc, list)
	if err != nil {
		return err
	}
	return sendFHIR(c, http.StatusOK, b)
}
