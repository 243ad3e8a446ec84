package routing

import (
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed demodata/directory.json
var demoFS embed.FS

// DemoDirectory returns the embedded, entirely fictional "Castlegate"
// directory (a Dudley-like area): 29 services across every tier, 12 GP
// practices and a postcode table. Each call returns a fresh, validated
// copy. Rapid response webhook URLs are placeholders to be replaced.
//
// Generic care needs are met by the generic services of their tier and by
// the ED (self-care: self_care; pharmacies: minor_illness, self_care,
// Pharmacy First, repeat_medicine, emergency_contraception; GP services and
// the practices: gp_assessment, paediatrics and the rest of primary care);
// the urgent dental, urgent eye, mental health crisis and minor injuries
// services are dedicated (care_needs_only), so they are never the default
// for a generic outcome; the rapid response teams take all nine urgent
// community response groups; the maternity assessment unit, maternity only.
func DemoDirectory() (*Directory, error) {
	b, err := demoFS.ReadFile("demodata/directory.json")
	if err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	return LoadDirectory(b)
}

// LoadDirectory decodes a JSON directory and validates it.
func LoadDirectory(b []byte) (*Directory, error) {
	var d Directory
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode directory: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("load directory %q: %w", d.Name, err)
	}
	return &d, nil
}
