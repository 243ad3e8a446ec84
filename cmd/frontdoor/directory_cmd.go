package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/nationaldata"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

// maxAreaPostcodes bounds the postcode table an import builds.
const maxAreaPostcodes = 50000

func newDirectoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "directory",
		Short: "Manage the service directory (through the admin API)",
	}
	cmd.AddCommand(newDirectoryImportCmd())
	return cmd
}

// importOptions are the flags of `frontdoor directory import`.
type importOptions struct {
	epraccur, edispensary, onspd string
	withinKm                     float64
	centre                       string
	sessions                     string
	dryRun                       bool
}

func newDirectoryImportCmd() *cobra.Command {
	kc := &keysClient{}
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import --onspd ONSPD.csv [--epraccur epraccur.csv] [--edispensary edispensary.csv]",
		Short: "Add or update the area's GP practices and pharmacies from the national ODS files",
		Long: `Add or update GP practices (ODS epraccur) and pharmacies (ODS edispensary) and
the area's postcode coordinates (ONS Postcode Directory, ONSPD) in the running
cluster's directory, so a centre does not retype its area.

The ODS files are CSV without a header, in the ODS layout (code, name,
national grouping, health geography, address lines 1-5, postcode, open date,
close date, status, ...; epraccur has 27 columns, column 26 the prescribing
setting). Only active records (status A) are imported, and from epraccur
only prescribing setting 4 (GP practices); a practice code must be a letter
and five digits (A81001), a pharmacy code F and four letters or digits
(FA123). The ONSPD file is CSV with a header row; pcds (or pcd2, pcd), lat,
long and doterm are read; terminated postcodes and those without a grid
reference (lat 99.999999) give no coordinates.

The area is every live postcode within --within-km of --centre (default: the
directory's centre postcode); practices and pharmacies outside it, or whose
postcode has no coordinates, are skipped. Every skipped record is listed with
its line and why. A file that does not fit its layout is an error naming the
line, and nothing is sent.

A practice already in the directory (same ODS code), or a pharmacy-tier
service with the pharmacy's ODS code, keeps what was set locally (catchment,
list status, hours, capacity, status, provisions); only its name, address and
postcode follow the national file. A new practice has an open list and no
catchment. A new pharmacy becomes service ph-<code> providing minor_illness,
repeat_medicine and self_care, with the hours of --pharmacy-sessions (none:
never open, so never chosen, until an admin sets its hours with
PUT /v1/services/{id}; the ODS files carry no opening hours).

Importing the same files again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := runDirectoryImport(cmd, kc, &o); err != nil {
				return fmt.Errorf("directory import: %w", err)
			}
			return nil
		},
	}
	kc.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.epraccur, "epraccur", "", "the ODS GP practices file (epraccur.csv)")
	f.StringVar(&o.edispensary, "edispensary", "", "the ODS pharmacies file (edispensary.csv)")
	f.StringVar(&o.onspd, "onspd", "", "the ONS Postcode Directory CSV (ONSPD_<release>_UK.csv)")
	f.Float64Var(&o.withinKm, "within-km", 15, "import the area within this distance of --centre (0: every postcode in the files)")
	f.StringVar(&o.centre, "centre", "", "the postcode the area is centred on (default: the directory's centre postcode)")
	f.StringVar(&o.sessions, "pharmacy-sessions", "", `weekly hours of newly imported pharmacies: "DAYS HH:MM-HH:MM SLOTS" separated by ";", e.g. "mon-fri 09:00-18:00 6; sat 09:00-13:00 4"`)
	f.BoolVar(&o.dryRun, "dry-run", false, "read and check the files and say what would be imported; send nothing")
	_ = cmd.MarkFlagRequired("onspd")
	return cmd
}

func runDirectoryImport(cmd *cobra.Command, kc *keysClient, o *importOptions) error {
	if o.epraccur == "" && o.edispensary == "" {
		return fmt.Errorf("give --epraccur, --edispensary or both")
	}
	if o.withinKm < 0 {
		return fmt.Errorf("--within-km must not be negative")
	}
	sessions, err := parseSessionsFlag(o.sessions)
	if err != nil {
		return fmt.Errorf("--pharmacy-sessions: %w", err)
	}
	out := cmd.OutOrStdout()
	var practices, pharmacies []nationaldata.Org
	var skipped []nationaldata.Skip
	for _, f := range []struct {
		path string
		kind nationaldata.FileKind
		into *[]nationaldata.Org
	}{{o.epraccur, nationaldata.Epraccur, &practices}, {o.edispensary, nationaldata.Edispensary, &pharmacies}} {
		if f.path == "" {
			continue
		}
		orgs, skips, err := readODSFile(f.path, f.kind)
		if err != nil {
			return err
		}
		*f.into = orgs
		skipped = append(skipped, skips...)
	}
	centre := o.centre
	if centre == "" && o.withinKm > 0 {
		var d struct {
			CentrePostcode string `json:"centre_postcode"`
		}
		if err := kc.call(cmd.Context(), http.MethodGet, "/v1/directory", nil, &d); err != nil {
			return fmt.Errorf("read the directory's centre postcode: %w", err)
		}
		centre = d.CentrePostcode
	}
	open := func() (io.ReadCloser, error) { return os.Open(o.onspd) }
	plan, err := nationaldata.BuildPlan(open, filepath.Base(o.onspd),
		nationaldata.Area{CentrePostcode: centre, WithinKm: o.withinKm, MaxPostcodes: maxAreaPostcodes}, practices, pharmacies, skipped)
	if err != nil {
		return err
	}
	area := "every postcode"
	if o.withinKm > 0 {
		area = fmt.Sprintf("within %g km of %s", o.withinKm, routing.NormalisePostcode(centre))
	}
	fmt.Fprintf(out, "%s: %d postcodes read, %d without coordinates (terminated or no grid reference); %d live %s\n",
		filepath.Base(o.onspd), plan.PostcodesRead, plan.PostcodesSkipped, len(plan.Postcodes), area)
	fmt.Fprintf(out, "to import: %d practices, %d pharmacies, %d postcodes; %d records skipped\n",
		len(plan.Practices), len(plan.Pharmacies), len(plan.Postcodes), len(plan.Skipped))
	for _, s := range plan.Skipped {
		fmt.Fprintf(out, "  skipped %s\n", s)
	}
	if o.dryRun {
		fmt.Fprintln(out, "dry run: nothing sent")
		return nil
	}
	imports := plan.Imports(sessions)
	var total directory.ImportResult
	for i, in := range imports {
		body, err := json.Marshal(in)
		if err != nil {
			return err
		}
		var res directory.ImportResult
		if err := kc.call(cmd.Context(), http.MethodPost, "/v1/directory/import", body, &res); err != nil {
			return fmt.Errorf("import %d of %d (the earlier ones are applied; running the same import again is safe): %w", i+1, len(imports), err)
		}
		add(&total.Postcodes, res.Postcodes)
		add(&total.Practices, res.Practices)
		add(&total.Pharmacies, res.Pharmacies)
	}
	for _, l := range []struct {
		what string
		c    directory.ImportCounts
	}{{"postcodes", total.Postcodes}, {"practices", total.Practices}, {"pharmacies", total.Pharmacies}} {
		fmt.Fprintf(out, "%-11s %d added, %d updated, %d unchanged\n", l.what+":", l.c.Added, l.c.Updated, l.c.Unchanged)
	}
	if !total.Changed() {
		fmt.Fprintln(out, "the directory already had all of it: nothing changed")
	}
	return nil
}

func add(into *directory.ImportCounts, c directory.ImportCounts) {
	into.Added += c.Added
	into.Updated += c.Updated
	into.Unchanged += c.Unchanged
}

func readODSFile(path string, kind nationaldata.FileKind) ([]nationaldata.Org, []nationaldata.Skip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return nationaldata.ReadODS(f, filepath.Base(path), kind)
}

// parseSessionsFlag reads "mon-fri 09:00-18:00 6; sat 09:00-13:00 4".
func parseSessionsFlag(s string) ([]routing.Session, error) {
	var out []routing.Session
	for _, part := range strings.Split(s, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%q: want DAYS HH:MM-HH:MM SLOTS", strings.TrimSpace(part))
		}
		start, end, ok := strings.Cut(f[1], "-")
		slots, err := strconv.Atoi(f[2])
		if !ok || err != nil || slots <= 0 {
			return nil, fmt.Errorf("%q: want DAYS HH:MM-HH:MM SLOTS (slots a positive number)", strings.TrimSpace(part))
		}
		out = append(out, routing.Session{Days: f[0], Start: start, End: end, Slots: slots})
	}
	// The hours are checked as routing reads them before anything is sent.
	probe := routing.Directory{Name: "check", CentrePostcode: "AA1 1AA",
		Postcodes: map[string]routing.LatLon{"AA1 1AA": {Lat: 52, Lon: -2}},
		Services: []routing.Service{{ID: "ed", Name: "ed", Tier: routing.TierED, Postcode: "AA1 1AA", AlwaysOpen: true},
			{ID: "ph", Name: "ph", Tier: routing.TierPharmacy, Postcode: "AA1 1AA", Sessions: out, Capacity: routing.Capacity{Kind: routing.CapacitySlots}}}}
	if err := probe.ValidateStructure(); err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return out, nil
}
