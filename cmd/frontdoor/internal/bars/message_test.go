package bars

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestParseMessage: what makes a Bundle a BaRS message, and the status,
// issue type and element each refusal names.
func TestParseMessage(t *testing.T) {
	hdr := func(extra string) string {
		return `{"resourceType":"MessageHeader","id":"m1","eventCoding":{"code":"servicerequest-request"},"source":{"endpoint":"x"},"focus":[{"reference":"urn:uuid:sr1"}]` + extra + `}`
	}
	sr := `{"fullUrl":"urn:uuid:sr1","resource":{"resourceType":"ServiceRequest","status":"active","intent":"plan","subject":{"reference":"urn:uuid:p1"}}}`
	bundle := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"message","entry":[` + strings.Join(entries, ",") + `]}`
	}
	entry := func(r string) string { return `{"resource":` + r + `}` }
	tests := []struct {
		name       string
		body       string
		status     int
		expression string
	}{
		{"a referral", bundle(entry(hdr("")), sr), 0, ""},
		{"not JSON", `{`, 400, "Bundle"},
		{"not a Bundle", `{"resourceType":"Patient"}`, 400, "Bundle"},
		{"not a message", strings.Replace(bundle(entry(hdr("")), sr), `"message"`, `"collection"`, 1), 400, "Bundle.type"},
		{"no MessageHeader first", bundle(sr, entry(hdr(""))), 400, "Bundle.entry[0].resource"},
		{"unknown event", bundle(entry(strings.Replace(hdr(""), "servicerequest-request", "admin-notify", 1)), sr), 422, "MessageHeader.eventCoding.code"},
		{"profile of another event", bundle(entry(hdr(`,"meta":{"profile":["https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-booking-request"]}`)), sr), 400, "MessageHeader.meta.profile"},
		{"focus not in the Bundle", bundle(entry(strings.Replace(hdr(""), "urn:uuid:sr1", "urn:uuid:nowhere", 1)), sr), 400, "MessageHeader.focus[0].reference"},
		{"no message id", bundle(entry(strings.Replace(hdr(""), `"id":"m1",`, "", 1)), sr), 400, "MessageHeader.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.body))
			if tt.status == 0 {
				if err != nil || m.ID != "m1" || m.Event != EventServiceRequest || m.focus == nil || m.focus.rtype != "ServiceRequest" {
					t.Fatalf("got %+v, %v", m, err)
				}
				return
			}
			if err == nil || err.Status != tt.status || len(err.Issues) == 0 || err.Issues[0].Expression != tt.expression {
				t.Fatalf("got %+v, want %d naming %s", err, tt.status, tt.expression)
			}
		})
	}
}

// TestRecCodeAndSlotID: BaRS's receiver codes by status, and Slot ids
// round trip.
func TestRecCodeAndSlotID(t *testing.T) {
	for status, want := range map[int]string{
		http.StatusBadRequest: "REC_BAD_REQUEST", http.StatusUnauthorized: "REC_UNAUTHORIZED", http.StatusForbidden: "REC_FORBIDDEN",
		http.StatusNotFound: "REC_NOT_FOUND", http.StatusConflict: "REC_CONFLICT", http.StatusUnprocessableEntity: "REC_UNPROCESSABLE_ENTITY",
		http.StatusServiceUnavailable: "REC_SERVICE_UNAVAILABLE", http.StatusInternalServerError: "REC_SERVER_ERROR",
	} {
		if got := RecCode(status); got != want {
			t.Errorf("RecCode(%d) = %s, want %s", status, got, want)
		}
	}
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	svc, at, ok := ParseSlotID(SlotID("gp-ucc.stream", start))
	if !ok || svc != "gp-ucc.stream" || !at.Equal(start) {
		t.Fatalf("round trip: %s %v %v", svc, at, ok)
	}
	if _, _, ok := ParseSlotID("slot001"); ok {
		t.Fatal("a foreign Slot id parsed")
	}
}
