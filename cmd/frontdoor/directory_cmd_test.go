package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/routing"
)

const nationalData = "internal/nationaldata/testdata/"

// stateDirectory is the directory in n's replicated state.
func stateDirectory(t *testing.T, n *nodetest.Node) *routing.Directory {
	t.Helper()
	var d *routing.Directory
	if err := n.N.Store().Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
		var err error
		d, err = directory.In(v).Directory()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirectoryImport drives `frontdoor directory import` against a
// one-node cluster with the synthetic epraccur, edispensary and ONSPD
// files: the area's active practices and pharmacies enter the directory
// with their postcodes' coordinates, a patient is then routed to the
// nearest imported pharmacy and allocated the nearest imported practice,
// a second import changes nothing, and a bad file is an error naming its
// line that sends nothing.
func TestDirectoryImport(t *testing.T) {
	tc := nodetest.New(t, 1)
	n := tc.Nodes[0]
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(append([]string{"directory", "import"}, args...), "--addr", n.HTTPAddr, "--data-dir", n.Dir))
		err := cmd.Execute()
		return out.String(), err
	}
	files := []string{"--epraccur", nationalData + "epraccur.csv", "--edispensary", nationalData + "edispensary.csv",
		"--onspd", nationalData + "onspd.csv", "--pharmacy-sessions", "daily 08:00-20:00 6"}
	before := stateDirectory(t, n)
	demoPostcodes := len(before.Postcodes)

	// Bad input first: an error naming the line (or the flag), nothing sent.
	idx := n.N.Store().Status().LastIndex
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"short epraccur record", []string{"--epraccur", nationalData + "epraccur_bad_columns.csv", "--onspd", nationalData + "onspd.csv"},
			"epraccur_bad_columns.csv:5: 20 columns, an epraccur record has 27"},
		{"ONSPD coordinates not numbers", []string{"--epraccur", nationalData + "epraccur.csv", "--onspd", nationalData + "onspd_bad_lat.csv"},
			`onspd_bad_lat.csv:7: lat "fifty-two"`},
		{"ODS file given as ONSPD", []string{"--epraccur", nationalData + "epraccur.csv", "--onspd", nationalData + "edispensary.csv"},
			"edispensary.csv:1: the header row has no column"},
		{"bad pharmacy hours", append(append([]string{}, files...), "--pharmacy-sessions", "mon-fri 09:00-25:00 6"), "--pharmacy-sessions"},
		{"no ODS file", []string{"--onspd", nationalData + "onspd.csv"}, "give --epraccur, --edispensary or both"},
		{"centre not in ONSPD", append(append([]string{}, files...), "--centre", "B1 1AA"), `the centre's postcode "B1 1AA" is not in onspd.csv`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q\n%s", err, tt.want, out)
			}
		})
	}
	if out, err := run(append(append([]string{}, files...), "--dry-run")...); err != nil ||
		!strings.Contains(out, "to import: 4 practices, 5 pharmacies, 11 postcodes") || !strings.Contains(out, "dry run: nothing sent") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if after := n.N.Store().Status().LastIndex; after != idx {
		t.Fatalf("refused imports and a dry run moved the raft index %d -> %d", idx, after)
	}

	out, err := run(files...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("first import:\n%s", out)
	for _, want := range []string{
		"onspd.csv: 15 postcodes read, 3 without coordinates (terminated or no grid reference); 11 live within 15 km of DY1 1AA",
		"to import: 4 practices, 5 pharmacies, 11 postcodes; 15 records skipped",
		"skipped epraccur.csv:4 Y12350: closed (status C)",
		"skipped edispensary.csv:3 FQ003: postcode DY8 4ZZ has no grid reference",
		"skipped edispensary.csv:6 FQ006: postcode DY8 6AA was terminated (202001)",
		"skipped epraccur.csv:8 YY1234: not imported: a GP practice code is a letter and five digits",
		"postcodes:  8 added, 0 updated, 3 unchanged", // DY1 1AA, 1AB, 1AE: the demo's own coordinates
		"practices:  3 added, 1 updated, 0 unchanged",
		"pharmacies: 4 added, 1 updated, 0 unchanged",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	d := stateDirectory(t, n)
	if len(d.Postcodes) != demoPostcodes+8 {
		t.Errorf("postcode table %d, want %d", len(d.Postcodes), demoPostcodes+8)
	}
	practice := map[string]routing.Practice{}
	for _, p := range d.Practices {
		practice[p.ODSCode] = p
	}
	if p := practice["Y12345"]; p.Name != "STOURTON MEDICAL PRACTICE" || p.Postcode != "DY8 1AD" || !p.ListOpen ||
		p.Address != "1 BRIDGE STREET, STOURTON, STOURBRIDGE, WEST MIDLANDS" {
		t.Errorf("imported practice %+v", p)
	}
	for _, code := range []string{"Y12347", "Y12350", "Y12351", "Y12352", "Y12353", "YY1234", "Y12348", "Y12349"} {
		if _, ok := practice[code]; ok {
			t.Errorf("skipped practice %s is in the directory", code)
		}
	}
	// An existing practice takes the national name and address and keeps
	// its catchment.
	if p := practice["X99001"]; p.Name != "CASTLEGATE MEDICAL PRACTICE" || len(p.Catchment) != 1 || p.Catchment[0] != "DY1" {
		t.Errorf("updated practice %+v", p)
	}
	services := map[string]routing.Service{}
	for _, s := range d.Services {
		services[s.ID] = s
	}
	if s := services["ph-fq001"]; s.Tier != routing.TierPharmacy || s.ODSCode != "FQ001" || len(s.Sessions) != 1 || s.Sessions[0].Slots != 6 {
		t.Errorf("imported pharmacy %+v", s)
	}
	if _, ok := services["ph-fq004"]; ok {
		t.Error("the closed pharmacy FQ004 was imported")
	}
	if s := services["ph-high-street"]; s.Name != "HIGH STREET PHARMACY" || len(s.Provides) != 11 || s.Sessions[0].Days != "mon-sat" {
		t.Errorf("an existing pharmacy must keep its hours and provisions: %+v", s)
	}

	// Routing by distance over the imported data: a patient at DY8 1AB
	// (60 m from FQ001, 3 km and more from the demo's pharmacies).
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		name     string
		need     routing.Need
		postcode string
		want     string
		maxM     int
	}{
		{"minor illness near FQ001", routing.Need{MinTier: routing.TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"minor_illness"}}, "DY8 1AB", "ph-fq001", 200},
		{"repeat medicine near FQ009", routing.Need{MinTier: routing.TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"repeat_medicine"}}, "DY9 7AA", "ph-fq009", 50},
		{"the demo centre keeps its own pharmacy", routing.Need{MinTier: routing.TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"minor_illness"}}, "DY1 1AB", "ph-high-street", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := routing.Route(tt.need, routing.PatientAged(40, "female", tt.postcode), now, d, &routing.Load{})
			if err != nil {
				t.Fatal(err)
			}
			if dec.ServiceID != tt.want || dec.DistanceM > tt.maxM {
				t.Fatalf("routed to %s at %d m, want %s within %d m", dec.ServiceID, dec.DistanceM, tt.want, tt.maxM)
			}
		})
	}
	alloc, err := routing.Allocate(routing.RegistrationRequest{Postcode: "DY8 1AB"}, d)
	if err != nil {
		t.Fatal(err)
	}
	if alloc.ODSCode != "Y12345" || alloc.DistanceM > 200 {
		t.Fatalf("registration allocated %s at %d m, want Y12345 (nearest)", alloc.ODSCode, alloc.DistanceM)
	}

	// The same files again: nothing changes.
	snapshot := func() string {
		b, err := json.Marshal(stateDirectory(t, n))
		if err != nil {
			t.Fatal(err)
		}
		var h *directory.DirectoryHeader
		if err := n.N.Store().Read(context.Background(), cluster.ConsistencyStale, func(v *cluster.View) error {
			var err error
			h, err = directory.In(v).DirectoryHeader()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %s", h.UpdatedIndex, b)
	}
	h1 := snapshot()
	out, err = run(files...)
	if err != nil {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	for _, want := range []string{"postcodes:  0 added, 0 updated, 11 unchanged", "practices:  0 added, 0 updated, 4 unchanged",
		"pharmacies: 0 added, 0 updated, 5 unchanged", "nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("second import output lacks %q:\n%s", want, out)
		}
	}
	if h2 := snapshot(); h2 != h1 {
		t.Errorf("a repeated import changed the directory")
	}
	resp, b := tc.Do(t, n, http.MethodGet, "/v1/audit?entity="+directory.ImportAuditEntity, "", nodetest.BearerHeader(tc.Key(t, "clinician", "Auditor")))
	if resp.StatusCode != http.StatusOK || strings.Count(string(b), `"action":"directory.import"`) != 2 {
		t.Errorf("want two directory.import audit events (postcodes, organisations) of the first import only: %s", b)
	}
}

// TestDirectoryImportThroughAFollower: the import's batches (postcodes
// first, then the practices at them) sent to a follower are checked on the
// leader's state, so practices at postcodes the first batch added are
// taken at once, and every member ends with them.
func TestDirectoryImportThroughAFollower(t *testing.T) {
	tc := nodetest.New(t, 3)
	fol := tc.Follower(t)
	out, err := runCmd(t, "directory", "import", "--epraccur", nationalData+"epraccur.csv", "--edispensary", nationalData+"edispensary.csv",
		"--onspd", nationalData+"onspd.csv", "--pharmacy-sessions", "daily 08:00-20:00 6", "--addr", fol.HTTPAddr, "--key", tc.AdminKey)
	if err != nil || !strings.Contains(out, "practices:  3 added") {
		t.Fatalf("import through a follower: %v\n%s", err, out)
	}
	for _, n := range tc.Nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			found := false
			for _, p := range stateDirectory(t, n).Practices {
				found = found || p.ODSCode == "Y12345"
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has not the imported practice Y12345", n.ID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
