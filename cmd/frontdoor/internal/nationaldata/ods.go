// Package nationaldata reads the national reference files a centre's
// directory is built from: the ODS organisation files epraccur (GP
// practices) and edispensary (pharmacies), and the ONS Postcode Directory
// (ONSPD) for coordinates. It is pure file parsing: what to send and how
// is `frontdoor directory import`'s job, what to accept the replicated
// command's (cluster/directory, directory.import).
package nationaldata

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/inputlimit"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// FileKind is which ODS file a reader expects.
type FileKind int

// The ODS files read.
const (
	// Epraccur is the GP practices file: 27 columns, no header.
	Epraccur FileKind = iota
	// Edispensary is the dispensing contractors (pharmacies) file, the
	// same general ODS layout (at least 13 columns), no header.
	Edispensary
)

func (k FileKind) String() string {
	if k == Epraccur {
		return "epraccur"
	}
	return "edispensary"
}

// Columns of the ODS layout (0-based; the ODS documentation counts from 1).
const (
	colCode        = 0
	colName        = 1
	colAddress1    = 4 // address lines 1-5: columns 5-9
	colPostcode    = 9
	colStatus      = 12
	colPrescribing = 25 // epraccur: prescribing setting, 4 = GP practice
	epraccurCols   = 27
	minODSCols     = 13
)

// Status codes of the ODS files.
var statusWords = map[string]string{"A": "active", "C": "closed", "D": "dormant", "P": "proposed"}

// Org is one active organisation read from an ODS file.
type Org struct {
	File string
	Line int
	directory.ImportedOrg
}

// Skip is a record not imported, and why.
type Skip struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Code   string `json:"ods_code"`
	Reason string `json:"reason"`
}

func (s Skip) String() string {
	return fmt.Sprintf("%s:%d %s: %s", s.File, s.Line, s.Code, s.Reason)
}

// LineError is a file that cannot be read as its layout: nothing from it
// is imported.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

var odsCodeShape = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)

// ReadODS reads an epraccur or edispensary file (CSV, no header) named
// name. It returns the active organisations (and, for epraccur, only
// prescribing setting 4: GP practices) whose ODS code has the shape of
// their kind, and every other record with the reason it was skipped. A
// record the layout cannot hold (too few columns, an unknown status, no
// name or postcode) is a *LineError.
func ReadODS(r io.Reader, name string, kind FileKind) ([]Org, []Skip, error) {
	cr := csv.NewReader(skipBOM(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	codeRule, shape := directory.PracticeCodePattern, "a GP practice code is a letter and five digits"
	if kind == Edispensary {
		codeRule, shape = directory.PharmacyCodePattern, "a pharmacy code is F and four letters or digits"
	}
	var orgs []Org
	var skips []Skip
	seen := map[string]int{}
	records := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, &LineError{File: name, Line: pe.StartLine, Err: pe.Err}
			}
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		records++
		line, _ := cr.FieldPos(0)
		bad := func(format string, a ...any) error {
			return &LineError{File: name, Line: line, Err: fmt.Errorf(format, a...)}
		}
		switch {
		case kind == Epraccur && len(rec) != epraccurCols:
			return nil, nil, bad("%d columns, an epraccur record has %d", len(rec), epraccurCols)
		case len(rec) < minODSCols:
			return nil, nil, bad("%d columns, an ODS record has at least %d", len(rec), minODSCols)
		}
		code := strings.ToUpper(strings.TrimSpace(rec[colCode]))
		if !odsCodeShape.MatchString(code) {
			return nil, nil, bad("column 1 (organisation code) %q is not an ODS code", rec[colCode])
		}
		status := strings.ToUpper(strings.TrimSpace(rec[colStatus]))
		word, ok := statusWords[status]
		if !ok {
			return nil, nil, bad("column 13 (status code) %q is not A, C, D or P", rec[colStatus])
		}
		orgName := strings.TrimSpace(rec[colName])
		if orgName == "" {
			return nil, nil, bad("column 2 (name) is empty")
		}
		skip := func(format string, a ...any) {
			skips = append(skips, Skip{File: name, Line: line, Code: code, Reason: fmt.Sprintf(format, a...)})
		}
		if first, dup := seen[code]; dup {
			return nil, nil, bad("%s is listed again (first on line %d)", code, first)
		}
		seen[code] = line
		switch {
		case status != "A":
			skip("%s (status %s)", word, status)
			continue
		case !codeRule.MatchString(code):
			skip("not imported: %s", shape)
			continue
		}
		if kind == Epraccur {
			if setting := strings.TrimSpace(rec[colPrescribing]); setting != "4" {
				skip("prescribing setting %q is not 4 (GP practice)", setting)
				continue
			}
		}
		pc := strings.TrimSpace(rec[colPostcode])
		if pc == "" {
			return nil, nil, bad("column 10 (postcode) is empty")
		}
		var lines []string
		for _, l := range rec[colAddress1 : colAddress1+5] {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		org := directory.ImportedOrg{ODSCode: code, Name: orgName, Address: strings.Join(lines, ", "), Postcode: routing.NormalisePostcode(pc)}
		if err := withinLimits(&org); err != nil {
			return nil, nil, bad("%v", err)
		}
		orgs = append(orgs, Org{File: name, Line: line, ImportedOrg: org})
	}
	if records == 0 {
		// A truncated download must not pass for an area with nothing in it.
		return nil, nil, &LineError{File: name, Line: 1, Err: errors.New("empty file: no records")}
	}
	return orgs, skips, nil
}

// withinLimits holds a record to the input limits the cluster holds every
// import to (cluster/inputlimit), so a record it would refuse is an error
// naming its line here, before anything is sent.
func withinLimits(org *directory.ImportedOrg) error {
	for _, f := range []struct{ col, v string }{{"column 2 (name)", org.Name}, {"columns 5-9 (address)", org.Address}, {"column 10 (postcode)", org.Postcode}} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s is not UTF-8 text (save the file as UTF-8)", f.col)
		}
	}
	b, err := json.Marshal(org)
	if err != nil {
		return err
	}
	cols := map[string]string{"name": "column 2 (name)", "address": "columns 5-9 (address)", "postcode": "column 10 (postcode)"}
	for field, why := range inputlimit.Check(b, time.Now()) {
		if c, ok := cols[field]; ok {
			field = c
		}
		return fmt.Errorf("%s: %s", field, why)
	}
	return nil
}

// skipBOM drops a UTF-8 byte order mark at the start of r (a file saved
// from a spreadsheet), which would otherwise be read as part of the first
// field.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	return br
}
