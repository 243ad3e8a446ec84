package bars

import (
	"strings"
	"testing"
)

// TestRefusalsSpeakFHIR: a body the decoder refuses is explained in FHIR's
// terms (the element, the JSON it has), never with Go's type names.
func TestRefusalsSpeakFHIR(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`[]`, "JSON object with a resourceType"},
		{`{"resourceType":`, "not JSON"},
		{`{"resourceType":"Bundle","type":"message","entry":"x"}`, "entry cannot be a JSON string"},
		{`{"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader","eventCoding":[]}}]}`, "eventCoding cannot be a JSON array"},
	} {
		_, err := ParseMessage([]byte(tt.body))
		if err == nil {
			t.Fatalf("%s: taken", tt.body)
		}
		d := err.Issues[0].Diagnostics
		if !strings.Contains(d, tt.want) || strings.Contains(d, "Go ") || strings.Contains(d, "struct") {
			t.Errorf("%s: %q, want it to say %q in FHIR's terms", tt.body, d, tt.want)
		}
	}
}
