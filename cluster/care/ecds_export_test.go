package care

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/triage/coding"
)

var updateECDS = flag.Bool("update-ecds", false, "rewrite testdata/ecds-export.* (then check them by hand)")

// ecdsExportLog: a walk-in with a cough awaiting the clinician (H1), NHS
// 111 referrals by Dx02 with an NHS number (D1) and Dx28 (D2), the same
// Dx28 under logic version 9 (D3: the low acuity local fallback version 9
// coded), one decided under logic version 8 (O1, uncoded), one announced that never arrived
// (E1, not an attendance) and one after the period (L1); then D1 handed
// over, D3 seen and H1 left.
func ecdsExportLog(t *testing.T) [][]byte {
	nhs111 := cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}
	age := 40
	ctx := func() *TriageContext { return &TriageContext{AgeYears: &age} }
	ref := func(lv, n int, id, dx string, p Patient, expected bool) []byte {
		p.Postcode = "DY1 1AA"
		return kindEnvAt(t, lv, KindAttendanceCreate, n, nhs111, AttendanceCreate{Complaint: "referred", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: dx}, Patient: p, Context: ctx(), Expected: expected}, id)
	}
	lv := cluster.LogicVersion
	return append(clinicianFirstLog(t, lv),
		ref(lv, 5, "D1", "Dx02", Patient{NHSNumber: "9434765919", DateOfBirth: "1986-05-01"}, false),
		ref(lv, 6, "D2", "Dx28", Patient{}, false),
		ref(9, 6, "D3", "Dx28", Patient{}, false),
		ref(8, 7, "O1", "Dx05", Patient{}, false),
		ref(lv, 8, "E1", "Dx03", Patient{}, true),
		ref(lv, 9, "L1", "Dx02", Patient{}, false),
		// Only a discharged attendance has a discharge destination: D1 is
		// handed over to the ED, D3 seen, D2 still waits (routed) and H1
		// left without being seen.
		kindEnv(t, KindAttendanceStatus, 10, testDesk, AttendanceStatusChange{AttendanceID: "D1", Status: AttendanceHandedOver}),
		kindEnv(t, KindAttendanceStatus, 10, testDesk, AttendanceStatusChange{AttendanceID: "D3", Status: AttendanceSeen}),
		kindEnv(t, KindAttendanceStatus, 11, testDesk, AttendanceStatusChange{AttendanceID: "H1", Status: AttendanceLeft}),
	)
}

// TestECDSExport: the period's attendances as CSV and as a FHIR Bundle,
// against hand-checked files (testdata/ecds-export.csv, .json).
func TestECDSExport(t *testing.T) {
	f := newTestFSM(t)
	applyAll(t, f, ecdsExportLog(t))
	lists := coding.MustDefault()
	from, to := testEpoch, testEpoch.Add(9*time.Second)
	var csvOut, fhirOut bytes.Buffer
	f.ReadState(t, func(v *cluster.View) error {
		cw, err := NewECDSCSVWriter(&csvOut)
		if err != nil {
			return err
		}
		bw, err := NewECDSBundleWriter(&fhirOut, to)
		if err != nil {
			return err
		}
		err = In(v).ECDSAttendances(from, to, func(a *Attendance) error {
			r := ECDSRecordOf(a, lists, time.UTC)
			if err := cw.Write(&r); err != nil {
				return err
			}
			return bw.Write(&r)
		})
		if err != nil {
			return err
		}
		if err := cw.Flush(); err != nil {
			return err
		}
		return bw.Close()
	})
	if !json.Valid(fhirOut.Bytes()) {
		t.Fatalf("bundle is not JSON: %s", fhirOut.Bytes())
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, fhirOut.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	for _, g := range []struct {
		file string
		got  []byte
	}{{"ecds-export.csv", csvOut.Bytes()}, {"ecds-export.json", pretty.Bytes()}} {
		path := filepath.Join("testdata", g.file)
		if *updateECDS {
			if err := os.WriteFile(path, g.got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, g.got) {
			t.Errorf("%s differs; got:\n%s", g.file, g.got)
		}
	}
}

// TestAttendancesArrivedBounds: [from, to) is half open, in arrival order.
func TestAttendancesArrivedBounds(t *testing.T) {
	f := newTestFSM(t)
	applyAll(t, f, ecdsExportLog(t))
	for _, tc := range []struct {
		from, to int
		want     string
	}{{0, 100, "H1 D1 D2 D3 O1 E1 L1 "}, {5, 6, "D1 "}, {5, 5, ""}, {6, 9, "D2 D3 O1 E1 "}, {10, 20, ""}} {
		var got string
		f.ReadState(t, func(v *cluster.View) error {
			return In(v).AttendancesArrived(testEpoch.Add(time.Duration(tc.from)*time.Second), testEpoch.Add(time.Duration(tc.to)*time.Second), func(a *Attendance) error {
				got += a.ID + " "
				return nil
			})
		})
		if got != tc.want {
			t.Errorf("[%d,%d): %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestECDSArrivalIsTheCheckIn: a patient NHS 111 announced arrives when
// reception checks them in, which may be the next day: the extract of that
// day has them, at the check-in time, and the day of the referral does not;
// one announced who was marked left without arriving is in no extract.
func TestECDSArrivalIsTheCheckIn(t *testing.T) {
	nhs111 := cluster.Actor{ID: "k-111", Name: "111", Role: access.RoleNHS111}
	age := 40
	ref := func(n int, id string) []byte {
		return kindEnv(t, KindAttendanceCreate, n, nhs111, AttendanceCreate{Complaint: "referred", Channel: ChannelNHS111,
			Dx: &DxReferral{Code: "Dx05"}, Patient: Patient{Postcode: "DY1 1AA"}, Context: &TriageContext{AgeYears: &age}, Expected: true}, id)
	}
	const day = 24 * 60 * 60
	log := clinicianFirstLog(t, cluster.LogicVersion)[:2] // protocols and directory
	log = append(log,
		ref(3, "LATE"),  // referred on day 0 ...
		ref(4, "NEVER"), // ... and one who never came
		kindEnv(t, KindAttendanceStatus, 5, testDesk, AttendanceStatusChange{AttendanceID: "NEVER", Status: AttendanceLeft}),
		kindEnv(t, KindAttendanceCheckIn, day+30, testDesk, AttendanceCheckIn{AttendanceID: "LATE"}), // ... checked in on day 1
	)
	f := newTestFSM(t)
	applyAll(t, f, log)
	extract := func(fromDay int) string {
		var got string
		from := testEpoch.Add(time.Duration(fromDay*day) * time.Second)
		f.ReadState(t, func(v *cluster.View) error {
			return In(v).ECDSAttendances(from, from.Add(day*time.Second), func(a *Attendance) error {
				r := ECDSRecordOf(a, coding.MustDefault(), time.UTC)
				got += a.ID + "@" + r.ArrivedAt.Sub(testEpoch).String() + " "
				return nil
			})
		})
		return got
	}
	if got := extract(0); got != "" {
		t.Errorf("day of the referral: %q, want nobody", got)
	}
	if got, want := extract(1), "LATE@24h0m30s "; got != want {
		t.Errorf("day of the check-in: %q, want %q", got, want)
	}
}
