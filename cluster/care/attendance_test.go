package care

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/hashicorp/raft"
)

func TestInvalidCommandSameErrorEverywhereNoChange(t *testing.T) {
	cases := []struct {
		name, body, field string
	}{
		{"nhs number fails modulus 11", `{"patient":{"nhs_number":"9434765918"},"complaint":"cough"}`, "patient.nhs_number"},
		{"all zero nhs number", `{"patient":{"nhs_number":"0000000000"},"complaint":"cough"}`, "patient.nhs_number"},
		{"repeated digit nhs number", `{"patient":{"nhs_number":"1111111111"},"complaint":"cough"}`, "patient.nhs_number"},
		{"missing complaint", `{"patient":{}}`, "complaint"},
		{"bad date of birth", `{"patient":{"date_of_birth":"1990-02-30"},"complaint":"x"}`, "patient.date_of_birth"},
		{"unknown channel", `{"complaint":"x","channel":"carrier_pigeon"}`, "channel"},
		{"unknown field", `{"complaint":"x","colour":"blue"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := testLog(t, 3)
			bad := cmdLog(4, testEnv(t, 99, tc.body, nil))
			var results []*cluster.Result
			var hashes []string
			for i := 0; i < 2; i++ {
				f := newTestFSM(t)
				applyInBatches(f, base, 3)
				before := dataHash(t, f)
				res := f.ApplyBatch([]*raft.Log{bad})
				r := res[0].([]*cluster.Result)[0]
				if r.Err == nil {
					t.Fatalf("want a command error, got %+v", r)
				}
				if tc.field != "" && r.Err.Fields[tc.field] == "" {
					t.Fatalf("error %v lacks field %s", r.Err, tc.field)
				}
				if after := dataHash(t, f); after != before {
					t.Fatal("an invalid command changed state")
				}
				if f.AppliedIndex() != 4 || f.FatalCount() != 0 {
					t.Fatalf("applied %d, fatals %d", f.AppliedIndex(), f.FatalCount())
				}
				results = append(results, r)
				h, _ := mustHash(t, f)
				hashes = append(hashes, h)
			}
			if !reflect.DeepEqual(results[0], results[1]) || hashes[0] != hashes[1] {
				t.Fatalf("nodes disagree: %+v vs %+v", results[0].Err, results[1].Err)
			}
		})
	}
}

func TestAttendancesListedByArrival(t *testing.T) {
	f := newTestFSM(t)
	applyInBatches(f, testLog(t, 12), 5)

	f.ReadState(t, func(v *cluster.View) error {
		all, err := In(v).Attendances(AttendanceQuery{Status: AttendanceArrived})
		if err != nil {
			return err
		}
		if len(all) != 30 {
			t.Fatalf("%d attendances, want 30", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].ArrivedAt.Before(all[i-1].ArrivedAt) {
				t.Fatalf("not in arrival order at %d", i)
			}
		}
		first, err := In(v).Attendances(AttendanceQuery{Limit: 3})
		if err != nil {
			return err
		}
		if len(first) != 3 || first[0].ID != all[0].ID || first[2].ID != all[2].ID {
			t.Fatalf("limit 3 gave %d", len(first))
		}
		none, err := In(v).Attendances(AttendanceQuery{Status: "triaged"})
		if err != nil || len(none) != 0 {
			t.Fatalf("status filter: %d, %v", len(none), err)
		}
		audit, err := v.Audit("attendance/" + all[0].ID)
		if err != nil || len(audit) != 1 || audit[0].Kind != KindAttendanceCreate || !audit[0].Time.Equal(all[0].ArrivedAt) {
			t.Fatalf("audit %+v %v", audit, err)
		}
		return nil
	})
}

// TestNHSNumberStoredAsTenDigits: however the number is typed (3-3-4, with
// hyphens), the record holds the ten digits, so later lookups match.
func TestNHSNumberStoredAsTenDigits(t *testing.T) {
	f := newTestFSM(t)
	for i, typed := range []string{"943 476 5919", "943-476-5919", " 9434765919 "} {
		body := fmt.Sprintf(`{"patient":{"nhs_number":%q},"complaint":"cough"}`, typed)
		f.ApplyBatch([]*raft.Log{cmdLog(uint64(i+1), testEnv(t, i, body, nil))})
	}

	f.ReadState(t, func(v *cluster.View) error {
		all, err := In(v).Attendances(AttendanceQuery{})
		if err != nil {
			return err
		}
		if len(all) != 3 {
			t.Fatalf("%d attendances, want 3", len(all))
		}
		for _, a := range all {
			if a.Patient.NHSNumber != "9434765919" {
				t.Errorf("stored NHS number %q, want 9434765919", a.Patient.NHSNumber)
			}
		}
		return nil
	})
}
