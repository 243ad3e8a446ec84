package routing

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRoute routes over the synthetic 2,000-service directory.
func BenchmarkRoute(b *testing.B) {
	d, err := SyntheticDirectory(1, 2000)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		need Need
		p    Patient
	}{
		{"pharmacy_4h", Need{MinTier: TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"pharmacy_first:uti"}}, PatientAged(30, "female", "SY3 2AA")},
		{"gp_immediate", Need{MinTier: TierGP, Immediate: true, CareNeeds: []string{"minor_illness"}}, PatientAged(70, "male", "SY7 1AA")},
		{"self_care_none", Need{MinTier: TierSelfCare, WithinMinutes: 7 * 24 * 60}, Patient{}},
	}
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, London)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			load := &Load{}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Route(c.need, c.p, now, d, load); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAllocate(b *testing.B) {
	d, err := DemoDirectory()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Allocate(RegistrationRequest{Postcode: "DY4 1AC"}, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateSynthetic(b *testing.B) {
	d, err := SyntheticDirectory(1, 2000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch: one patient search over a block of 500 records sharing
// a surname or postcode (what patient.create scores before it creates).
func BenchmarkMatch(b *testing.B) {
	given := []string{"Ada", "Adah", "Ava", "Noah", "Olivia", "Amelia", "Isla", "Jack", "Harry", "Zoë"}
	records := make([]Person, 500)
	for i := range records {
		records[i] = Person{ID: fmt.Sprintf("P%04d", i), GivenName: given[i%len(given)], FamilyName: []string{"Lovelace", "Lovelance", "Lovelock"}[i%3],
			DateOfBirth: fmt.Sprintf("19%02d-%02d-%02d", 40+i%60, 1+i%12, 1+i%28), Postcode: fmt.Sprintf("DY%d %dAA", 1+i%9, i%10)}
	}
	q := Person{GivenName: "Ada", FamilyName: "Lovelace", DateOfBirth: "1990-12-10", Postcode: "DY1 1AA"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Match(q, records)
	}
}
