package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRegisterAlreadyRegisteredIsExpected: the centre refusing a second GP
// registration (409 "registered with practice") is an expected refusal;
// any other refusal of a registration fails the operation.
func TestRegisterAlreadyRegisteredIsExpected(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		wantErr    bool
		wantFailed uint64
	}{
		{"already registered", http.StatusConflict,
			`{"type":"/problems/conflict","title":"Conflict","status":409,"detail":"the patient is registered with practice X99001"}`, false, 0},
		{"another conflict", http.StatusConflict,
			`{"type":"/problems/conflict","title":"Conflict","status":409,"detail":"the attendance has left"}`, true, 1},
		{"invalid", http.StatusUnprocessableEntity,
			`{"type":"/problems/invalid","title":"Invalid","status":422,"detail":"consent is required"}`, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/attendances/A1/registration" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			client := NewClient([]string{srv.URL}, "k", 2)
			defer client.Close()
			s := &Session{client: client, stats: &Stats{}, ledger: &Ledger{}, synth: newSynth(1, 1<<40), opTimeout: 5 * time.Second, runID: "t", worker: -1}
			w := &walkinWorkload{}
			err := w.register(context.Background(), s, "A1", "DY1 1AA", "key-1")
			if (err != nil) != tc.wantErr {
				t.Fatalf("register: err %v, want error %v", err, tc.wantErr)
			}
			if got := s.stats.op(opRegister).failed; got != tc.wantFailed {
				t.Fatalf("failed registrations %d, want %d", got, tc.wantFailed)
			}
			if w.registered.Load() != 0 {
				t.Fatal("a refused registration was counted as registered")
			}
		})
	}
}
