package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestInputLimitsRefuseAndChangeNothing: each input limit, through the
// leader and a follower, is a 422 naming the field (413 for a body over
// the size limit), and the raft index and state hash do not move.
func TestInputLimitsRefuseAndChangeNothing(t *testing.T) {
	tc := nodetest.New(t, 3)
	_, svc := tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/services/ph-high-street", "", nil)
	patient := func(given, family, dob string) string {
		return `{"given_name":"` + given + `","family_name":"` + family + `","date_of_birth":"` + dob + `","confirm_new":true}`
	}
	tomorrow := time.Now().In(london(t)).AddDate(0, 0, 1).Format("2006-01-02")
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"900 KB service address", "PUT", "/v1/services/ph-high-street",
			withAddress(t, svc, strings.Repeat("9 High Street, ", 900<<10/15)), 422, "address"},
		{"service address over 500 bytes", "PUT", "/v1/services/ph-high-street",
			withAddress(t, svc, strings.Repeat("a", 501)), 422, "address"},
		{"long given name", "POST", "/v1/patients", patient(strings.Repeat("A", 101), "Smith", "1970-01-01"), 422, "given_name"},
		{"long complaint", "POST", "/v1/attendances", `{"complaint":"` + strings.Repeat("c", 1001) + `"}`, 422, "complaint"},
		{"long status note", "POST", "/v1/services/ph-high-street/status", `{"status":"amber","note":"` + strings.Repeat("n", 2001) + `"}`, 422, "note"},
		{"invalid UTF-8 in a name", "POST", "/v1/patients", patient("An\xffn", "Smith", "1970-01-01"), 422, "(body)"},
		{"unpaired surrogate in a name", "POST", "/v1/patients", patient(`An\ud800n`, "Smith", "1970-01-01"), 422, "given_name"},
		{"NUL in a name", "POST", "/v1/patients", patient(`Ann\u0000`, "Smith", "1970-01-01"), 422, "given_name"},
		{"newline in a name", "POST", "/v1/patients", patient("Ann", `Smith\nJones`, "1970-01-01"), 422, "family_name"},
		{"right-to-left override in a name", "POST", "/v1/patients", patient("Ann", "Smith\u202E", "1970-01-01"), 422, "family_name"},
		{"isolate in a key holder's name", "POST", "/v1/keys", `{"name":"Desk\u20661","role":"reception"}`, 422, "name"},
		{"bidi override in an attendance's patient", "POST", "/v1/attendances", `{"complaint":"cough","patient":{"given_name":"\u202eAnn"}}`, 422, "patient.given_name"},
		{"duplicate key", "POST", "/v1/keys", `{"name":"Desk","role":"reception","role":"admin"}`, 422, "role"},
		{"duplicate key differing in case", "POST", "/v1/keys", `{"name":"Desk","role":"reception","ROLE":"admin"}`, 422, "ROLE"},
		{"duplicate nested key", "POST", "/v1/attendances", `{"complaint":"cough","patient":{"nhs_number":"9434765919","nhs_number":"4010232137"}}`, 422, "patient.nhs_number"},
		{"date of birth in 1800", "POST", "/v1/patients", patient("Ann", "Smith", "1800-01-01"), 422, "date_of_birth"},
		{"date of birth tomorrow", "POST", "/v1/patients", patient("Ann", "Smith", tomorrow), 422, "date_of_birth"},
		{"attendance date of birth in 1899", "POST", "/v1/attendances", `{"complaint":"cough","patient":{"given_name":"Ann","date_of_birth":"1899-12-31"}}`, 422, "patient.date_of_birth"},
	}
	before := tc.Leader(t).N.Store().Status().LastIndex
	hashBefore := stateHashes(t, tc)
	for _, tt := range tests {
		for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
			t.Run(tt.name+" via "+tn.ID, func(t *testing.T) {
				resp, b := tc.Do(t, tn, tt.method, tt.path, tt.body, nil)
				expectProblem(t, resp, b, tt.status, api.ProblemInvalid, tt.field)
			})
		}
	}
	// A body over the 1 MiB limit is refused from its Content-Length,
	// before it is read (sent by hand: a client writing the whole body
	// races the server's close).
	for _, tn := range []*nodetest.Node{tc.Leader(t), tc.Follower(t)} {
		if code := statusOfOversizeBody(t, tn.URL, tc.AdminKey); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: a 2 MiB body got %d, want 413", tn.ID, code)
		}
	}
	if after := tc.Leader(t).N.Store().Status().LastIndex; after != before {
		t.Fatalf("raft index moved %d -> %d on refused input", before, after)
	}
	if after := stateHashes(t, tc); after != hashBefore {
		t.Fatalf("state hash changed on refused input:\n%s\n%s", hashBefore, after)
	}
	// The positive control: the same bodies within the limits are taken.
	for _, ok := range []struct{ method, path, body string }{
		{"POST", "/v1/patients", patient("Zoë", "Nguyễn-O'Neill", "1900-01-01")},
		{"PUT", "/v1/services/ph-high-street", withAddress(t, svc, strings.Repeat("a", 500))},
		{"POST", "/v1/keys", `{"name":"Desk","role":"reception"}`},
	} {
		if resp, b := tc.Do(t, tc.Follower(t), ok.method, ok.path, ok.body, nil); resp.StatusCode >= 300 {
			t.Fatalf("%s %s within the limits: %d %s", ok.method, ok.path, resp.StatusCode, b)
		}
	}
}

// statusOfOversizeBody sends POST /v1/attendances announcing a 2 MiB body
// and sending none of it, and returns the status of the answer.
func statusOfOversizeBody(t *testing.T, base, key string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /v1/attendances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", key, 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// withAddress is the service svc (JSON) with its address replaced.
func withAddress(t *testing.T, svc []byte, address string) string {
	t.Helper()
	var s routing.Service
	nodetest.DecodeJSON(t, svc, &s)
	s.Address = address
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func london(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
