package routing

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPharmacyFirstAgeLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/eligibility_directory.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := LoadDirectory(b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, London)
	years := func(y int) int { return AgeDaysFromYears(y) }
	tests := []struct {
		need    string
		sex     string
		ageDays int
		ok      bool
		code    string
	}{
		{"pharmacy_first:sinusitis", "male", years(12) - 1, false, RejectAge},
		{"pharmacy_first:sinusitis", "male", years(12), true, ""},
		{"pharmacy_first:sore_throat", "female", years(5) - 1, false, RejectAge},
		{"pharmacy_first:sore_throat", "female", years(5), true, ""},
		{"pharmacy_first:otitis_media", "male", years(1) - 1, false, RejectAge},
		{"pharmacy_first:otitis_media", "male", years(1), true, ""},
		{"pharmacy_first:otitis_media", "male", years(18) - 1, true, ""},
		{"pharmacy_first:otitis_media", "male", years(18), false, RejectAge},
		{"pharmacy_first:insect_bite", "female", years(1) - 1, false, RejectAge},
		{"pharmacy_first:insect_bite", "female", years(1), true, ""},
		{"pharmacy_first:impetigo", "male", years(1) - 1, false, RejectAge},
		{"pharmacy_first:impetigo", "male", years(1), true, ""},
		{"pharmacy_first:shingles", "female", years(18) - 1, false, RejectAge},
		{"pharmacy_first:shingles", "female", years(18), true, ""},
		{"pharmacy_first:uti", "female", years(16) - 1, false, RejectAge},
		{"pharmacy_first:uti", "female", years(16), true, ""},
		{"pharmacy_first:uti", "female", years(65) - 1, true, ""},
		{"pharmacy_first:uti", "female", years(65), false, RejectAge},
		{"pharmacy_first:uti", "male", years(30), false, RejectSex},
		{"pharmacy_first:uti", "", years(30), false, RejectSex},
		{"paediatrics", "female", 28, true, ""}, // the fixture sees children here only to 28 days
		{"paediatrics", "female", 29, false, RejectAge},
		{"pharmacy_first:dental_abscess", "female", years(30), false, RejectNotProvided},
	}
	for _, tt := range tests {
		p := Patient{AgeKnown: true, AgeDays: tt.ageDays, Sex: tt.sex, Postcode: "DY1 1AA"}
		dec, err := Route(Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{tt.need}}, p, now, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := dec.ServiceID == "ph-fixture"
		r, _ := rejectionOf(dec, "ph-fixture")
		if got != tt.ok || (!tt.ok && r.Code != tt.code) {
			t.Errorf("%s, %s, %d days: chose %s, pharmacy rejection %+v; want ok=%v code %q", tt.need, tt.sex, tt.ageDays, dec.ServiceID, r, tt.ok, tt.code)
		}
	}
	// unknown age never passes an age limit
	dec, _ := Route(Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{"pharmacy_first:shingles"}}, Patient{Sex: "male"}, now, d, nil)
	if r, _ := rejectionOf(dec, "ph-fixture"); r.Code != RejectAgeUnknown {
		t.Errorf("unknown age: %+v", r)
	}
	// the reason reads in years
	dec, _ = Route(Need{MinTier: TierPharmacy, WithinMinutes: 60, CareNeeds: []string{"pharmacy_first:uti"}}, PatientAged(70, "female", "DY1 1AA"), now, d, nil)
	if r, _ := rejectionOf(dec, "ph-fixture"); r.Reason != "age 70 outside 16-64 for pharmacy_first:uti" {
		t.Errorf("reason %q", r.Reason)
	}
}

func TestBankHolidays(t *testing.T) {
	tests := []struct {
		year int
		want []string
	}{
		{2026, []string{"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28"}},
		{2027, []string{"2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"}},
		{2022, []string{"2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"}},
		{2021, []string{"2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30", "2021-12-27", "2021-12-28"}},
		{2028, []string{"2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28", "2028-12-25", "2028-12-26"}},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range BankHolidays(tt.year) {
			got = append(got, d.String())
		}
		if len(got) != len(tt.want) {
			t.Errorf("%d: %v, want %v", tt.year, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%d: %v, want %v", tt.year, got, tt.want)
				break
			}
		}
	}
	for y, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2038: "2038-04-25", 2285: "2285-03-22", 1943: "1943-04-25"} {
		if got := EasterSunday(y).String(); got != want {
			t.Errorf("Easter %d = %s, want %s", y, got, want)
		}
	}
}

func TestValidateRejectsBadDirectories(t *testing.T) {
	base := func() *Directory {
		return &Directory{CentrePostcode: "DY1 1AA", Postcodes: map[string]LatLon{"DY1 1AA": {52.5, -2.08}},
			Services: []Service{{ID: "ed", Name: "ED", Tier: TierED, Postcode: "DY1 1AA", AlwaysOpen: true}}}
	}
	tests := []struct {
		name string
		mod  func(d *Directory)
	}{
		{"unknown tier", func(d *Directory) {
			d.Services = append(d.Services, Service{ID: "x", Name: "x", Tier: "hospice", Postcode: "DY1 1AA"})
		}},
		{"duplicate id", func(d *Directory) { d.Services = append(d.Services, d.Services[0]) }},
		{"bad clock", func(d *Directory) {
			d.Services = append(d.Services, Service{ID: "x", Name: "x", Tier: TierGP, Postcode: "DY1 1AA", Sessions: []Session{{Days: "mon", Start: "8am", End: "17:00"}}})
		}},
		{"bad day", func(d *Directory) {
			d.Services = append(d.Services, Service{ID: "x", Name: "x", Tier: TierGP, Postcode: "DY1 1AA", Sessions: []Session{{Days: "funday", Start: "08:00", End: "17:00"}}})
		}},
		{"no ed", func(d *Directory) { d.Services[0].AlwaysOpen = false }},
		{"unknown postcode", func(d *Directory) { d.Services[0].Postcode = "ZZ9 9ZZ" }},
		{"places without number", func(d *Directory) { d.Services[0].Capacity = Capacity{Kind: CapacityPlaces} }},
		{"bad rag", func(d *Directory) { d.Services[0].RAG = RAG{Status: "purple"} }},
		{"bad webhook secret", func(d *Directory) { d.Services[0].Webhook = &Webhook{URL: "http://127.0.0.1/x", Secret: "whsec_!!!"} }},
		{"unknown care need", func(d *Directory) { d.Services[0].Provides = []Provision{{Need: "gp_asessment"}} }},
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("base directory invalid: %v", err)
	}
	for _, tt := range tests {
		d := base()
		tt.mod(d)
		if err := d.Validate(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// TestValidateNamesAnUnknownCareNeed: the directory's validation refuses a
// care need outside the vocabulary and says which service and which word;
// ValidateStructure (a directory accepted before, in replicated state)
// keeps it, and routing treats it as a need no outcome names.
func TestValidateNamesAnUnknownCareNeed(t *testing.T) {
	d := &Directory{CentrePostcode: "DY1 1AA", Postcodes: map[string]LatLon{"DY1 1AA": {52.5, -2.08}},
		Services: []Service{
			{ID: "ed", Name: "ED", Tier: TierED, Postcode: "DY1 1AA", AlwaysOpen: true, Provides: []Provision{{Need: "emergency"}}},
			{ID: "gp", Name: "GP", Tier: TierGP, Postcode: "DY1 1AA", AlwaysOpen: true,
				Provides: []Provision{{Need: "gp_assessment"}, {Need: "neonatal_check"}}},
		}}
	err := d.Validate()
	if err == nil || !errors.Is(err, ErrInvalidDirectory) ||
		!strings.Contains(err.Error(), `service "gp": provides "neonatal_check", which is not a care need in the vocabulary`) {
		t.Fatalf("Validate: %v", err)
	}
	if got := UnknownCareNeeds(&d.Services[1]); len(got) != 1 || got[0] != "neonatal_check" {
		t.Errorf("UnknownCareNeeds = %v", got)
	}
	if err := d.ValidateStructure(); err != nil {
		t.Fatalf("ValidateStructure: %v", err)
	}
	dec, err := Route(Need{MinTier: TierGP, WithinMinutes: 60, CareNeeds: []string{"gp_assessment"}}, PatientAged(30, "male", "DY1 1AA"),
		time.Date(2026, 11, 24, 10, 0, 0, 0, London), d, nil)
	if err != nil || dec.ServiceID != "gp" {
		t.Errorf("route over a stored directory: %s %v", dec.ServiceID, err)
	}
}
