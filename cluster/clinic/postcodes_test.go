package clinic_test

import (
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/clinic"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// TestImportedPostcodesLiveApartFromTheHeader: an imported postcode table
// is kept under its own key, the directory header (read and hashed by
// every routing decision) holding only its hash; the directory built from
// state has the loaded and the imported postcodes, also after a later
// change to the header.
func TestImportedPostcodesLiveApartFromTheHeader(t *testing.T) {
	admin := cluster.Actor{ID: "k-admin", Name: "Admin", Role: "admin"}
	demo, err := routing.DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	f := fsmtest.Open(t, clinic.Commands())
	if r := fsmtest.ApplyOne(t, f, 1, fsmtest.KindEnv(t, directory.KindDirectoryLoad, 1, admin, demo)); r.Err != nil {
		t.Fatal(r.Err)
	}
	imported := map[string]routing.LatLon{"DY9 9ZZ": {Lat: 52.45, Lon: -2.06}, "DY9 9ZY": {Lat: 52.46, Lon: -2.07}}
	if r := fsmtest.ApplyOne(t, f, 2, fsmtest.KindEnv(t, directory.KindDirectoryImport, 2, admin, directory.Import{Postcodes: imported})); r.Err != nil {
		t.Fatalf("import: %v", r.Err)
	}
	check := func(when string) {
		t.Helper()
		f.ReadState(t, func(v *cluster.View) error {
			h, err := directory.In(v).DirectoryHeader()
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Postcodes) != 0 || len(h.PostcodesSHA256) != 64 {
				t.Errorf("%s: header holds %d postcodes, hash %q; want none and the table's hash", when, len(h.Postcodes), h.PostcodesSHA256)
			}
			d, err := directory.In(v).Directory()
			if err != nil {
				t.Fatal(err)
			}
			for pc := range imported {
				if _, ok := d.Postcodes[pc]; !ok {
					t.Errorf("%s: imported %s missing from the directory", when, pc)
				}
			}
			for pc := range demo.Postcodes {
				if _, ok := d.Postcodes[pc]; !ok {
					t.Errorf("%s: loaded %s missing from the directory", when, pc)
				}
			}
			return nil
		})
	}
	check("after the import")
	if r := fsmtest.ApplyOne(t, f, 3, fsmtest.KindEnv(t, directory.KindBankHolidaysSet, 3, admin, directory.BankHolidays{Dates: []string{"2026-12-29"}})); r.Err != nil {
		t.Fatal(r.Err)
	}
	check("after a bank holiday")
}
