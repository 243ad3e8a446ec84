package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// fixtureSeq makes fixture names unique within a test binary.
var fixtureSeq atomic.Int64

// mustStatus sends a request through the leader and fails unless it gets want.
func mustStatus(t *testing.T, tc *nodetest.Cluster, want int, method, path, body string) []byte {
	t.Helper()
	resp, b := tc.Do(t, tc.Leader(t), method, path, body, nil)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

func newAttendance(t *testing.T, tc *nodetest.Cluster, body string) string {
	t.Helper()
	var c created
	nodetest.DecodeJSON(t, mustStatus(t, tc, http.StatusCreated, http.MethodPost, "/v1/attendances", body), &c)
	return c.ID
}

func newPatient(t *testing.T, tc *nodetest.Cluster, body string) care.PatientRecord {
	t.Helper()
	var p care.PatientRecord
	nodetest.DecodeJSON(t, mustStatus(t, tc, http.StatusCreated, http.MethodPost, "/v1/patients", body), &p)
	return p
}

// fixturePatient is a fresh patient with no GP, living in DY1.
func fixturePatient(t *testing.T, tc *nodetest.Cluster) care.PatientRecord {
	t.Helper()
	n := fixtureSeq.Add(1)
	return newPatient(t, tc, fmt.Sprintf(`{"given_name":"Sam","family_name":"Fixture%c%c","date_of_birth":"1980-01-%02d","postcode":"DY1 1AB","confirm_new":true}`,
		'a'+rune(n%26), 'a'+rune(n/26%26), 1+n%28))
}

func link(t *testing.T, tc *nodetest.Cluster, attendanceID, patientID string) {
	t.Helper()
	mustStatus(t, tc, http.StatusOK, http.MethodPost, "/v1/attendances/"+attendanceID+"/patient", `{"patient_id":"`+patientID+`"}`)
}

// fixtureRegistration is a proposed registration (consent given).
func fixtureRegistration(t *testing.T, tc *nodetest.Cluster) care.RegistrationRecord {
	t.Helper()
	a := newAttendance(t, tc, `{"complaint":"needs a GP"}`)
	link(t, tc, a, fixturePatient(t, tc).ID)
	var r care.RegistrationRecord
	nodetest.DecodeJSON(t, mustStatus(t, tc, http.StatusCreated, http.MethodPost, "/v1/attendances/"+a+"/registration", `{"consent":true}`), &r)
	return r
}

// patientRouteSamples are sample requests for its routes (routeSamples, auth_test.go).
func patientRouteSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	pat := fixturePatient(t, tc)
	reg := fixtureRegistration(t, tc)
	return map[string]sampleFunc{
		"POST /v1/patients": func(*testing.T) (string, string) {
			n := fixtureSeq.Add(1)
			return "/v1/patients", fmt.Sprintf(`{"given_name":"Role","family_name":"Sample%d","date_of_birth":"1970-02-03","confirm_new":true}`, n)
		},
		"GET /v1/patients":     func(*testing.T) (string, string) { return "/v1/patients?family_name=" + pat.FamilyName, "" },
		"GET /v1/patients/:id": func(*testing.T) (string, string) { return "/v1/patients/" + pat.ID, "" },
		"POST /v1/attendances/:id/patient": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t, tc, `{"complaint":"x"}`) + "/patient", `{"patient_id":"` + pat.ID + `"}`
		},
		"POST /v1/attendances/:id/registration": func(t *testing.T) (string, string) {
			a := newAttendance(t, tc, `{"complaint":"x"}`)
			link(t, tc, a, fixturePatient(t, tc).ID)
			return "/v1/attendances/" + a + "/registration", `{"consent":true}`
		},
		"GET /v1/registrations":     func(*testing.T) (string, string) { return "/v1/registrations?status=proposed", "" },
		"GET /v1/registrations/:id": func(*testing.T) (string, string) { return "/v1/registrations/" + reg.ID, "" },
		"POST /v1/registrations/:id/status": func(t *testing.T) (string, string) {
			return "/v1/registrations/" + fixtureRegistration(t, tc).ID + "/status", `{"status":"sent"}`
		},
	}
}

// TestRegistrationAndIdentitySecond: GP registration and "identity
// second", on a 3-node cluster with requests through a follower:
//   - an unregistered walk-in is registered with an in-catchment practice
//     with an open list (nearest), proposed -> sent -> accepted, and the
//     practice lands on the patient record;
//   - one with no fixed abode goes to the designated practice;
//   - a "new" patient matching an existing one is offered as a candidate
//     (409 with the candidate and reasons; search ranks it first), never
//     merged; confirm_new creates the new record deliberately;
//   - an unnamed collapsed patient is recorded first and named later.
func TestRegistrationAndIdentitySecond(t *testing.T) {
	tc := nodetest.New(t, 3)
	desk := tc.Key(t, access.RoleReception, "Reception Desk 2")
	f := tc.Follower(t)
	post := func(path, body string, want int) []byte {
		t.Helper()
		resp, b := tc.Do(t, f, http.MethodPost, path, body, nodetest.BearerHeader(desk))
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d: %s", path, resp.StatusCode, want, b)
		}
		return b
	}
	get := func(path string) []byte {
		t.Helper()
		resp, b := tc.Do(t, f, http.MethodGet, path, "", nodetest.BearerHeader(desk))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}

	// In catchment: DY2 8AD is in X99002's, X99007's (list closed) and
	// X99009's catchments; X99002 is nearest.
	var c created
	nodetest.DecodeJSON(t, post("/v1/attendances", `{"patient":{"given_name":"Priya","family_name":"Shah","date_of_birth":"1994-05-17","postcode":"DY2 8AD"},"complaint":"rash"}`, 201), &c)
	var priya care.PatientRecord
	nodetest.DecodeJSON(t, post("/v1/patients", `{"given_name":"Priya","family_name":"Shah","date_of_birth":"1994-05-17","postcode":"dy28ad","nhs_number":"943 476 5919"}`, 201), &priya)
	if priya.Postcode != "DY2 8AD" || priya.NHSNumber != "9434765919" || priya.CreatedBy.Name != "Reception Desk 2" {
		t.Fatalf("patient %+v", priya)
	}
	post("/v1/attendances/"+c.ID+"/patient", `{"patient_id":"`+priya.ID+`"}`, 200)
	var reg care.RegistrationRecord
	nodetest.DecodeJSON(t, post("/v1/attendances/"+c.ID+"/registration", `{"consent":true}`, 201), &reg)
	if reg.ODSCode != "X99002" || reg.State != "proposed" || reg.Type != care.RegistrationPermanent || !reg.Consent.Given ||
		!strings.Contains(reg.Reason, "nearest practice with an open list") {
		t.Fatalf("in-catchment registration %+v", reg)
	}
	rejected := map[string]string{}
	for _, r := range reg.Rejections {
		rejected[r.ODSCode] = r.Code
	}
	if rejected["X99007"] != "list_closed" || rejected["X99001"] != "outside_catchment" || rejected["X99009"] != "further" {
		t.Fatalf("rejections %v", rejected)
	}
	// A second registration while this one is open is refused.
	post("/v1/attendances/"+c.ID+"/registration", `{"consent":true}`, 409)
	// Accepting before sending is not a legal step.
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"accepted"}`, 409)
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"sent"}`, 200)
	var listed api.RegistrationList
	nodetest.DecodeJSON(t, get("/v1/registrations?status=sent&consistency=linearizable"), &listed)
	if len(listed.Registrations) != 1 || listed.Registrations[0].ID != reg.ID {
		t.Fatalf("sent list %+v", listed)
	}
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"accepted"}`, 200)
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/patients/"+priya.ID+"?consistency=linearizable", "", nil)
		var p care.PatientRecord
		nodetest.DecodeJSON(t, b, &p)
		if resp.StatusCode != 200 || p.GPPractice != "X99002" {
			t.Fatalf("%s: patient after acceptance %s", tn.ID, b)
		}
	}
	nodetest.DecodeJSON(t, get("/v1/registrations?status=sent"), &listed)
	if len(listed.Registrations) != 0 {
		t.Fatalf("still listed as sent: %+v", listed)
	}
	var att struct {
		PatientID      string `json:"patient_id"`
		RegistrationID string `json:"registration_id"`
	}
	nodetest.DecodeJSON(t, get("/v1/attendances/"+c.ID), &att)
	if att.PatientID != priya.ID || att.RegistrationID != reg.ID {
		t.Fatalf("attendance refs %+v", att)
	}
	// Registered now: no second registration.
	a2 := newAttendance(t, tc, `{"complaint":"follow-up"}`)
	link(t, tc, a2, priya.ID)
	post("/v1/attendances/"+a2+"/registration", `{"consent":true}`, 409)

	// No fixed abode: the designated practice, never refused; temporary
	// for a short stay.
	nodetest.DecodeJSON(t, post("/v1/attendances", `{"complaint":"chest infection"}`, 201), &c)
	var tom care.PatientRecord
	nodetest.DecodeJSON(t, post("/v1/patients", `{"given_name":"Tom","family_name":"Byrne","date_of_birth":"1961-11-02","no_fixed_abode":true}`, 201), &tom)
	post("/v1/attendances/"+c.ID+"/patient", `{"patient_id":"`+tom.ID+`"}`, 200)
	nodetest.DecodeJSON(t, post("/v1/attendances/"+c.ID+"/registration", `{"consent":false,"stay_days":30}`, 201), &reg)
	if reg.ODSCode != "X99008" || !reg.NoFixedAbode || reg.Type != care.RegistrationTemporary || !strings.Contains(reg.Reason, "no fixed abode") {
		t.Fatalf("NFA registration %+v", reg)
	}
	// Not sent without consent; consent given at sending.
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"sent"}`, 409)
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"sent","consent":true}`, 200)
	post("/v1/registrations/"+reg.ID+"/status", `{"status":"refused","reason":"list full this week"}`, 200)
	nodetest.DecodeJSON(t, get("/v1/registrations?status=refused"), &listed)
	if len(listed.Registrations) != 1 || listed.Registrations[0].History[len(listed.Registrations[0].History)-1].Reason != "list full this week" {
		t.Fatalf("refused list %+v", listed)
	}

	// A "new" patient who matches an existing one: offered as a candidate.
	resp, b := tc.Do(t, f, http.MethodPost, "/v1/patients", `{"given_name":"Pria","family_name":"Shah","date_of_birth":"1994-05-17","postcode":"DY2 8AD"}`, nodetest.BearerHeader(desk))
	p := expectProblem(t, resp, b, http.StatusConflict, api.ProblemConflict, "candidates."+priya.ID)
	if !strings.Contains(p.Errors["candidates."+priya.ID], "same date of birth") {
		t.Fatalf("candidate reasons %v", p.Errors)
	}
	var found api.CandidateList
	nodetest.DecodeJSON(t, get("/v1/patients?given_name=Pria&family_name=Shaw&date_of_birth=1994-05-17&postcode=DY2+8AD"), &found)
	if len(found.Candidates) == 0 || found.Candidates[0].Patient.ID != priya.ID || found.Candidates[0].Exact {
		t.Fatalf("search candidates %+v", found)
	}
	reasons := strings.Join(found.Candidates[0].Reasons, "; ")
	for _, want := range []string{"same date of birth", "surname differs by one letter", "given name differs by one letter", "same postcode"} {
		if !strings.Contains(reasons, want) {
			t.Fatalf("reasons %q lack %q", reasons, want)
		}
	}
	nodetest.DecodeJSON(t, get("/v1/patients?nhs_number=9434765919"), &found)
	if len(found.Candidates) != 1 || !found.Candidates[0].Exact || found.Candidates[0].Patient.ID != priya.ID {
		t.Fatalf("NHS number search %+v", found)
	}
	resp, b = tc.Do(t, f, http.MethodPost, "/v1/patients", `{"given_name":"P","family_name":"S","date_of_birth":"2000-01-01","nhs_number":"9434765919"}`, nodetest.BearerHeader(desk))
	expectProblem(t, resp, b, http.StatusConflict, api.ProblemConflict, "nhs_number")
	// Deliberately someone else (twin sister): created, nothing merged.
	var twin care.PatientRecord
	nodetest.DecodeJSON(t, post("/v1/patients", `{"given_name":"Pria","family_name":"Shah","date_of_birth":"1994-05-17","postcode":"DY2 8AD","confirm_new":true}`, 201), &twin)
	if twin.ID == priya.ID {
		t.Fatal("confirm_new returned the existing record")
	}

	// Unnamed collapsed patient: recorded with no identity, named later.
	nodetest.DecodeJSON(t, post("/v1/attendances", `{"complaint":"collapsed in the car park"}`, 201), &c)
	var unnamed struct {
		Patient care.Patient `json:"patient"`
	}
	nodetest.DecodeJSON(t, get("/v1/attendances/"+c.ID), &unnamed)
	if unnamed.Patient != (care.Patient{}) {
		t.Fatalf("arrived with identity %+v", unnamed.Patient)
	}
	var jo care.PatientRecord
	nodetest.DecodeJSON(t, post("/v1/patients", `{"given_name":"Jo","family_name":"Marsh","date_of_birth":"1950-03-30","postcode":"DY3 1AC"}`, 201), &jo)
	post("/v1/attendances/"+c.ID+"/patient", `{"patient_id":"`+jo.ID+`"}`, 200)
	for _, tn := range tc.Nodes {
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/attendances/"+c.ID+"?consistency=linearizable", "", nil)
		var named struct {
			PatientID string       `json:"patient_id"`
			Patient   care.Patient `json:"patient"`
		}
		nodetest.DecodeJSON(t, b, &named)
		if resp.StatusCode != 200 || named.PatientID != jo.ID || named.Patient.FamilyName != "Marsh" || named.Patient.DateOfBirth != "1950-03-30" {
			t.Fatalf("%s: named later: %s", tn.ID, b)
		}
	}
	_, b = tc.Do(t, f, http.MethodGet, "/v1/audit?entity=attendance/"+c.ID, "", nil) // audit: clinician or admin
	if !strings.Contains(string(b), `"named_later":true`) || !strings.Contains(string(b), "Reception Desk 2") {
		t.Fatalf("audit of naming: %s", b)
	}
	// Linking to someone else now is refused.
	post("/v1/attendances/"+c.ID+"/patient", `{"patient_id":"`+priya.ID+`"}`, 409)
}

// TestPatientBadInputChangesNothing for the patient and
// registration routes: a 4xx problem naming the field, on the leader and
// through a follower, with the raft index and every node's state hash
// unchanged.
func TestPatientBadInputChangesNothing(t *testing.T) {
	tc := nodetest.New(t, 3)
	reg := fixtureRegistration(t, tc)
	a := newAttendance(t, tc, `{"complaint":"x"}`)
	tests := []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"malformed JSON", "/v1/patients", `{"given_name":"A"`, 400, ""},
		{"unknown field", "/v1/patients", `{"given_name":"A","family_name":"B","date_of_birth":"1990-01-01","shoe_size":9}`, 422, "shoe_size"},
		{"invalid NHS number", "/v1/patients", `{"given_name":"A","family_name":"B","date_of_birth":"1990-01-01","nhs_number":"9434765918"}`, 422, "nhs_number"},
		{"date of birth in the future", "/v1/patients", `{"given_name":"A","family_name":"B","date_of_birth":"2999-01-01"}`, 422, "date_of_birth"},
		{"no family name", "/v1/patients", `{"given_name":"A","date_of_birth":"1990-01-01"}`, 422, "family_name"},
		{"bad postcode", "/v1/patients", `{"given_name":"A","family_name":"B","date_of_birth":"1990-01-01","postcode":"12345"}`, 422, "postcode"},
		{"bad sex", "/v1/patients", `{"given_name":"A","family_name":"B","date_of_birth":"1990-01-01","sex":"x"}`, 422, "sex"},
		{"link without patient", "/v1/attendances/" + a + "/patient", `{}`, 422, "patient_id"},
		{"registration type", "/v1/attendances/" + a + "/registration", `{"consent":true,"type":"forever"}`, 422, "type"},
		{"registration postcode", "/v1/attendances/" + a + "/registration", `{"consent":true,"postcode":"nowhere"}`, 422, "postcode"},
		{"registration consent type", "/v1/attendances/" + a + "/registration", `{"consent":"yes"}`, 422, "consent"},
		{"status unknown", "/v1/registrations/" + reg.ID + "/status", `{"status":"approved"}`, 422, "status"},
		{"refusal without reason", "/v1/registrations/" + reg.ID + "/status", `{"status":"refused"}`, 422, "reason"},
	}
	before := tc.Leader(t).N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, http.MethodPost, tt.path, tt.body, nil)
				typ := api.ProblemInvalid
				if tt.status == 400 {
					typ = api.ProblemBadRequest
				}
				expectProblem(t, resp, b, tt.status, typ, tt.field)
			})
		}
	}
	for _, q := range []struct{ query, field string }{
		{"nhs_number=1234567890", "nhs_number"},
		{"given_name=Ada", "family_name"},
		{"family_name=X&date_of_birth=1990-02-31", "date_of_birth"},
	} {
		resp, b := tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/patients?"+q.query, "", nil)
		expectProblem(t, resp, b, http.StatusBadRequest, api.ProblemBadRequest, q.field)
	}
	resp, b := tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/registrations?status=lost", "", nil)
	expectProblem(t, resp, b, http.StatusBadRequest, api.ProblemBadRequest, "status")
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d on refused input", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("state hash changed on refused input:\n%s\n%s", hashBefore, after)
	}
}

// TestPatientCreateIdempotent: a retried POST /v1/patients with the same
// Idempotency-Key (through another node) returns the first answer instead
// of refusing the "duplicate"; the same key with another body is refused.
func TestPatientCreateIdempotent(t *testing.T) {
	tc := nodetest.New(t, 3)
	body := `{"given_name":"Ola","family_name":"Nowak","date_of_birth":"1988-08-08"}`
	key := map[string]string{api.HeaderIdempotencyKey: "patient-ola"}
	resp1, b1 := tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/patients", body, key)
	if resp1.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %s", resp1.StatusCode, b1)
	}
	resp2, b2 := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/patients", body, key)
	if resp2.StatusCode != http.StatusCreated || string(b2) != string(b1) {
		t.Fatalf("replay: %d %s\nfirst: %s", resp2.StatusCode, b2, b1)
	}
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/patients", strings.Replace(body, "Ola", "Olga", 1), key)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemIdempotency, "")
	// Without a key the same person again is a likely duplicate.
	resp, b = tc.Do(t, tc.Leader(t), http.MethodPost, "/v1/patients", body, nil)
	expectProblem(t, resp, b, http.StatusConflict, api.ProblemConflict, "")
}
