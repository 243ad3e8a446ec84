package nationaldata

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
)

func readODS(t *testing.T, file string, kind FileKind) ([]Org, []Skip, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadODS(f, file, kind)
}

func opener(file string) Opener {
	return func() (io.ReadCloser, error) { return os.Open(filepath.Join("testdata", file)) }
}

// TestBuildPlanFromSyntheticFiles: the synthetic epraccur, edispensary
// and ONSPD files give the area's active practices and pharmacies, and
// every other record is skipped with its line and reason.
func TestBuildPlanFromSyntheticFiles(t *testing.T) {
	practices, skP, err := readODS(t, "epraccur.csv", Epraccur)
	if err != nil {
		t.Fatal(err)
	}
	pharmacies, skF, err := readODS(t, "edispensary.csv", Edispensary)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := BuildPlan(opener("onspd.csv"), "onspd.csv", Area{CentrePostcode: "dy11aa", WithinKm: 20},
		practices, pharmacies, append(skP, skF...))
	if err != nil {
		t.Fatal(err)
	}
	if got := orgCodes(plan.Practices); got != "Y12345 Y12346 X99001 Y12354" {
		t.Errorf("practices %s", got)
	}
	if got := orgCodes(plan.Pharmacies); got != "FQ001 FQ002 FX001 FQ008 FQ009" {
		t.Errorf("pharmacies %s", got)
	}
	if plan.PostcodesRead != 15 || plan.PostcodesSkipped != 3 || len(plan.Postcodes) != 11 {
		t.Errorf("postcodes read %d, skipped %d, kept %d", plan.PostcodesRead, plan.PostcodesSkipped, len(plan.Postcodes))
	}
	if _, ok := plan.Postcodes["WR1 1AA"]; ok {
		t.Error("WR1 1AA is 36 km away but kept")
	}
	if ll := plan.Postcodes["DY8 1AB"]; ll.Lat != 52.4555 || ll.Lon != -2.1495 {
		t.Errorf("DY8 1AB at %v", ll)
	}
	want := []string{
		"edispensary.csv:3 FQ003: postcode DY8 4ZZ has no grid reference in the ONS Postcode Directory",
		"edispensary.csv:4 FQ004: closed (status C)",
		"edispensary.csv:5 FQ005: dormant (status D)",
		"edispensary.csv:6 FQ006: postcode DY8 6AA was terminated (202001)",
		"edispensary.csv:7 AB123: not imported: a pharmacy code is F and four letters or digits",
		"edispensary.csv:8 F12: not imported: a pharmacy code is F and four letters or digits",
		"edispensary.csv:10 FQ007: outside the area: 36.0 km from DY1 1AA (--within-km 20)",
		"epraccur.csv:3 Y12347: postcode DY8 3AA was terminated (201907)",
		"epraccur.csv:4 Y12350: closed (status C)",
		"epraccur.csv:5 Y12351: dormant (status D)",
		"epraccur.csv:6 Y12352: proposed (status P)",
		`epraccur.csv:7 Y12353: prescribing setting "12" is not 4 (GP practice)`,
		"epraccur.csv:8 YY1234: not imported: a GP practice code is a letter and five digits",
		"epraccur.csv:9 Y12348: outside the area: 36.0 km from DY1 1AA (--within-km 20)",
		"epraccur.csv:10 Y12349: postcode DY8 9ZZ is not in the ONS Postcode Directory",
	}
	var got []string
	for _, s := range plan.Skipped {
		got = append(got, s.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The payloads: postcodes first, then the organisations.
	ins := plan.Imports(nil)
	if len(ins) != 2 || len(ins[0].Postcodes) != 11 || len(ins[0].Practices) != 0 || len(ins[1].Practices) != 4 || len(ins[1].Pharmacies) != 5 {
		t.Fatalf("imports %+v", ins)
	}
	for i := range ins {
		if f := ins[i].Validate(); f != nil {
			t.Errorf("import %d not valid: %v", i, f)
		}
	}
}

// TestBadFilesNameTheLine: a file that does not fit its layout is an
// error naming the file and line.
func TestBadFilesNameTheLine(t *testing.T) {
	tests := []struct {
		name, file string
		kind       FileKind
		onspd      bool
		want       string
	}{
		{"too few columns", "epraccur_bad_columns.csv", Epraccur, false, "epraccur_bad_columns.csv:5: 20 columns, an epraccur record has 27"},
		{"coordinates not numbers", "onspd_bad_lat.csv", 0, true, `onspd_bad_lat.csv:7: lat "fifty-two", long "-2.151000": not numbers`},
		{"not an ONSPD file", "epraccur.csv", 0, true, "epraccur.csv:1: the header row has no column pcds (or pcd2, pcd), lat, long, doterm: not an ONSPD file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.onspd {
				_, err = BuildPlan(opener(tt.file), tt.file, Area{}, nil, nil, nil)
			} else {
				_, _, err = readODS(t, tt.file, tt.kind)
			}
			var le *LineError
			if !errors.As(err, &le) || err.Error() != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func orgCodes(list []directory.ImportedOrg) string {
	var c []string
	for _, o := range list {
		c = append(c, o.ODSCode)
	}
	return strings.Join(c, " ")
}

// TestSpreadsheetFiles: a file saved from a spreadsheet starts with a
// UTF-8 byte order mark, which is dropped (the same records as without
// it); an empty ODS file is an error, not an area with no practices; a
// quoting error is an error naming its line, never a panic; a record the
// cluster's input limits would refuse is an error naming its line.
func TestSpreadsheetFiles(t *testing.T) {
	raw, err := os.ReadFile("testdata/epraccur.csv")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := ReadODS(bytes.NewReader(raw), "epraccur.csv", Epraccur)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := ReadODS(bytes.NewReader(append([]byte("\ufeff"), raw...)), "epraccur.csv", Epraccur)
	if err != nil || len(got) != len(want) || got[0].ODSCode != want[0].ODSCode {
		t.Fatalf("with a byte order mark: %v, %d records (want %d)", err, len(got), len(want))
	}
	for _, tt := range []struct{ name, body, want string }{
		{"empty", "", "x.csv:1: empty file"},
		{"a bare quote", "\"Y12345\",\"NAME\"x,\n", "x.csv:1:"},
	} {
		_, _, err := ReadODS(strings.NewReader(tt.body), "x.csv", Epraccur)
		var le *LineError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error starting %q", tt.name, err, tt.want)
		}
	}
	// A name the cluster would refuse is refused here, naming the line.
	first := strings.SplitN(string(raw), "\n", 2)[0]
	name := strings.Split(first, ",")[1]
	for _, tt := range []struct{ name, repl, want string }{
		{"a name of 300 bytes", `"` + strings.Repeat("A", 300) + `"`, "epraccur.csv:1: column 2 (name)"},
		{"a control character", "\"ST\u0001OURTON\"", "epraccur.csv:1: column 2 (name)"},
		{"a direction override", "\"ST\u202eOURTON\"", "epraccur.csv:1: column 2 (name)"},
		{"not UTF-8", "\"ST\xffOURTON\"", "epraccur.csv:1: column 2 (name) is not UTF-8"},
	} {
		body := strings.Replace(first, name, tt.repl, 1) + "\n"
		_, _, err := ReadODS(strings.NewReader(body), "epraccur.csv", Epraccur)
		var le *LineError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error starting %q", tt.name, err, tt.want)
		}
	}
}
