package nationaldata

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/frontdoor-ucc/frontdoor/routing"
)

// NoGridLat is the latitude ONSPD gives a postcode without a grid
// reference (its longitude is then 0).
const NoGridLat = 99.999999

// Postcode is one record of the ONS Postcode Directory.
type Postcode struct {
	Line       int
	Postcode   string // normalised ("DY1 1AA")
	At         routing.LatLon
	Terminated string // doterm (YYYYMM), "" while the postcode is live
	NoGrid     bool   // no grid reference: no coordinates
}

// Usable reports whether the postcode is live and has coordinates.
func (p *Postcode) Usable() bool { return p.Terminated == "" && !p.NoGrid }

// Why says why an unusable postcode gives no coordinates.
func (p *Postcode) Why() string {
	switch {
	case p.Terminated != "":
		return "postcode " + p.Postcode + " was terminated (" + p.Terminated + ")"
	case p.NoGrid:
		return "postcode " + p.Postcode + " has no grid reference in the ONS Postcode Directory"
	}
	return ""
}

// ScanONSPD reads an ONSPD CSV file (a header row naming its columns;
// pcds, pcd2 or pcd for the postcode, lat, long and doterm are used) and
// calls fn with each record, in file order. A file without those columns,
// or a record whose coordinates are not numbers, is a *LineError.
func ScanONSPD(r io.Reader, name string, fn func(*Postcode) error) error {
	cr := csv.NewReader(skipBOM(r))
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &LineError{File: name, Line: 1, Err: errors.New("empty file: an ONSPD file starts with a header row")}
		}
		return onspdReadError(name, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	pcCol := -1
	for _, c := range []string{"pcds", "pcd2", "pcd"} {
		if i, ok := col[c]; ok {
			pcCol = i
			break
		}
	}
	var missing []string
	if pcCol < 0 {
		missing = append(missing, "pcds (or pcd2, pcd)")
	}
	for _, c := range []string{"lat", "long", "doterm"} {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return &LineError{File: name, Line: 1, Err: fmt.Errorf("the header row has no column %s: not an ONSPD file", strings.Join(missing, ", "))}
	}
	latCol, lonCol, termCol := col["lat"], col["long"], col["doterm"]
	var p Postcode
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return onspdReadError(name, err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(format string, a ...any) error {
			return &LineError{File: name, Line: line, Err: fmt.Errorf(format, a...)}
		}
		pc := routing.NormalisePostcode(rec[pcCol])
		if pc == "" {
			return bad("no postcode")
		}
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(rec[latCol]), 64)
		lon, err2 := strconv.ParseFloat(strings.TrimSpace(rec[lonCol]), 64)
		if err1 != nil || err2 != nil {
			return bad("lat %q, long %q: not numbers", rec[latCol], rec[lonCol])
		}
		p = Postcode{Line: line, Postcode: pc, At: routing.LatLon{Lat: lat, Lon: lon},
			Terminated: strings.TrimSpace(rec[termCol]), NoGrid: lat >= NoGridLat-1e-6}
		if !p.NoGrid && (lat < -90 || lat > 90 || lon < -180 || lon > 180) {
			return bad("lat %v, long %v: not coordinates", lat, lon)
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
}

func onspdReadError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{File: name, Line: pe.StartLine, Err: pe.Err}
	}
	return fmt.Errorf("read %s: %w", name, err)
}
