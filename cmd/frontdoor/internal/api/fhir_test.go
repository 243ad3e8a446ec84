package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/bars"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// The published BaRS examples (testdata/bars, see NOTICE) sent to a
// running three-node cluster (issue 19, acceptance 1).

const (
	fhirBase      = "/fhir/R4"
	barsTarget    = "gp-ucc-stream" // the centre's own stream in the demo directory
	validNHS      = "9434765919"    // Modulus 11 valid (the examples' 3478526985 is not)
	processRoute  = fhirBase + "/$process-message"
	nhsNumberSys  = "https://fhir.nhs.uk/Id/nhs-number"
	recCodeSystem = "https://fhir.nhs.uk/Codesystem/http-error-codes"
)

// barsIdentifier is a BaRS header value: base64 of a JSON identifier.
func barsIdentifier(system, value string) string {
	b, _ := json.Marshal(map[string]string{"system": system, "value": value})
	return base64.StdEncoding.EncodeToString(b)
}

// barsHeaders are the headers a 111 system sends, with its key.
func barsHeaders(key, target, requestID string) map[string]string {
	return map[string]string{
		"Authorization":              "Bearer " + key,
		"X-Request-Id":               requestID,
		"X-Correlation-Id":           "corr-" + requestID,
		"NHSD-Target-Identifier":     barsIdentifier("https://fhir.nhs.uk/Id/dos-service-id", target),
		"NHSD-End-User-Organisation": barsIdentifier("https://fhir.nhs.uk/Id/ods-organization-code", "NHS111"),
		"NHSD-Requesting-Software":   barsIdentifier("https://fhir.nhs.uk/Id/accredited-system-id", "200000000610"),
		"Accept":                     "application/fhir+json;version=1.0.0",
	}
}

// example loads a testdata/bars example and applies edit to it.
func example(t testing.TB, name string, edit func(b map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bars", name))
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(b)
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// resources returns the bundle's resources of a type, in order.
func resources(b map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range b["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// referralEdit makes the 111-to-ED draft a 1.4.0 referral: event
// servicerequest-request (the draft says admin-notify), a Modulus 11 valid
// NHS number, and the message and ServiceRequest ids given.
func referralEdit(msgID, srID, nhs string) func(b map[string]any) {
	return func(b map[string]any) {
		h := resources(b, "MessageHeader")[0]
		h["id"] = msgID
		h["eventCoding"] = map[string]any{"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars", "code": "servicerequest-request"}
		sr := resources(b, "ServiceRequest")[0]
		sr["id"] = srID
		// Re-point the focus and the entry's fullUrl at the new id.
		h["focus"] = []any{map[string]any{"reference": "urn:uuid:" + srID}}
		for _, e := range b["entry"].([]any) {
			en := e.(map[string]any)
			if en["resource"].(map[string]any)["resourceType"] == "ServiceRequest" {
				en["fullUrl"] = "urn:uuid:" + srID
			}
		}
		if nhs != "" {
			p := resources(b, "Patient")[0]
			p["identifier"].([]any)[0].(map[string]any)["value"] = nhs
		}
	}
}

func decodeMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	nodetest.DecodeJSON(t, b, &m)
	return m
}

// expectOutcome checks an OperationOutcome: status, FHIR content type,
// the BaRS REC code and, when given, the element it names.
func expectOutcome(t testing.TB, resp *http.Response, body []byte, status int, rec, expression string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Fatalf("Content-Type %q, want application/fhir+json", ct)
	}
	oo := decodeMap(t, body)
	if oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	issue := oo["issue"].([]any)[0].(map[string]any)
	coding := issue["details"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if coding["system"] != recCodeSystem || coding["code"] != rec || issue["severity"] != "error" {
		t.Fatalf("issue %v, want %s", issue, rec)
	}
	if expression != "" {
		ex, _ := issue["expression"].([]any)
		if len(ex) == 0 || !strings.Contains(ex[0].(string), expression) {
			t.Fatalf("issue names %v, want %q", ex, expression)
		}
	}
}

// TestBaRSReferralFromExamples: the 111-to-ED referral becomes an expected
// nhs111 attendance (Dx a minimum, observations kept, patient created by NHS
// number, case reference kept) through a follower; a replayed message id
// gets the first answer; a second referral of the same person matches the
// patient; the validation request checks and changes nothing; a revoked
// ServiceRequest cancels the referral; UK Core reads answer.
func TestBaRSReferralFromExamples(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead, fol := tc.Leader(t), tc.Follower(t)
	key := tc.Key(t, access.RoleNHS111, "NHS 111 (Anon Patient Manager)")

	// metadata and MessageDefinition first, as a sender does.
	resp, b := tc.Do(t, fol, http.MethodGet, fhirBase+"/metadata", "", barsHeaders(key, barsTarget, "req-meta"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json") ||
		resp.Header.Get("X-Request-Id") != "req-meta" || resp.Header.Get("X-Correlation-Id") != "corr-req-meta" {
		t.Fatalf("metadata: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	if cs := decodeMap(t, b); cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "4.0.1" ||
		!strings.Contains(string(b), `"process-message"`) {
		t.Fatalf("metadata: %s", b)
	}
	// FHIR messaging: the endpoint and each message it receives.
	var cs struct {
		Messaging []struct {
			Endpoint         []struct{ Address string }
			SupportedMessage []struct{ Mode, Definition string }
		}
	}
	_ = json.Unmarshal(b, &cs)
	if len(cs.Messaging) != 1 || len(cs.Messaging[0].Endpoint) != 1 || !strings.HasSuffix(cs.Messaging[0].Endpoint[0].Address, fhirBase+"/$process-message") ||
		len(cs.Messaging[0].SupportedMessage) != 2 || cs.Messaging[0].SupportedMessage[1].Mode != "receiver" ||
		cs.Messaging[0].SupportedMessage[1].Definition != bars.MessageDefinitionBooking {
		t.Fatalf("metadata messaging: %+v", cs.Messaging)
	}
	resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/MessageDefinition", "", barsHeaders(key, barsTarget, "req-md"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"code":"servicerequest-request"`) || !strings.Contains(string(b), `"searchset"`) {
		t.Fatalf("MessageDefinition: %d %s", resp.StatusCode, b)
	}
	// ?url= finds the one definition, or none.
	for canon, want := range map[string]int{bars.MessageDefinitionBooking: 1, bars.MessageDefinitionBooking + "|1.4.0": 1,
		bars.MessageDefinitionBooking + "|1.0.0": 0, "https://example.org/MessageDefinition/other": 0} {
		resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/MessageDefinition?url="+url.QueryEscape(canon), "", barsHeaders(key, barsTarget, "req-md-url"))
		m := decodeMap(t, b)
		if resp.StatusCode != http.StatusOK || m["total"] != float64(want) || (want == 1 && resources(m, "MessageDefinition")[0]["url"] != bars.MessageDefinitionBooking) {
			t.Fatalf("MessageDefinition?url=%s: %d %s", canon, resp.StatusCode, b)
		}
	}

	// The referral, through a follower.
	const msgID, srID = "1cbdfb97-5859-48a4-8301-d54eab818d68", "236bb75d-90ef-461f-b71e-fde7f899802c"
	body := example(t, "111-to-ED-ServiceRequest.json", referralEdit(msgID, srID, validNHS))
	resp1, b1 := tc.Do(t, fol, http.MethodPost, processRoute, body, barsHeaders(key, barsTarget, "req-1"))
	if resp1.StatusCode != http.StatusOK || resp1.Header.Get("X-Request-Id") != "req-1" {
		t.Fatalf("referral: %d %s", resp1.StatusCode, b1)
	}
	out := decodeMap(t, b1)
	hdr := resources(out, "MessageHeader")[0]
	if r := hdr["response"].(map[string]any); r["identifier"] != msgID || r["code"] != "ok" {
		t.Fatalf("response header %v", hdr)
	}
	sr := resources(out, "ServiceRequest")[0]
	enc := resources(out, "Encounter")[0]
	if sr["status"] != "active" || enc["status"] != "planned" ||
		sr["identifier"].([]any)[0].(map[string]any)["value"] != srID {
		t.Fatalf("ServiceRequest %v Encounter %v", sr, enc)
	}
	attID := enc["id"].(string)
	var att struct {
		Status    string `json:"status"`
		Channel   string `json:"channel"`
		CaseRef   string `json:"case_ref"`
		PatientID string `json:"patient_id"`
		Complaint string `json:"complaint"`
		Patient   struct {
			NHSNumber string `json:"nhs_number"`
		} `json:"patient"`
		Triage struct {
			Dx struct {
				Code string `json:"code"`
			} `json:"dx"`
		} `json:"triage"`
	}
	_, ab := tc.Do(t, lead, http.MethodGet, "/v1/attendances/"+attID+"?consistency=linearizable", "", nil)
	nodetest.DecodeJSON(t, ab, &att)
	if att.Status != "expected" || att.Channel != "nhs111" || att.CaseRef != srID || att.Triage.Dx.Code != "Dx02" ||
		att.PatientID == "" || att.Patient.NHSNumber != validNHS || att.Complaint != "Chest and Upper Back Pain" {
		t.Fatalf("attendance %+v: %s", att, ab)
	}

	// A replay of the message id gets the first answer, and makes nothing.
	before := lead.N.Store().Status().LastIndex
	resp2, b2 := tc.Do(t, lead, http.MethodPost, processRoute, body, barsHeaders(key, barsTarget, "req-1-retry"))
	if resp2.StatusCode != resp1.StatusCode || string(b2) != string(b1) {
		t.Fatalf("replay: %d %s\nfirst: %s", resp2.StatusCode, b2, b1)
	}
	_, lb := tc.Do(t, lead, http.MethodGet, "/v1/attendances?consistency=linearizable", "", nil)
	if n := strings.Count(string(lb), `"channel":"nhs111"`); n != 1 {
		t.Fatalf("%d nhs111 attendances after a replay, want 1", n)
	}
	// The same id with other content is a duplicate (409).
	other := example(t, "111-to-ED-ServiceRequest.json", referralEdit(msgID, "another-sr", validNHS))
	resp, b = tc.Do(t, fol, http.MethodPost, processRoute, other, barsHeaders(key, barsTarget, "req-dup"))
	expectOutcome(t, resp, b, http.StatusConflict, "REC_CONFLICT", "MessageHeader.id")
	if after := lead.N.Store().Status().LastIndex; after > before+1 {
		// At most the refused entry for the mismatch; the replay made none.
		t.Fatalf("raft index moved %d -> %d on a replay", before, after)
	}

	// UK Core reads of what the referral made.
	resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/Patient/"+att.PatientID, "", barsHeaders(key, barsTarget, "req-p"))
	if p := decodeMap(t, b); resp.StatusCode != http.StatusOK || p["resourceType"] != "Patient" ||
		!strings.Contains(string(b), `{"system":"`+nhsNumberSys+`","value":"`+validNHS+`"}`) || p["birthDate"] != "1959-05-04" {
		t.Fatalf("Patient: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/Encounter/"+attID, "", barsHeaders(key, barsTarget, "req-e"))
	if e := decodeMap(t, b); resp.StatusCode != http.StatusOK || e["status"] != "planned" || !strings.Contains(string(b), `"code":"Dx02"`) {
		t.Fatalf("Encounter: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/Observation?encounter="+attID, "", barsHeaders(key, barsTarget, "req-o"))
	if o := decodeMap(t, b); resp.StatusCode != http.StatusOK || o["total"] != float64(5) ||
		!strings.Contains(string(b), "Chest pain on and off for several days") {
		t.Fatalf("Observation: %d %s", resp.StatusCode, b)
	}
	// Answered by the leader, the search's links name the node asked.
	if link := decodeMap(t, b)["link"].([]any)[0].(map[string]any)["url"].(string); !strings.Contains(link, "//"+fol.HTTPAddr+fhirBase+"/Observation?") {
		t.Fatalf("self link %q, want the follower asked (%s)", link, fol.HTTPAddr)
	}
	// The FHIR reads are audited as reads of the patient's record, by the
	// 111 key's holder; the referral itself as referral.receive.
	waitAudit(t, tc, "patient/"+att.PatientID, `"record.read"`)
	waitAudit(t, tc, "patient/"+att.PatientID, `NHS 111 (Anon Patient Manager)`)
	waitAudit(t, tc, "referral/"+sr["id"].(string), `"referral.receive"`)

	// A second referral of the same person matches the patient.
	body2 := example(t, "111-to-ED-ServiceRequest.json", referralEdit("msg-2", "sr-2", validNHS))
	resp, b = tc.Do(t, fol, http.MethodPost, processRoute, body2, barsHeaders(key, "FX100", "req-2")) // target by ODS code
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second referral: %d %s", resp.StatusCode, b)
	}
	if s := string(b); !strings.Contains(s, `"reference":"Patient/`+att.PatientID+`"`) {
		t.Fatalf("second referral did not match patient %s: %s", att.PatientID, s)
	}

	// The validation request (1.4.0 example): checked, answered, nothing made.
	before = lead.N.Store().Status().LastIndex
	val := example(t, "ValidationRequest.json", func(b map[string]any) {
		resources(b, "Patient")[0]["identifier"].([]any)[0].(map[string]any)["value"] = validNHS
	})
	resp, b = tc.Do(t, fol, http.MethodPost, processRoute, val, barsHeaders(key, barsTarget, "req-val"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"code":"ok"`) {
		t.Fatalf("validation: %d %s", resp.StatusCode, b)
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("a validation request moved the raft index %d -> %d", before, after)
	}

	// Cancellation: the ServiceRequest revoked, in a new message.
	cancel := example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
		referralEdit("msg-cancel", srID, validNHS)(b)
		resources(b, "ServiceRequest")[0]["status"] = "revoked"
	})
	resp, b = tc.Do(t, fol, http.MethodPost, processRoute, cancel, barsHeaders(key, barsTarget, "req-c"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.StatusCode, b)
	}
	out = decodeMap(t, b)
	if resources(out, "ServiceRequest")[0]["status"] != "revoked" || resources(out, "Encounter")[0]["status"] != "cancelled" {
		t.Fatalf("cancel answer: %s", b)
	}
	_, ab = tc.Do(t, lead, http.MethodGet, "/v1/attendances/"+attID+"?consistency=linearizable", "", nil)
	nodetest.DecodeJSON(t, ab, &att)
	if att.Status != "left" {
		t.Fatalf("cancelled referral's attendance is %s", att.Status)
	}
	resp, b = tc.Do(t, fol, http.MethodGet, fhirBase+"/ServiceRequest/"+sr["id"].(string), "", barsHeaders(key, barsTarget, "req-sr"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "revoked" {
		t.Fatalf("ServiceRequest read: %d %s", resp.StatusCode, b)
	}
}

// TestBaRSBadMessagesChangeNothing: each malformed message gets the
// standard's OperationOutcome naming the element, on the leader and through
// a follower, and the raft index does not move.
func TestBaRSBadMessagesChangeNothing(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead := tc.Leader(t)
	key := tc.Key(t, access.RoleNHS111, "NHS 111")
	desk := tc.Key(t, access.RoleReception, "Desk")
	good := func(id string) string {
		return example(t, "111-to-ED-ServiceRequest.json", referralEdit(id, "sr-"+id, validNHS))
	}
	// A real Slot's id a minute late: inside its session, but no Slot.
	realSlot := freeSlots(t, tc, lead, key)[0]["id"].(string)
	svc, start, _ := strings.Cut(realSlot, ".")
	unix, _ := strconv.ParseInt(start, 10, 64)
	shiftedSlot := fmt.Sprintf("%s.%d", svc, unix+60)
	tests := []struct {
		name       string
		body       string
		target     string
		drop       string // a header left out
		status     int
		rec        string
		expression string
	}{
		{"missing MessageHeader", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m1", "s1", validNHS)(b)
			b["entry"] = b["entry"].([]any)[1:]
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "Bundle.entry[0]"},
		{"wrong MessageHeader profile", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m2", "s2", validNHS)(b)
			resources(b, "MessageHeader")[0]["meta"] = map[string]any{"profile": []any{"https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-booking-request"}}
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "MessageHeader.meta.profile"},
		{"wrong Bundle profile", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m3", "s3", validNHS)(b)
			b["meta"] = map[string]any{"profile": []any{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"}}
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "Bundle.meta.profile"},
		{"unsupported event", example(t, "111-to-ED-ServiceRequest.json", nil), barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "eventCoding"},
		{"bad NHS number (the example's own)", example(t, "111-to-ED-ServiceRequest.json", referralEdit("m4", "s4", "")), barsTarget, "", 400, "REC_BAD_REQUEST", "identifier[0].value"},
		{"not a Bundle", `{"resourceType":"Patient"}`, barsTarget, "", 400, "REC_BAD_REQUEST", "Bundle"},
		{"not JSON", `{"resourceType":`, barsTarget, "", 400, "REC_BAD_REQUEST", "Bundle"},
		{"unknown target", good("m5"), "nowhere-ucc", "", 404, "REC_NOT_FOUND", "NHSD-Target-Identifier"},
		{"no X-Request-Id", good("m6"), barsTarget, "X-Request-Id", 400, "REC_BAD_REQUEST", "X-Request-Id"},
		{"no target header", good("m7"), barsTarget, "NHSD-Target-Identifier", 400, "REC_BAD_REQUEST", "NHSD-Target-Identifier"},
		{"a Dx this centre cannot take", example(t, "111-to-ED-ServiceRequest.json", dxEdit("m8", "DX99999")), barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "reasonCode"},
		{"frontdoor's own local Dx", example(t, "111-to-ED-ServiceRequest.json", dxEdit("m12", "Dx9001")), barsTarget, "", 400, "REC_BAD_REQUEST", "reasonCode"},
		{"not a Dx code", example(t, "111-to-ED-ServiceRequest.json", dxEdit("m13", "DXabc")), barsTarget, "", 400, "REC_BAD_REQUEST", "reasonCode"},
		{"a booking with no Patient", example(t, "BookingRequest.json", func(b map[string]any) {
			bookingEdit("m9", "ap9", "gp-ucc-stream.1796565600", "booked")(b)
			resources(b, "Appointment")[0]["participant"] = []any{}
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "participant"},
		{"an NHS number under the old system", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m15", "s15", validNHS)(b)
			resources(b, "Patient")[0]["identifier"].([]any)[0].(map[string]any)["system"] = "http://fhir.nhs.net/Id/nhs-number"
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "identifier[0].system"},
		{"a Patient born in 1800", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m11", "s11", validNHS)(b)
			resources(b, "Patient")[0]["birthDate"] = "1800-01-01"
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "Patient.birthDate"},
		{"a Slot no session starts at", example(t, "BookingRequest.json", bookingEdit("m14", "ap14", shiftedSlot, "booked")),
			barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "slot[0]"},
		{"a start a day after the Slot's session", example(t, "BookingRequest.json", func(b map[string]any) {
			bookingEdit("m16", "ap16", realSlot, "booked")(b)
			resources(b, "Appointment")[0]["start"] = time.Unix(unix+24*3600, 0).UTC().Format(time.RFC3339)
		}), barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "resource.start"},
		{"a Slot id that is not one", example(t, "BookingRequest.json", bookingEdit("m19", "ap19", "gp-ucc-stream.abc", "booked")),
			barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "slot[0].reference"},
		{"the event under another system", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m20", "s20", validNHS)(b)
			resources(b, "MessageHeader")[0]["eventCoding"].(map[string]any)["system"] = "https://fhir.nhs.uk/CodeSystem/message-event"
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "eventCoding.system"},
		{"two Patients", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m21", "s21", validNHS)(b)
			b["entry"] = append(b["entry"].([]any), map[string]any{"fullUrl": "urn:uuid:another-patient",
				"resource": map[string]any{"resourceType": "Patient", "id": "another-patient"}})
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "resource"},
		{"two Slots", example(t, "BookingRequest.json", func(b map[string]any) {
			bookingEdit("m17", "ap17", realSlot, "booked")(b)
			ap := resources(b, "Appointment")[0]
			ap["slot"] = append(ap["slot"].([]any), map[string]any{"reference": "Slot/" + shiftedSlot})
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "slot[1]"},
		{"two NHS numbers", example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("m18", "s18", validNHS)(b)
			p := resources(b, "Patient")[0]
			p["identifier"] = append(p["identifier"].([]any), map[string]any{"system": nhsNumberSys, "value": "9000000009"})
		}), barsTarget, "", 400, "REC_BAD_REQUEST", "identifier[1].value"},
		{"a Slot of another service", example(t, "BookingRequest.json",
			bookingEdit("m10", "ap10", fmt.Sprintf("dental-urgent.%d", time.Now().Add(24*time.Hour).Unix()), "booked")),
			barsTarget, "", 422, "REC_UNPROCESSABLE_ENTITY", "slot[0]"},
	}
	before := lead.N.Store().Status().LastIndex
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{lead, tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				h := barsHeaders(key, tt.target, "req-bad")
				if tt.drop != "" {
					delete(h, tt.drop)
				}
				resp, body := tc.Do(t, tn, http.MethodPost, processRoute, tt.body, h)
				expectOutcome(t, resp, body, tt.status, tt.rec, tt.expression)
			})
		}
	}
	// Not a BaRS header value: the target must be base64 JSON.
	h := barsHeaders(key, barsTarget, "req-b64")
	h["NHSD-Target-Identifier"] = "not base64!"
	resp, body := tc.Do(t, lead, http.MethodPost, processRoute, good("m9"), h)
	expectOutcome(t, resp, body, 400, "REC_BAD_REQUEST", "NHSD-Target-Identifier")
	// FHIR XML (or any body but JSON) is refused before it is read.
	for _, ct := range []string{"application/fhir+xml", "application/xml; charset=utf-8", "text/plain"} {
		h = barsHeaders(key, barsTarget, "req-xml")
		h["Content-Type"] = ct
		resp, body = tc.Do(t, lead, http.MethodPost, processRoute, `<Bundle xmlns="http://hl7.org/fhir"><type value="message"/></Bundle>`, h)
		expectOutcome(t, resp, body, 415, "REC_BAD_REQUEST", "Content-Type")
	}
	// Auth failures on FHIR routes are OperationOutcomes too.
	resp, body = tc.Do(t, lead, http.MethodPost, processRoute, good("m10"), map[string]string{"Authorization": "Bearer fdk_not-a-key"})
	expectOutcome(t, resp, body, 401, "REC_UNAUTHORIZED", "")
	resp, body = tc.Do(t, lead, http.MethodPost, processRoute, good("m11"), barsHeaders(desk, barsTarget, "req-desk"))
	expectOutcome(t, resp, body, 403, "REC_FORBIDDEN", "")
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft last index moved from %d to %d on refused messages", before, after)
	}
}

// fhirRouteSamples are the sample requests of the FHIR routes for the
// role × route test: a referral made once (its patient, encounter and
// ServiceRequest are read), and a fresh referral per $process-message call.
func fhirRouteSamples(t *testing.T, tc *nodetest.Cluster) map[string]sampleFunc {
	t.Helper()
	body := example(t, "111-to-ED-ServiceRequest.json", referralEdit("sample-msg", "sample-sr", validNHS))
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, body, barsHeaders(tc.AdminKey, barsTarget, "sample"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fixture referral: %d %s", resp.StatusCode, b)
	}
	out := decodeMap(t, b)
	srID := resources(out, "ServiceRequest")[0]["id"].(string)
	enc := resources(out, "Encounter")[0]
	encID := enc["id"].(string)
	patient := strings.TrimPrefix(resources(out, "ServiceRequest")[0]["subject"].(map[string]any)["reference"].(string), "Patient/")
	static := func(path string) sampleFunc {
		return func(*testing.T) (string, string) { return path, "" }
	}
	// A booking of the first free place of the UCC stream.
	var apID string
	for _, s := range freeSlots(t, tc, tc.Leader(t), tc.AdminKey) {
		bk := example(t, "BookingRequest.json", bookingEdit("sample-book", "sample-ap", s["id"].(string), "booked"))
		resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, bk, barsHeaders(tc.AdminKey, barsTarget, "sample-book"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("fixture booking: %d %s", resp.StatusCode, b)
		}
		apID = resources(decodeMap(t, b), "Appointment")[0]["id"].(string)
		break
	}
	if apID == "" {
		t.Fatal("fixture booking: no free slot")
	}
	n := 0
	return map[string]sampleFunc{
		"GET " + fhirBase + "/metadata":          static(fhirBase + "/metadata"),
		"GET " + fhirBase + "/MessageDefinition": static(fhirBase + "/MessageDefinition"),
		"POST " + processRoute: func(t *testing.T) (string, string) {
			n++
			id := "role-" + strings.Repeat("x", n%3) + "-" + string(rune('a'+n%26)) + "-" + strings.Repeat("n", n/26)
			return processRoute, example(t, "111-to-ED-ServiceRequest.json", referralEdit(id, "sr-"+id, validNHS))
		},
		"GET " + fhirBase + "/Patient/:id":        static(fhirBase + "/Patient/" + patient),
		"GET " + fhirBase + "/Encounter/:id":      static(fhirBase + "/Encounter/" + encID),
		"GET " + fhirBase + "/ServiceRequest/:id": static(fhirBase + "/ServiceRequest/" + srID),
		"GET " + fhirBase + "/Observation":        static(fhirBase + "/Observation?encounter=" + encID),
		"GET " + fhirBase + "/Slot": static(fhirBase + "/Slot?status=free,busy&start=ge" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339)) +
			"&start=le" + url.QueryEscape(time.Now().UTC().Add(24*time.Hour).Format(time.RFC3339))),
		"GET " + fhirBase + "/Appointment/:id": static(fhirBase + "/Appointment/" + apID),
		// Updates cancel: each call cancels a booking or referral made for it.
		"PUT " + fhirBase + "/Appointment/:id": func(t *testing.T) (string, string) {
			id := sampleBooking(t, tc)
			return fhirBase + "/Appointment/" + id, `{"resourceType":"Appointment","id":"` + id + `","status":"cancelled"}`
		},
		"PATCH " + fhirBase + "/Appointment/:id": func(t *testing.T) (string, string) {
			return fhirBase + "/Appointment/" + sampleBooking(t, tc), `[{"op":"replace","path":"/status","value":"cancelled"}]`
		},
		"PUT " + fhirBase + "/ServiceRequest/:id": func(t *testing.T) (string, string) {
			id := sampleReferral(t, tc)
			return fhirBase + "/ServiceRequest/" + id, `{"resourceType":"ServiceRequest","id":"` + id + `","status":"revoked"}`
		},
		"PATCH " + fhirBase + "/ServiceRequest/:id": func(t *testing.T) (string, string) {
			return fhirBase + "/ServiceRequest/" + sampleReferral(t, tc), `[{"op":"replace","path":"/status","value":"revoked"}]`
		},
	}
}

var roleTestRequests int

// withFHIRHeaders adds the BaRS headers to a FHIR route's request (the
// caller's Authorization kept).
func withFHIRHeaders(path string, h map[string]string) map[string]string {
	if !strings.HasPrefix(path, fhirBase+"/") {
		return h
	}
	roleTestRequests++ // a fresh X-Request-Id per request, as a sender's
	out := barsHeaders("", barsTarget, fmt.Sprintf("role-test-%d", roleTestRequests))
	delete(out, "Authorization")
	for k, v := range h {
		out[k] = v
	}
	return out
}

// expectRefusal is expectProblem, or for a FHIR route the OperationOutcome
// with the BaRS code of the status.
func expectRefusal(t testing.TB, path string, resp *http.Response, body []byte, status int, typ string) {
	t.Helper()
	if !strings.HasPrefix(path, fhirBase+"/") {
		expectProblem(t, resp, body, status, typ, "")
		return
	}
	rec := map[int]string{http.StatusUnauthorized: "REC_UNAUTHORIZED", http.StatusForbidden: "REC_FORBIDDEN"}[status]
	expectOutcome(t, resp, body, status, rec, "")
}

// dxEdit makes the 111-to-ED referral (message id) carry another Pathways
// Dx code.
func dxEdit(id, dx string) func(b map[string]any) {
	return func(b map[string]any) {
		referralEdit(id, "sr-"+id, validNHS)(b)
		s, _ := json.Marshal(resources(b, "ServiceRequest")[0]["reasonCode"])
		var rc any
		_ = json.Unmarshal([]byte(strings.Replace(string(s), `"DX02"`, `"`+dx+`"`, 1)), &rc)
		resources(b, "ServiceRequest")[0]["reasonCode"] = rc
	}
}

// TestBaRSReferralNationalDx: every national code of the vendored NHS
// Pathways list is taken, including those frontdoor does not map to a
// level of care (dental Dx17 and Dx22, repeat prescription Dx80 and Dx81),
// which wait for a clinician's review instead of a route.
func TestBaRSReferralNationalDx(t *testing.T) {
	tc := nodetest.New(t, 1)
	key := tc.Key(t, access.RoleNHS111, "NHS 111")
	for _, dx := range []string{"DX17", "Dx22", "Dx80", "Dx81", "Dx05"} {
		t.Run(dx, func(t *testing.T) {
			id := "dx-" + dx
			resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, example(t, "111-to-ED-ServiceRequest.json", dxEdit(id, dx)), barsHeaders(key, barsTarget, id))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("referral with %s: %d %s", dx, resp.StatusCode, b)
			}
			want := "Dx" + dx[2:]
			if !strings.Contains(string(b), `"code":"`+want+`"`) {
				t.Fatalf("the referral's Dx %s is not in the answer: %s", want, b)
			}
		})
	}
}

// bookingEdit makes the published booking example book slot (a Slot id
// from GET /Slot) under message id msgID and Appointment id apID.
func bookingEdit(msgID, apID, slot, status string) func(b map[string]any) {
	return func(b map[string]any) {
		h := resources(b, "MessageHeader")[0]
		h["id"] = msgID
		h["focus"] = []any{map[string]any{"reference": "urn:uuid:" + apID}}
		for _, e := range b["entry"].([]any) {
			en := e.(map[string]any)
			r := en["resource"].(map[string]any)
			if r["resourceType"] == "Appointment" {
				en["fullUrl"] = "urn:uuid:" + apID
				r["slot"] = []any{map[string]any{"reference": "Slot/" + slot}}
				r["status"] = status
				// The start a sender shows the patient: the Slot's.
				if _, unix, ok := strings.Cut(slot, "."); ok {
					if n, err := strconv.ParseInt(unix, 10, 64); err == nil {
						r["start"] = time.Unix(n, 0).UTC().Format(time.RFC3339)
					}
				}
			}
		}
	}
}

// freeSlots searches the target's free slots in the next two days.
func freeSlots(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, key string) []map[string]any {
	t.Helper()
	from := time.Now().UTC()
	q := "?status=free&start=ge" + url.QueryEscape(from.Format(time.RFC3339)) + "&start=le" + url.QueryEscape(from.Add(48*time.Hour).Format(time.RFC3339))
	resp, b := tc.Do(t, tn, http.MethodGet, fhirBase+"/Slot"+q, "", barsHeaders(key, barsTarget, "req-slot"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Slot search: %d %s", resp.StatusCode, b)
	}
	out := decodeMap(t, b)
	if out["type"] != "searchset" {
		t.Fatalf("Slot search: %s", b)
	}
	// Every search result names its own URL (FHIR: fullUrl).
	for _, e := range out["entry"].([]any) {
		en := e.(map[string]any)
		r := en["resource"].(map[string]any)
		if url, _ := en["fullUrl"].(string); !strings.HasSuffix(url, fhirBase+"/Slot/"+r["id"].(string)) {
			t.Fatalf("Slot search entry fullUrl %q for Slot %v", url, r["id"])
		}
	}
	var slots []map[string]any
	for _, e := range out["entry"].([]any) {
		slots = append(slots, e.(map[string]any)["resource"].(map[string]any))
	}
	return slots
}

// TestBaRSBookingFromExample: a Slot search answers from the directory's
// sessions; the published booking example books a real place, replayed it
// gets the first answer; bookings of one session sent at once through
// every node never overbook it (decided in the FSM); a cancelled
// Appointment frees its place.
func TestBaRSBookingFromExample(t *testing.T) {
	tc := nodetest.New(t, 3)
	key := tc.Key(t, access.RoleNHS111, "NHS 111 booking")
	slots := freeSlots(t, tc, tc.Follower(t), key)
	if len(slots) == 0 {
		t.Fatal("no free slots of gp-ucc-stream in two days")
	}
	// A session that has not started yet, so nothing but these bookings
	// takes its places.
	var slot map[string]any
	for _, s := range slots {
		st, _ := time.Parse(time.RFC3339, s["start"].(string))
		if st.After(time.Now()) {
			slot = s
			break
		}
	}
	if slot == nil || slot["status"] != "free" || !strings.HasPrefix(slot["id"].(string), "gp-ucc-stream.") {
		t.Fatalf("slot %v", slot)
	}
	var places int
	if _, err := fmt.Sscanf(slot["comment"].(string), "%d of %d places free", &places, new(int)); err != nil || places < 2 {
		t.Fatalf("slot comment %q", slot["comment"])
	}
	slotID := slot["id"].(string)

	// The published booking, through a follower; a replay gets the first answer.
	body := example(t, "BookingRequest.json", bookingEdit("book-msg-1", "book-ap-1", slotID, "booked"))
	resp1, b1 := tc.Do(t, tc.Follower(t), http.MethodPost, processRoute, body, barsHeaders(key, barsTarget, "req-book"))
	if resp1.StatusCode != http.StatusOK {
		t.Fatalf("booking: %d %s", resp1.StatusCode, b1)
	}
	out := decodeMap(t, b1)
	ap := resources(out, "Appointment")[0]
	if ap["status"] != "booked" || ap["start"] != slot["start"] || resources(out, "Encounter")[0]["status"] != "planned" ||
		resources(out, "MessageHeader")[0]["response"].(map[string]any)["identifier"] != "book-msg-1" {
		t.Fatalf("booking answer: %s", b1)
	}
	resp2, b2 := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, body, barsHeaders(key, barsTarget, "req-book-again"))
	if resp2.StatusCode != http.StatusOK || string(b2) != string(b1) {
		t.Fatalf("replayed booking: %d %s", resp2.StatusCode, b2)
	}
	resp, b := tc.Do(t, tc.Leader(t), http.MethodGet, fhirBase+"/Appointment/book-ap-1", "", barsHeaders(key, barsTarget, "req-ap"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "booked" {
		t.Fatalf("Appointment read: %d %s", resp.StatusCode, b)
	}

	// The rest of the session's places and two more, at once, through
	// every node: exactly the places left are booked.
	left := places - 1
	var wg sync.WaitGroup
	codes := make([]int, left+2)
	bodies := make([]string, len(codes))
	for i := range bodies {
		id := fmt.Sprintf("race-%d", i)
		bodies[i] = example(t, "BookingRequest.json", bookingEdit("msg-"+id, "ap-"+id, slotID, "booked"))
	}
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("race-%d", i)
			// A 503 (an election on a busy machine) is retried with the
			// same message, as a sender does: the message id makes it safe.
			for attempt := 0; attempt < 20; attempt++ {
				r, rb, err := tc.Try(tc.Nodes[(i+attempt)%len(tc.Nodes)], http.MethodPost, processRoute, bodies[i], barsHeaders(key, barsTarget, id))
				if err != nil || r.StatusCode == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				codes[i] = r.StatusCode
				if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusConflict {
					t.Logf("booking %d: %d %s", i, r.StatusCode, rb)
				}
				return
			}
		}(i)
	}
	wg.Wait()
	booked, full := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			booked++
		case http.StatusConflict:
			full++
		}
	}
	if booked != left || full != 2 {
		t.Fatalf("%d booked and %d refused of %d places left (codes %v)", booked, full, left, codes)
	}
	for _, s := range freeSlots(t, tc, tc.Leader(t), key) {
		if s["id"] == slotID {
			t.Fatalf("a full session is still offered free: %v", s)
		}
	}

	// Cancelling the first booking frees a place.
	cancel := example(t, "BookingRequest.json", bookingEdit("book-msg-cancel", "book-ap-1", slotID, "cancelled"))
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, processRoute, cancel, barsHeaders(key, barsTarget, "req-cancel"))
	if resp.StatusCode != http.StatusOK || resources(decodeMap(t, b), "Appointment")[0]["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", resp.StatusCode, b)
	}
	var again map[string]any
	for _, s := range freeSlots(t, tc, tc.Leader(t), key) {
		if s["id"] == slotID {
			again = s
		}
	}
	if again == nil || again["comment"] != fmt.Sprintf("1 of %d places free", places) {
		t.Fatalf("after the cancellation the session is %v", again)
	}

	// Reception's expected list says when each booked patient is due.
	desk := tc.Key(t, access.RoleReception, "Desk")
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/queue", "", nodetest.BearerHeader(desk))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("queue: %d %s", resp.StatusCode, b)
	}
	var queue struct {
		Expected []struct {
			Appointment *struct {
				Start time.Time `json:"start"`
			} `json:"appointment"`
		} `json:"expected"`
	}
	nodetest.DecodeJSON(t, b, &queue)
	due := 0
	slotStart, _ := time.Parse(time.RFC3339, slot["start"].(string))
	for _, e := range queue.Expected {
		if e.Appointment != nil && e.Appointment.Start.Equal(slotStart) {
			due++
		}
	}
	if due != left {
		t.Fatalf("%d expected patients shown due at %s, want the %d booked (%s)", due, slotStart, left, b)
	}

	// Reception marks a booked patient who never came as left: the place
	// is free again and the Appointment is noshow (logic version 10).
	var booked0 string
	for i, c := range codes {
		if c == http.StatusOK {
			booked0 = fmt.Sprintf("ap-race-%d", i)
			break
		}
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, fhirBase+"/Appointment/"+booked0, "", barsHeaders(key, barsTarget, "req-ap-race"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Appointment %s: %d %s", booked0, resp.StatusCode, b)
	}
	var encounter string
	for _, p := range decodeMap(t, b)["supportingInformation"].([]any) {
		if ref, _ := p.(map[string]any)["reference"].(string); strings.HasPrefix(ref, "Encounter/") {
			encounter = strings.TrimPrefix(ref, "Encounter/")
		}
	}
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/attendances/"+encounter+"/status", `{"status":"left"}`, nodetest.BearerHeader(desk))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("marking %s left: %d %s", encounter, resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, fhirBase+"/Appointment/"+booked0, "", barsHeaders(key, barsTarget, "req-ap-race-2"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "noshow" {
		t.Fatalf("Appointment after the patient left: %d %s", resp.StatusCode, b)
	}
	again = nil
	for _, s := range freeSlots(t, tc, tc.Leader(t), key) {
		if s["id"] == slotID {
			again = s
		}
	}
	if again == nil || again["comment"] != fmt.Sprintf("2 of %d places free", places) {
		t.Fatalf("after the booked patient left the session is %v", again)
	}
}

var sampleN int

// sampleReferral makes a referral for a sample request; its id.
func sampleReferral(t *testing.T, tc *nodetest.Cluster) string {
	t.Helper()
	sampleN++
	id := fmt.Sprintf("sample-ref-%d", sampleN)
	body := example(t, "111-to-ED-ServiceRequest.json", referralEdit(id, "sr-"+id, validNHS))
	resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, body, barsHeaders(tc.AdminKey, barsTarget, id))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sample referral: %d %s", resp.StatusCode, b)
	}
	return resources(decodeMap(t, b), "ServiceRequest")[0]["id"].(string)
}

// sampleBooking books a place for a sample request; the Appointment's id.
func sampleBooking(t *testing.T, tc *nodetest.Cluster) string {
	t.Helper()
	sampleN++
	id := fmt.Sprintf("sample-book-%d", sampleN)
	for _, s := range freeSlots(t, tc, tc.Leader(t), tc.AdminKey) {
		body := example(t, "BookingRequest.json", bookingEdit(id, "ap-"+id, s["id"].(string), "booked"))
		resp, b := tc.Do(t, tc.Leader(t), http.MethodPost, processRoute, body, barsHeaders(tc.AdminKey, barsTarget, id))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sample booking: %d %s", resp.StatusCode, b)
		}
		return resources(decodeMap(t, b), "Appointment")[0]["id"].(string)
	}
	t.Fatal("sample booking: no free slot")
	return ""
}

// TestBaRSUpdatesCancel: PATCH of a ServiceRequest to revoked and PUT of
// an Appointment to cancelled cancel, a retry with the same X-Request-Id
// gets the first answer, and any other change is refused with nothing
// changed.
func TestBaRSUpdatesCancel(t *testing.T) {
	tc := nodetest.New(t, 3)
	key := tc.Key(t, access.RoleNHS111, "NHS 111")
	srID := sampleReferral(t, tc)
	apID := sampleBooking(t, tc)
	lead := tc.Leader(t)
	before := lead.N.Store().Status().LastIndex
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		rec, expression          string
	}{
		{"PATCH another field", http.MethodPatch, "/ServiceRequest/" + srID, `[{"op":"replace","path":"/intent","value":"order"}]`, 422, "REC_UNPROCESSABLE_ENTITY", "PATCH[0]"},
		{"PUT another status", http.MethodPut, "/Appointment/" + apID, `{"resourceType":"Appointment","id":"` + apID + `","status":"noshow"}`, 422, "REC_UNPROCESSABLE_ENTITY", "Appointment.status"},
		{"PUT a new start, status as it was", http.MethodPut, "/Appointment/" + apID, `{"resourceType":"Appointment","id":"` + apID + `","status":"booked","start":"2031-01-01T09:00:00Z"}`, 422, "REC_UNPROCESSABLE_ENTITY", "Appointment"},
		{"PUT the wrong resource", http.MethodPut, "/Appointment/" + apID, `{"resourceType":"Patient","id":"` + apID + `","status":"cancelled"}`, 400, "REC_BAD_REQUEST", "Appointment"},
		{"PUT without the id", http.MethodPut, "/Appointment/" + apID, `{"resourceType":"Appointment","status":"cancelled"}`, 400, "REC_BAD_REQUEST", "Appointment.id"},
		{"PUT another id", http.MethodPut, "/Appointment/" + apID, `{"resourceType":"Appointment","id":"someone-else","status":"cancelled"}`, 400, "REC_BAD_REQUEST", "Appointment.id"},
		{"PUT a ServiceRequest with another id", http.MethodPut, "/ServiceRequest/" + srID, `{"resourceType":"ServiceRequest","id":"someone-else","status":"revoked"}`, 400, "REC_BAD_REQUEST", "ServiceRequest.id"},
		{"PATCH not a patch", http.MethodPatch, "/ServiceRequest/" + srID, `{"status":"revoked"}`, 400, "REC_BAD_REQUEST", "PATCH"},
		{"unknown ServiceRequest", http.MethodPatch, "/ServiceRequest/nope", `[{"op":"replace","path":"/status","value":"revoked"}]`, 404, "REC_NOT_FOUND", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := tc.Do(t, tc.Follower(t), tt.method, fhirBase+tt.path, tt.body, barsHeaders(key, barsTarget, "upd-bad"))
			expectOutcome(t, resp, b, tt.status, tt.rec, tt.expression)
		})
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("refused updates moved the raft index %d -> %d", before, after)
	}
	patch := `[{"op":"replace","path":"/status","value":"revoked"}]`
	resp1, b1 := tc.Do(t, tc.Follower(t), http.MethodPatch, fhirBase+"/ServiceRequest/"+srID, patch, barsHeaders(key, barsTarget, "upd-1"))
	if resp1.StatusCode != http.StatusOK || decodeMap(t, b1)["status"] != "revoked" {
		t.Fatalf("PATCH revoked: %d %s", resp1.StatusCode, b1)
	}
	resp2, b2 := tc.Do(t, lead, http.MethodPatch, fhirBase+"/ServiceRequest/"+srID, patch, barsHeaders(key, barsTarget, "upd-1"))
	if resp2.StatusCode != http.StatusOK || string(b2) != string(b1) {
		t.Fatalf("retried PATCH: %d %s", resp2.StatusCode, b2)
	}
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPut, fhirBase+"/Appointment/"+apID, `{"resourceType":"Appointment","id":"`+apID+`","status":"cancelled"}`, barsHeaders(key, barsTarget, "upd-2"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "cancelled" {
		t.Fatalf("PUT cancelled: %d %s", resp.StatusCode, b)
	}
	// Cancelled already: a new request to cancel again is a conflict.
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPut, fhirBase+"/Appointment/"+apID, `{"resourceType":"Appointment","id":"`+apID+`","status":"cancelled"}`, barsHeaders(key, barsTarget, "upd-3"))
	expectOutcome(t, resp, b, http.StatusConflict, "REC_CONFLICT", "")
}

// TestBaRSInputLimits: a $process-message Bundle breaking the FHIR input
// limits (inputlimit.CheckFHIR) is a 400 REC_BAD_REQUEST naming the
// element, through the leader and a follower, and the raft index and
// state hash do not move; the same message within the limits is taken.
func TestBaRSInputLimits(t *testing.T) {
	tc := nodetest.New(t, 3)
	key := tc.Key(t, access.RoleNHS111, "NHS 111")
	patientEdit := func(f func(p map[string]any)) func(b map[string]any) {
		return func(b map[string]any) {
			referralEdit("lim", "lim-sr", validNHS)(b)
			f(resources(b, "Patient")[0])
		}
	}
	name := func(family string) func(p map[string]any) {
		return func(p map[string]any) { p["name"].([]any)[0].(map[string]any)["family"] = family }
	}
	ok := example(t, "111-to-ED-ServiceRequest.json", patientEdit(name("Jones")))
	tests := []struct{ name, body, expression string }{
		{"right-to-left override in a family name", example(t, "111-to-ED-ServiceRequest.json", patientEdit(name("Jones\u202E"))), "Bundle.entry["},
		{"NUL in a family name", example(t, "111-to-ED-ServiceRequest.json", patientEdit(name("Jo\u0000nes"))), "family"},
		{"family name over 200 bytes", example(t, "111-to-ED-ServiceRequest.json", patientEdit(name(strings.Repeat("J", 201)))), "family"},
		{"a display over 1000 bytes", example(t, "111-to-ED-ServiceRequest.json", patientEdit(func(p map[string]any) {
			p["maritalStatus"] = map[string]any{"coding": []any{map[string]any{"display": strings.Repeat("d", 1001)}}}
		})), "display"},
		{"duplicate key", strings.Replace(ok, `"resourceType":"Bundle"`, `"resourceType":"Bundle","type":"message","type":"message"`, 1), "Bundle.type"},
		{"invalid UTF-8", strings.Replace(ok, "Jones", "Jo\xffnes", 1), "Bundle"},
	}
	lead := tc.Leader(t)
	before := lead.N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{lead, tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, http.MethodPost, processRoute, tt.body, barsHeaders(key, barsTarget, "lim"))
				expectOutcome(t, resp, b, http.StatusBadRequest, "REC_BAD_REQUEST", tt.expression)
			})
		}
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d on refused input", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("state hash changed on refused input:\n%s\n%s", hashBefore, after)
	}
	resp, b := tc.Do(t, tc.Follower(t), http.MethodPost, processRoute, ok, barsHeaders(key, barsTarget, "lim-ok"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("within the limits: %d %s", resp.StatusCode, b)
	}
}

// TestBaRSSlotSearchBounds: ge and le take a session starting at the
// bound, gt and lt leave it out, and a session that is over is never
// offered.
func TestBaRSSlotSearchBounds(t *testing.T) {
	tc := nodetest.New(t, 1)
	key := tc.Key(t, access.RoleNHS111, "NHS 111 slots")
	search := func(q string) []map[string]any {
		t.Helper()
		resp, b := tc.Do(t, tc.Leader(t), http.MethodGet, fhirBase+"/Slot?status=free,busy&"+q, "", barsHeaders(key, barsTarget, "req-slots"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Slot search %s: %d %s", q, resp.StatusCode, b)
		}
		set := decodeMap(t, b)
		if set["entry"] == nil {
			return nil // an empty searchset has no entry
		}
		return resources(set, "Slot")
	}
	at := func(prefix string, tm time.Time) string {
		return "start=" + prefix + url.QueryEscape(tm.UTC().Format(time.RFC3339))
	}
	now := time.Now()
	upcoming := search(at("ge", now) + "&" + at("le", now.Add(48*time.Hour)))
	if len(upcoming) == 0 {
		t.Fatal("no sessions in the next two days")
	}
	s0, err := time.Parse(time.RFC3339, upcoming[0]["start"].(string))
	if err != nil {
		t.Fatal(err)
	}
	has := func(slots []map[string]any) bool {
		for _, s := range slots {
			if st, _ := time.Parse(time.RFC3339, s["start"].(string)); st.Equal(s0) {
				return true
			}
		}
		return false
	}
	for _, tt := range []struct {
		q    string
		want bool
	}{
		{at("ge", s0) + "&" + at("le", s0.Add(time.Hour)), true},
		{at("gt", s0) + "&" + at("le", s0.Add(time.Hour)), false},
		{at("ge", s0.Add(-time.Hour)) + "&" + at("le", s0), true},
		{at("ge", s0.Add(-time.Hour)) + "&" + at("lt", s0), false},
	} {
		if got := has(search(tt.q)); got != tt.want {
			t.Errorf("%s: session at %s listed %v, want %v", tt.q, s0, got, tt.want)
		}
	}
	for _, s := range search(at("ge", now.Add(-13*24*time.Hour)) + "&" + at("le", now)) {
		if end, _ := time.Parse(time.RFC3339, s["end"].(string)); !end.After(now) {
			t.Errorf("a session that is over is offered: %v", s)
		}
	}
	// A FHIR date is the whole UK day: the session's day holds it, the
	// day before and gt the day itself do not.
	day := s0.In(routing.London).Format(time.DateOnly)
	before := s0.In(routing.London).AddDate(0, 0, -1).Format(time.DateOnly)
	for _, tt := range []struct {
		q    string
		want bool
	}{
		{"start=ge" + day + "&start=le" + day, true},
		{"start=ge" + before + "&start=le" + before, false},
		{"start=gt" + day + "&start=le" + s0.AddDate(0, 0, 3).Format(time.DateOnly), false},
		{"start=ge" + before + "&start=lt" + day, false},
	} {
		if got := has(search(tt.q)); got != tt.want {
			t.Errorf("%s: session at %s listed %v, want %v", tt.q, s0, got, tt.want)
		}
	}
	// Over 14 days is too costly (BaRS: 422).
	resp, b := tc.Do(t, tc.Leader(t), http.MethodGet, fhirBase+"/Slot?"+at("ge", now)+"&"+at("le", now.Add(15*24*time.Hour)), "", barsHeaders(key, barsTarget, "req-slots"))
	expectOutcome(t, resp, b, http.StatusUnprocessableEntity, "REC_UNPROCESSABLE_ENTITY", "start")
	if !strings.Contains(string(b), `"too-costly"`) {
		t.Errorf("a 15-day window: %s, want code too-costly", b)
	}
}

// TestBaRSCancelOnlyBySender: one NHS 111 provider cannot cancel another's
// booking or revoke another's referral, by PATCH, PUT or a cancellation
// message: it is told there is none, and nothing changes (logic version
// 11); the sender itself can.
func TestBaRSCancelOnlyBySender(t *testing.T) {
	tc := nodetest.New(t, 3)
	sender := tc.Key(t, access.RoleNHS111, "NHS 111 (North)")
	other := tc.Key(t, access.RoleNHS111, "NHS 111 (South)")
	lead := tc.Leader(t)
	slot := freeSlots(t, tc, lead, sender)[0]["id"].(string)
	resp, b := tc.Do(t, lead, http.MethodPost, processRoute, example(t, "BookingRequest.json", bookingEdit("own-book", "own-ap", slot, "booked")), barsHeaders(sender, barsTarget, "own-book"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("booking: %d %s", resp.StatusCode, b)
	}
	apID := resources(decodeMap(t, b), "Appointment")[0]["id"].(string)
	resp, b = tc.Do(t, lead, http.MethodPost, processRoute, example(t, "111-to-ED-ServiceRequest.json", referralEdit("own-ref", "own-sr", validNHS)), barsHeaders(sender, barsTarget, "own-ref"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("referral: %d %s", resp.StatusCode, b)
	}
	srID := resources(decodeMap(t, b), "ServiceRequest")[0]["id"].(string)

	// Another sender replaying the sender's message (its message id) is
	// not given the sender's answer, with its patient and ids.
	resp, b = tc.Do(t, lead, http.MethodPost, processRoute, example(t, "BookingRequest.json", bookingEdit("own-book", "own-ap", slot, "booked")), barsHeaders(other, barsTarget, "own-book"))
	if resp.StatusCode == http.StatusOK || strings.Contains(string(b), apID) {
		t.Fatalf("another sender replaying the booking: %d %s", resp.StatusCode, b)
	}

	before := lead.N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tt := range []struct{ name, method, path, body string }{
		{"PATCH the Appointment", http.MethodPatch, fhirBase + "/Appointment/" + apID, `[{"op":"replace","path":"/status","value":"cancelled"}]`},
		{"PUT the Appointment", http.MethodPut, fhirBase + "/Appointment/" + apID, `{"resourceType":"Appointment","id":"` + apID + `","status":"cancelled"}`},
		{"a cancellation message", http.MethodPost, processRoute, example(t, "BookingRequest.json", bookingEdit("other-cancel", "own-ap", slot, "cancelled"))},
		{"PATCH the ServiceRequest", http.MethodPatch, fhirBase + "/ServiceRequest/" + srID, `[{"op":"replace","path":"/status","value":"revoked"}]`},
		{"a revoking referral", http.MethodPost, processRoute, example(t, "111-to-ED-ServiceRequest.json", func(b map[string]any) {
			referralEdit("other-revoke", "own-sr", validNHS)(b)
			resources(b, "ServiceRequest")[0]["status"] = "revoked"
		})},
	} {
		for _, tn := range []*nodetest.Node{lead, tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, tt.method, tt.path, tt.body, barsHeaders(other, barsTarget, "other-"+tt.name))
				expectOutcome(t, resp, b, http.StatusNotFound, "REC_NOT_FOUND", "")
			})
		}
	}
	if after := lead.N.Store().Status().LastIndex; after != before {
		t.Fatalf("refused cancellations moved the raft index %d -> %d", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("refused cancellations changed the state:\n%s\n%s", hashBefore, after)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPatch, fhirBase+"/Appointment/"+apID, `[{"op":"replace","path":"/status","value":"cancelled"}]`, barsHeaders(sender, barsTarget, "own-cancel"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "cancelled" {
		t.Fatalf("the sender's own cancellation: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPatch, fhirBase+"/ServiceRequest/"+srID, `[{"op":"replace","path":"/status","value":"revoked"}]`, barsHeaders(sender, barsTarget, "own-revoke"))
	if resp.StatusCode != http.StatusOK || decodeMap(t, b)["status"] != "revoked" {
		t.Fatalf("the sender's own revocation: %d %s", resp.StatusCode, b)
	}
	// Cancelled or not, another sender's booking and referral are not
	// found (an "already cancelled" would say they exist).
	for _, path := range []string{fhirBase + "/Appointment/" + apID, fhirBase + "/ServiceRequest/" + srID} {
		status := "cancelled"
		if strings.Contains(path, "ServiceRequest") {
			status = "revoked"
		}
		resp, b = tc.Do(t, tc.Follower(t), http.MethodPatch, path, `[{"op":"replace","path":"/status","value":"`+status+`"}]`, barsHeaders(other, barsTarget, "other-after-"+status))
		expectOutcome(t, resp, b, http.StatusNotFound, "REC_NOT_FOUND", "")
	}
}
