package nationaldata

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// Area is what of the national files a centre imports: the live postcodes
// within WithinKm of the centre's postcode (0: everywhere, for small
// files), and the practices and pharmacies at them.
type Area struct {
	CentrePostcode string
	WithinKm       float64
	// MaxPostcodes bounds the postcode table (an area of a few hundred
	// thousand postcodes would make every routing decision slow).
	MaxPostcodes int
}

// Plan is what an import sends: the area's postcodes, its practices and
// pharmacies, and every record skipped with its reason.
type Plan struct {
	Postcodes  map[string]routing.LatLon
	Practices  []directory.ImportedOrg
	Pharmacies []directory.ImportedOrg
	Skipped    []Skip
	// PostcodesRead and PostcodesSkipped count ONSPD records read and
	// those without coordinates (terminated, no grid reference).
	PostcodesRead, PostcodesSkipped int
}

// Opener opens the ONSPD file afresh (it is read twice when an area has a
// radius: once to find the centre).
type Opener func() (io.ReadCloser, error)

// BuildPlan locates practices and pharmacies (read by ReadODS, with the
// records ReadODS skipped) through the ONSPD file and keeps those in area.
func BuildPlan(open Opener, onspdName string, area Area, practices, pharmacies []Org, skipped []Skip) (*Plan, error) {
	var centre routing.LatLon
	if area.WithinKm > 0 {
		want := routing.NormalisePostcode(area.CentrePostcode)
		var found *Postcode
		if err := scanFile(open, onspdName, func(p *Postcode) error {
			if p.Postcode == want {
				c := *p
				found = &c
				return errStop
			}
			return nil
		}); err != nil {
			return nil, err
		}
		switch {
		case found == nil:
			return nil, fmt.Errorf("the centre's postcode %q is not in %s: give --centre, or --within-km 0", want, onspdName)
		case !found.Usable():
			return nil, fmt.Errorf("the centre's postcode: %s: give --centre", found.Why())
		}
		centre = found.At
	}
	wanted := map[string]*Postcode{}
	for _, list := range [][]Org{practices, pharmacies} {
		for _, o := range list {
			wanted[o.Postcode] = nil
		}
	}
	plan := &Plan{Postcodes: map[string]routing.LatLon{}, Skipped: append([]Skip(nil), skipped...)}
	err := scanFile(open, onspdName, func(p *Postcode) error {
		plan.PostcodesRead++
		if _, ok := wanted[p.Postcode]; ok {
			c := *p
			wanted[p.Postcode] = &c
		}
		if !p.Usable() {
			plan.PostcodesSkipped++
			return nil
		}
		if area.WithinKm > 0 && distanceKm(centre, p.At) > area.WithinKm {
			return nil
		}
		plan.Postcodes[p.Postcode] = p.At
		if area.MaxPostcodes > 0 && len(plan.Postcodes) > area.MaxPostcodes {
			return fmt.Errorf("more than %d live postcodes in the area: give a smaller --within-km", area.MaxPostcodes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	place := func(list []Org, into *[]directory.ImportedOrg) {
		for _, o := range list {
			skip := func(why string) {
				plan.Skipped = append(plan.Skipped, Skip{File: o.File, Line: o.Line, Code: o.ODSCode, Reason: why})
			}
			p := wanted[o.Postcode]
			switch {
			case p == nil:
				skip("postcode " + o.Postcode + " is not in the ONS Postcode Directory")
			case !p.Usable():
				skip(p.Why())
			case area.WithinKm > 0 && distanceKm(centre, p.At) > area.WithinKm:
				skip(fmt.Sprintf("outside the area: %.1f km from %s (--within-km %g)", distanceKm(centre, p.At),
					routing.NormalisePostcode(area.CentrePostcode), area.WithinKm))
			default:
				*into = append(*into, o.ImportedOrg)
			}
		}
	}
	place(practices, &plan.Practices)
	place(pharmacies, &plan.Pharmacies)
	sort.SliceStable(plan.Skipped, func(i, j int) bool {
		a, b := plan.Skipped[i], plan.Skipped[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return plan, nil
}

// Imports splits the plan into directory.import payloads that each fit
// one request: the postcodes first (in postcode order), then the
// practices and pharmacies, which need their postcodes' coordinates.
func (p *Plan) Imports(pharmacySessions []routing.Session) []directory.Import {
	var out []directory.Import
	keys := make([]string, 0, len(p.Postcodes))
	for k := range p.Postcodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for len(keys) > 0 {
		n := min(len(keys), directory.MaxImportPostcodes)
		in := directory.Import{Postcodes: make(map[string]routing.LatLon, n)}
		for _, k := range keys[:n] {
			in.Postcodes[k] = p.Postcodes[k]
		}
		out = append(out, in)
		keys = keys[n:]
	}
	practices, pharmacies := p.Practices, p.Pharmacies
	for len(practices)+len(pharmacies) > 0 {
		in := directory.Import{PharmacySessions: pharmacySessions}
		n := min(len(practices), directory.MaxImportOrgs)
		in.Practices, practices = practices[:n], practices[n:]
		m := min(len(pharmacies), directory.MaxImportOrgs-n)
		in.Pharmacies, pharmacies = pharmacies[:m], pharmacies[m:]
		out = append(out, in)
	}
	return out
}

var errStop = errors.New("stop")

func scanFile(open Opener, name string, fn func(*Postcode) error) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := ScanONSPD(f, name, fn); err != nil && !errors.Is(err, errStop) {
		return err
	}
	return nil
}

// distanceKm is the great-circle distance (haversine, mean Earth radius).
func distanceKm(a, b routing.LatLon) float64 {
	const r = 6371.0088
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dla, dlo := la2-la1, (b.Lon-a.Lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}
