package routing

import (
	"errors"
	"testing"
	"time"
)

func TestAllocate(t *testing.T) {
	d := demo(t)
	tests := []struct {
		name    string
		req     RegistrationRequest
		want    string
		typ     string
		err     error
		rejects map[string]string // ods -> code
	}{
		{"in catchment DY4", RegistrationRequest{Postcode: "DY4 1AC"}, "X99004", RegistrationPermanent, nil,
			map[string]string{"X99011": PracticeFurther, "X99001": PracticeOutsideCatchment}},
		{"sector catchment DY1 2", RegistrationRequest{Postcode: "dy1 2ab"}, "", RegistrationPermanent, nil,
			map[string]string{"X99007": PracticeListClosed, "X99004": PracticeOutsideCatchment}},
		{"out of catchment", RegistrationRequest{Postcode: "B1 1AA"}, "", RegistrationPermanent, ErrNoPractice,
			map[string]string{"X99001": PracticeOutsideCatchment, "X99007": PracticeOutsideCatchment}},
		{"temporary resident", RegistrationRequest{Postcode: "DY6 1AC", StayDays: 30}, "X99006", RegistrationTemporary, nil, nil},
		{"no fixed abode", RegistrationRequest{NoFixedAbode: true}, "X99008", RegistrationPermanent, nil, nil},
		{"no proof of address", RegistrationRequest{Postcode: "B1 1AA", NoProofOfAddress: true}, "X99008", RegistrationPermanent, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Allocate(tt.req, d)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.want != "" && got.ODSCode != tt.want {
				t.Errorf("allocated %s, want %s (%+v)", got.ODSCode, tt.want, got.Rejections)
			}
			if err == nil && got.Type != tt.typ {
				t.Errorf("type %s, want %s", got.Type, tt.typ)
			}
			codes := map[string]string{}
			for _, r := range got.Rejections {
				if _, dup := codes[r.ODSCode]; dup || r.Reason == "" {
					t.Errorf("bad rejection %+v", r)
				}
				codes[r.ODSCode] = r.Code
			}
			if err == nil && len(got.Rejections) != len(d.Practices)-1 {
				t.Errorf("%d rejections for %d practices", len(got.Rejections), len(d.Practices))
			}
			for ods, code := range tt.rejects {
				if codes[ods] != code {
					t.Errorf("%s: code %q, want %q", ods, codes[ods], code)
				}
			}
		})
	}
	// a sector catchment ("DY1 2") counts: Kingsbury covers DY1 2xx
	got0, err := Allocate(RegistrationRequest{Postcode: "DY1 2AB"}, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got0.Rejections {
		if r.ODSCode == "X99003" && r.Code == PracticeOutsideCatchment {
			t.Errorf("sector catchment ignored: %+v", r)
		}
	}
	// the closed list is never chosen even when nearest
	got, err := Allocate(RegistrationRequest{Postcode: "DY1 2AA"}, d)
	if err != nil || got.ODSCode == "X99007" {
		t.Errorf("closed list practice chosen: %+v %v", got, err)
	}
}

func TestRegistrationTransitions(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := Registration{ID: "reg-1", ODSCode: "X99001", State: RegProposed, Type: RegistrationPermanent}
	if _, err := Transition(r, RegSent, at, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("sent without consent: %v", err)
	}
	r.Consent = Consent{Given: true, At: at, Recorded: "reception"}
	tests := []struct {
		from, to, reason string
		ok               bool
	}{
		{RegProposed, RegSent, "", true},
		{RegProposed, RegAccepted, "", false},
		{RegProposed, RegRefused, "no", false},
		{RegSent, RegAccepted, "", true},
		{RegSent, RegRefused, "outside catchment", true},
		{RegSent, RegRefused, "", false},
		{RegAccepted, RegRefused, "x", false},
		{RegRefused, RegSent, "", false},
		{RegSent, RegProposed, "", false},
	}
	for _, tt := range tests {
		in := r
		in.State = tt.from
		out, err := Transition(in, tt.to, at, tt.reason)
		if (err == nil) != tt.ok {
			t.Errorf("%s -> %s: err %v, want ok=%v", tt.from, tt.to, err, tt.ok)
			continue
		}
		if tt.ok && (out.State != tt.to || len(out.History) != 1 || out.History[0].State != tt.to) {
			t.Errorf("%s -> %s: %+v", tt.from, tt.to, out)
		}
		if !tt.ok && (out.State != tt.from || !errors.Is(err, ErrIllegalTransition)) {
			t.Errorf("%s -> %s changed state on error: %+v %v", tt.from, tt.to, out, err)
		}
	}
}

func TestMatch(t *testing.T) {
	records := []Person{
		{ID: "p1", GivenName: "Margaret", FamilyName: "Oakley", DateOfBirth: "1942-03-07", Postcode: "DY1 1AC"},
		{ID: "p2", GivenName: "Margaret", FamilyName: "Oakes", DateOfBirth: "1952-03-07", Postcode: "DY2 8AA"},
		{ID: "p3", GivenName: "Mary", FamilyName: "Okley", DateOfBirth: "1942-03-07", Postcode: "DY5 1AA"},
		{ID: "p4", GivenName: "Zoë", FamilyName: "O'Brien-Smyth", DateOfBirth: "2001-11-30", Postcode: "DY3 1AA", NHSNumber: "943 476 5919"},
		{ID: "p5", GivenName: "Peter", FamilyName: "Jones", DateOfBirth: "1980-01-01", Postcode: "DY1 1AA"},
	}
	// typo'd surname, same DOB and postcode comes first
	got := Match(Person{GivenName: "margaret", FamilyName: "Oakly", DateOfBirth: "1942-03-07", Postcode: "dy11ac"}, records)
	if len(got) < 2 || got[0].ID != "p1" || got[0].Exact {
		t.Fatalf("match %+v, want p1 first", got)
	}
	wantReasons := []string{"same date of birth", "surname differs by one letter", "same given name", "same postcode"}
	if len(got[0].Reasons) != len(wantReasons) {
		t.Fatalf("reasons %v, want %v", got[0].Reasons, wantReasons)
	}
	for i, w := range wantReasons {
		if got[0].Reasons[i] != w {
			t.Errorf("reason %d %q, want %q", i, got[0].Reasons[i], w)
		}
	}
	for _, c := range got {
		if c.ID == "p5" {
			t.Errorf("unrelated record matched: %+v", c)
		}
	}
	// accents, case, hyphen and apostrophe normalised
	got = Match(Person{GivenName: "ZOE", FamilyName: "obrien smyth", DateOfBirth: "2001-11-30", Postcode: "DY3 9ZZ"}, records)
	if len(got) != 1 || got[0].ID != "p4" || got[0].Reasons[1] != "same surname" || got[0].Reasons[3] != "same postcode district" {
		t.Errorf("normalised match %+v", got)
	}
	// NHS number is exact and first, even with other details different
	got = Match(Person{NHSNumber: "9434765919", FamilyName: "Smith", DateOfBirth: "1999-01-01"}, records)
	if len(got) != 1 || !got[0].Exact || got[0].ID != "p4" {
		t.Errorf("nhs number match %+v", got)
	}
	if NormaliseName("Zoë O'Brien-Smyth") != "zoeobriensmyth" {
		t.Errorf("NormaliseName = %q", NormaliseName("Zoë O'Brien-Smyth"))
	}
}
