package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// The workflow routes' sample requests for the role x route test
// (auth_test.go): each returns a request an allowed role can make
// successfully, creating a fresh attendance where the request consumes it.
func init() { workflowSampleHooks = append(workflowSampleHooks, workflowRouteSamples) }

var sampleVersion atomic.Int64

func workflowRouteSamples(t *testing.T, tc *testCluster) map[string]sampleFunc {
	newAttendance := func(t *testing.T) string {
		resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", utiWomanBody, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("fixture attendance: %d %s", resp.StatusCode, b)
		}
		var a wfAttendance
		decodeJSON(t, b, &a)
		return a.ID
	}
	// newVersion is an upload body of chest-pain under a fresh version.
	newVersion := func(t *testing.T) (int, string) {
		src, err := protocolSource("chest-pain.yaml")
		if err != nil {
			t.Fatal(err)
		}
		v := 100 + int(sampleVersion.Add(1))
		i := strings.Index(src, "\nversion: ")
		j := i + 1 + strings.IndexByte(src[i+1:], '\n')
		body, _ := json.Marshal(map[string]string{"content": src[:i] + fmt.Sprintf("\nversion: %d", v) + src[j:]})
		return v, string(body)
	}
	fixed := newAttendance(t)
	static := func(path, body string) sampleFunc {
		return func(*testing.T) (string, string) { return path, body }
	}
	return map[string]sampleFunc{
		"GET /v1/protocols": static("/v1/protocols?q=chest", ""),
		"POST /v1/protocols": func(t *testing.T) (string, string) {
			_, body := newVersion(t)
			return "/v1/protocols", body
		},
		"POST /v1/protocols/:id/activate": func(t *testing.T) (string, string) {
			v, body := newVersion(t)
			if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/protocols", body, nil); resp.StatusCode != http.StatusCreated {
				t.Fatalf("fixture upload: %d %s", resp.StatusCode, b)
			}
			tc.WaitReady(t) // let the cluster settle before the request under test
			return "/v1/protocols/chest-pain/activate", fmt.Sprintf(`{"version":%d}`, v)
		},
		"POST /v1/attendances/:id/answers": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/answers", `{"question":"screen.desk_responding","value":"no"}`
		},
		"POST /v1/attendances/:id/observations": static("/v1/attendances/"+fixed+"/observations", `{"pulse":80}`),
		"POST /v1/attendances/:id/address":      static("/v1/attendances/"+fixed+"/address", `{"postcode":"DY1 1AA","address":"1 High Street"}`),
		"POST /v1/attendances/:id/confirm": func(t *testing.T) (string, string) {
			// A woman of 30 with an uncomplicated UTI, screen "no" as asked:
			// redirected to a pharmacy, awaiting a clinician's confirmation.
			id := newAttendance(t)
			a := walkTriage(t, tc, tc.Leader(t), getAttendanceWF(t, tc, tc.Leader(t), id), utiWoman, nil)
			if a.Status != cluster.AttendanceAwaitingConfirmation {
				t.Fatalf("fixture awaiting confirmation: %s %+v", a.Status, a.Triage.Disposition)
			}
			return "/v1/attendances/" + id + "/confirm", `{"note":"sample"}`
		},
		"POST /v1/attendances/:id/override": static("/v1/attendances/"+fixed+"/override", `{"tier":"gp","reason":"sample override"}`),
		"POST /v1/attendances/:id/status": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/status", `{"status":"called"}`
		},
		"POST /v1/attendances/:id/check-in": func(t *testing.T) (string, string) {
			resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"sent by 111","channel":"nhs111","expected":true,"dx":{"code":"Dx06"}}`, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("fixture expected attendance: %d %s", resp.StatusCode, b)
			}
			var a wfAttendance
			decodeJSON(t, b, &a)
			return "/v1/attendances/" + a.ID + "/check-in", ""
		},
		"GET /v1/attendances/:id/explain": static("/v1/attendances/"+fixed+"/explain", ""),
		"GET /v1/attendances/:id/slip":    static("/v1/attendances/"+fixed+"/slip", ""),
		"GET /v1/queue":                   static("/v1/queue", ""),
		"GET /v1/queue/stream":            static("/v1/queue/stream?max_seconds=1", ""),
	}
}
