package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// patientRoutes are the route table's rows of patient records and linking an attendance to one (routes.go).
func patientRoutes() []routeRow {
	return []routeRow{
		{Method: "POST", Path: "/v1/patients", Roles: rolesDesk, Summary: "Create a patient record (409 with candidates when it looks like an existing one)", Body: care.PatientCreate{}, Kinds: []cluster.Kind{care.KindPatientCreate}, Handler: (*server).createPatient},
		{Method: "GET", Path: "/v1/patients", Roles: rolesDesk, Summary: "Find a patient: ranked candidates with reasons, never a merge", Query: []string{"nhs_number", "given_name", "family_name", "date_of_birth", "postcode", consistencyQuery}, Handler: (*server).searchPatients},
		{Method: "GET", Path: "/v1/patients/:id", Roles: rolesDesk, Summary: "One patient record", Query: []string{consistencyQuery}, Handler: (*server).getPatient},
		{Method: "POST", Path: "/v1/attendances/:id/patient", Roles: rolesDesk, Summary: "Link an attendance to a patient record (names an unnamed attendee)", Body: linkPatientBody{}, Kinds: []cluster.Kind{care.KindAttendancePatient}, Handler: (*server).linkPatient},
	}
}

// linkPatientBody is the POST /v1/attendances/{id}/patient body.
type linkPatientBody struct {
	PatientID string `json:"patient_id"`
}

// createPatient: POST /v1/patients -> 201 with the record. A record that
// looks like existing ones (same date of birth and surname, or closer) is
// refused with 409 listing them as candidates, unless confirm_new is true;
// the same NHS number is always a 409 naming the existing patient.
func (s *server) createPatient(c *fiber.Ctx) error {
	body := bytes.Clone(c.Body())
	var req care.PatientCreate
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if f := req.Validate(time.Now()); f != nil {
		return invalid("the patient is not valid", f)
	}
	p, err := proposal(c, care.KindPatientCreate, "POST /v1/patients", body)
	if err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	var rec care.PatientRecord
	if err := json.Unmarshal(res.Value, &rec); err != nil {
		return err
	}
	c.Location("/v1/patients/" + rec.ID)
	return c.Status(http.StatusCreated).JSON(&rec)
}

func (s *server) getPatient(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	var p *care.PatientRecord
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		p, err = care.In(v).Patient(id)
		return err
	})
	if handled || err != nil {
		return err
	}
	s.reads.note(c, "patient/"+p.ID)
	return c.JSON(p)
}

// candidateList is the GET /v1/patients body.
type candidateList struct {
	Candidates []care.PatientCandidate `json:"candidates"`
}

// searchPatients: GET /v1/patients?nhs_number= or
// ?given_name=&family_name=&date_of_birth=&postcode= -> ranked candidates
// with the reasons for each score. Never a merge: the caller picks.
func (s *server) searchPatients(c *fiber.Ctx) error {
	q := routing.Person{
		NHSNumber:   strings.Clone(c.Query("nhs_number")),
		GivenName:   strings.Clone(c.Query("given_name")),
		FamilyName:  strings.Clone(c.Query("family_name")),
		DateOfBirth: strings.Clone(c.Query("date_of_birth")),
		Postcode:    strings.Clone(c.Query("postcode")),
	}
	f := map[string]string{}
	if q.NHSNumber != "" {
		if err := routing.ValidateNHSNumber(q.NHSNumber); err != nil {
			f["nhs_number"] = err.Error()
		}
	} else if q.FamilyName == "" && q.DateOfBirth == "" {
		f["family_name"] = "give nhs_number, or at least family_name or date_of_birth"
	}
	if q.DateOfBirth != "" {
		if _, err := time.Parse("2006-01-02", q.DateOfBirth); err != nil {
			f["date_of_birth"] = "must be a YYYY-MM-DD date"
		}
	}
	if len(f) > 0 {
		return &Problem{Type: problemBadRequest, Title: "Bad request", Status: http.StatusBadRequest,
			Detail: "the search is not valid", Errors: f}
	}
	var out candidateList
	handled, err := s.read(c, func(v *cluster.View) error {
		var err error
		out.Candidates, err = care.In(v).MatchPatients(q)
		return err
	})
	if handled || err != nil {
		return err
	}
	if out.Candidates == nil {
		out.Candidates = []care.PatientCandidate{}
	}
	for _, cand := range out.Candidates {
		if cand.Patient != nil {
			s.reads.note(c, "patient/"+cand.Patient.ID) // shown to the caller
		}
	}
	return c.JSON(out)
}

// linkPatient: POST /v1/attendances/{id}/patient {patient_id} links the
// attendance to a patient record and names it from the record (an
// unnamed collapsed patient is named later this way).
func (s *server) linkPatient(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	body := bytes.Clone(c.Body())
	var req linkPatientBody
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if req.PatientID == "" {
		return invalid("patient_id is required", map[string]string{"patient_id": "required"})
	}
	p, err := proposal(c, care.KindAttendancePatient, "POST /v1/attendances/"+id+"/patient", body)
	if err != nil {
		return err
	}
	if p.Payload, err = json.Marshal(care.AttendancePatient{AttendanceID: id, PatientID: req.PatientID}); err != nil {
		return err
	}
	res, handled, err := s.propose(c, p)
	if handled || err != nil {
		return err
	}
	var a care.Attendance
	if err := json.Unmarshal(res.Value, &a); err != nil {
		return err
	}
	return c.JSON(renderAttendance(&a))
}
