package api

import (
	"errors"
	"net/http"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		status    int    // 0: no error
		wantField string // a key expected in problem.Errors
	}{
		{"valid", `{"patient":{"given_name":"Ada"},"complaint":"sore throat"}`, 0, ""},
		{"empty", ``, http.StatusBadRequest, ""},
		{"malformed", `{"complaint":`, http.StatusBadRequest, ""},
		{"syntax", `{"complaint" "x"}`, http.StatusBadRequest, ""},
		{"trailing", `{"complaint":"x"} {}`, http.StatusBadRequest, ""},
		{"unknown top-level field", `{"complaint":"x","colour":"red"}`, http.StatusUnprocessableEntity, "colour"},
		{"unknown nested field", `{"complaint":"x","patient":{"shoe_size":9}}`, http.StatusUnprocessableEntity, "shoe_size"},
		{"wrong type", `{"complaint":42}`, http.StatusUnprocessableEntity, "complaint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v care.AttendanceCreate
			err := decodeStrict([]byte(tt.body), &v)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("err = %v, want a problem", err)
			}
			if p.Status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", p.Status, tt.status, p)
			}
			if tt.wantField != "" {
				if _, ok := p.Errors[tt.wantField]; !ok {
					t.Fatalf("errors = %v, want a reason for %q", p.Errors, tt.wantField)
				}
			}
		})
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		typ        string
		retryAfter bool
	}{
		{cluster.ErrNoLeader, 503, problemNotAccepted, true},
		{cluster.ErrNotLeader, 503, problemNotAccepted, true},
		{cluster.ErrOutcomeUnknown, 503, problemOutcomeUnkown, true},
		{cluster.ErrNotFound, 404, problemNotFound, false},
		{cluster.ErrBadJoinToken, 403, problemForbidden, false},
		{&cluster.CommandError{Code: cluster.CodeIdempotencyMismatch}, 422, problemIdempotency, false},
		{cluster.Invalid(map[string]string{"a": "b"}), 422, problemInvalid, false},
		{&cluster.CommandError{Code: cluster.CodeConflict}, 409, problemConflict, false},
		{&cluster.CommandError{Code: access.CodeForbidden}, 403, problemForbidden, false},
		{errors.New("boom"), 500, problemInternal, false},
	}
	for _, tt := range tests {
		p := problemFor(tt.err)
		if p.Status != tt.status || p.Type != tt.typ || (p.retryAfter > 0) != tt.retryAfter {
			t.Errorf("problemFor(%v) = %d %s retry-after %d; want %d %s %v", tt.err, p.Status, p.Type, p.retryAfter, tt.status, tt.typ, tt.retryAfter)
		}
	}
}
