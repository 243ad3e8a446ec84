package directory_test

import (
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestPlanImport: what an import would do to the demo directory, or the
// field that makes it unacceptable. Apply and the HTTP handler both decide
// with PlanImport.
func TestPlanImport(t *testing.T) {
	dy8 := map[string]routing.LatLon{"DY8 1AA": {Lat: 52.455, Lon: -2.15}}
	tests := []struct {
		name  string
		in    directory.Import
		want  directory.ImportResult
		field string // a refused import names this field
	}{
		{"new postcode, practice and pharmacy", directory.Import{Postcodes: dy8,
			Practices:  []directory.ImportedOrg{{ODSCode: "A81001", Name: "NEW PRACTICE", Postcode: "DY8 1AA"}},
			Pharmacies: []directory.ImportedOrg{{ODSCode: "FA123", Name: "NEW PHARMACY", Postcode: "DY8 1AA"}}},
			directory.ImportResult{Postcodes: directory.ImportCounts{Added: 1}, Practices: directory.ImportCounts{Added: 1},
				Pharmacies: directory.ImportCounts{Added: 1}}, ""},
		{"the demo's own records as they are", directory.Import{
			Postcodes: map[string]routing.LatLon{"DY1 1AA": {Lat: 52.5065, Lon: -2.0928}},
			Practices: []directory.ImportedOrg{{ODSCode: "X99001", Name: "Castlegate Medical Practice (fictional)", Postcode: "DY1 1AE"}},
			Pharmacies: []directory.ImportedOrg{{ODSCode: "FX001", Name: "High Street Pharmacy, Castlegate (fictional)",
				Address: "12 High Street, Castlegate", Postcode: "DY1 1AB"}}},
			directory.ImportResult{Postcodes: directory.ImportCounts{Unchanged: 1}, Practices: directory.ImportCounts{Unchanged: 1},
				Pharmacies: directory.ImportCounts{Unchanged: 1}}, ""},
		{"a moved postcode and renamed practice", directory.Import{
			Postcodes: map[string]routing.LatLon{"DY1 1AA": {Lat: 52.5, Lon: -2.09}},
			Practices: []directory.ImportedOrg{{ODSCode: "X99001", Name: "CASTLEGATE MEDICAL PRACTICE", Postcode: "DY1 1AE"}}},
			directory.ImportResult{Postcodes: directory.ImportCounts{Updated: 1}, Practices: directory.ImportCounts{Updated: 1}}, ""},
		{"postcode without coordinates", directory.Import{
			Practices: []directory.ImportedOrg{{ODSCode: "A81001", Name: "P", Postcode: "DY8 1AA"}}}, directory.ImportResult{}, "practices[0].postcode"},
		{"practice code shape", directory.Import{Postcodes: dy8,
			Practices: []directory.ImportedOrg{{ODSCode: "FA123", Name: "P", Postcode: "DY8 1AA"}}}, directory.ImportResult{}, "practices[0].ods_code"},
		{"pharmacy code shape", directory.Import{Postcodes: dy8,
			Pharmacies: []directory.ImportedOrg{{ODSCode: "A81001", Name: "P", Postcode: "DY8 1AA"}}}, directory.ImportResult{}, "pharmacies[0].ods_code"},
		{"listed twice", directory.Import{Postcodes: dy8, Practices: []directory.ImportedOrg{
			{ODSCode: "A81001", Name: "P", Postcode: "DY8 1AA"}, {ODSCode: "A81001", Name: "Q", Postcode: "DY8 1AA"}}},
			directory.ImportResult{}, "practices[1].ods_code"},
		{"no name", directory.Import{Postcodes: dy8, Practices: []directory.ImportedOrg{{ODSCode: "A81001", Postcode: "DY8 1AA"}}},
			directory.ImportResult{}, "practices[0].name"},
		{"bad pharmacy hours", directory.Import{Postcodes: dy8, PharmacySessions: []routing.Session{{Days: "someday", Start: "09:00", End: "17:00"}},
			Pharmacies: []directory.ImportedOrg{{ODSCode: "FA123", Name: "P", Postcode: "DY8 1AA"}}}, directory.ImportResult{}, "pharmacy_sessions"},
		{"coordinates outside the UK", directory.Import{Postcodes: map[string]routing.LatLon{"DY8 1AA": {Lat: 40, Lon: -2}}},
			directory.ImportResult{}, "postcodes.DY8 1AA"},
		{"nothing", directory.Import{}, directory.ImportResult{}, "postcodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := routing.DemoDirectory()
			if err != nil {
				t.Fatal(err)
			}
			got, f := directory.PlanImport(dir, &tt.in)
			if tt.field != "" {
				if _, ok := f[tt.field]; !ok {
					t.Fatalf("fields %v do not name %q", f, tt.field)
				}
				return
			}
			if f != nil {
				t.Fatalf("refused: %v", f)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
