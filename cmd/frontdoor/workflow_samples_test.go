package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// The workflow routes' sample requests for the role x route test
// (auth_test.go): each returns a request an allowed role can make
// successfully, creating a fresh attendance where the request consumes it.
func init() { workflowSampleHooks = append(workflowSampleHooks, workflowRouteSamples) }

// sampleUTIAnswers walks a woman of 30 with an uncomplicated UTI (screen v3:
// the desk form, the sepsis questions, contacts 0) to the pharmacy.
const sampleUTIAnswers = `{"answers":[{"question":"screen.desk_responding","value":"no"},{"question":"screen.desk_breathing","value":"no"},{"question":"screen.desk_talking","value":"no"},{"question":"screen.desk_colour","value":"no"},{"question":"screen.desk_bleeding","value":"no"},{"question":"screen.desk_fast","value":"no"},{"question":"screen.desk_fitting","value":"no"},{"question":"screen.desk_swelling","value":"no"},{"question":"screen.desk_confused","value":"no"},{"question":"screen.rash_glass","value":"no"},{"question":"screen.no_urine","value":"no"},{"question":"screen.chemo_infection","value":"no"},{"question":"screen.immunosuppressed","value":"no"},{"question":"screen.contacts","value":"0"},{"question":"screen.carer_worried","value":"no"},{"question":"very_unwell","value":"no"},{"question":"retention","value":"no"},{"question":"catheter","value":"no"},{"question":"upper_tract","value":"no"},{"question":"visible_blood","value":"no"},{"question":"ask_pregnant","value":"no"},{"question":"recurrent","value":"no"},{"question":"vaginal","value":"no"}]}`

var sampleVersion atomic.Int64

func workflowRouteSamples(t *testing.T, tc *testCluster) map[string]sampleFunc {
	newAttendance := func(t *testing.T) string {
		resp, b := tc.doRetry(t, tc.leader(t), http.MethodPost, "/v1/attendances", utiWomanBody, nil)
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
			if resp, b := tc.doRetry(t, tc.leader(t), http.MethodPost, "/v1/protocols", body, nil); resp.StatusCode != http.StatusCreated {
				t.Fatalf("fixture upload: %d %s", resp.StatusCode, b)
			}
			tc.waitReady(t) // let the cluster settle before the request under test
			return "/v1/protocols/chest-pain/activate", fmt.Sprintf(`{"version":%d}`, v)
		},
		"POST /v1/attendances/:id/answers": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/answers", `{"question":"screen.desk_responding","value":"no"}`
		},
		"POST /v1/attendances/:id/observations": static("/v1/attendances/"+fixed+"/observations", `{"pulse":80}`),
		"POST /v1/attendances/:id/confirm": func(t *testing.T) (string, string) {
			id := newAttendance(t)
			resp, b := tc.doRetry(t, tc.leader(t), http.MethodPost, "/v1/attendances/"+id+"/answers", sampleUTIAnswers, nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status":"awaiting_confirmation"`) {
				t.Fatalf("fixture awaiting confirmation: %d %s", resp.StatusCode, b)
			}
			return "/v1/attendances/" + id + "/confirm", `{"note":"sample"}`
		},
		"POST /v1/attendances/:id/override": static("/v1/attendances/"+fixed+"/override", `{"tier":"gp","reason":"sample override"}`),
		"POST /v1/attendances/:id/status": func(t *testing.T) (string, string) {
			return "/v1/attendances/" + newAttendance(t) + "/status", `{"status":"called"}`
		},
		"POST /v1/attendances/:id/check-in": func(t *testing.T) (string, string) {
			resp, b := tc.doRetry(t, tc.leader(t), http.MethodPost, "/v1/attendances", `{"complaint":"sent by 111","channel":"nhs111","expected":true,"dx":{"code":"Dx06"}}`, nil)
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
