package routing

import (
	"encoding/json"
	"testing"
)

func TestDemoDirectoryShape(t *testing.T) {
	d := demo(t)
	perTier := map[Tier]int{}
	for _, s := range d.Services {
		perTier[s.Tier]++
	}
	for _, tier := range Tiers {
		if perTier[tier] == 0 {
			t.Errorf("no %s service in the demo directory", tier)
		}
	}
	if len(d.Services) < 25 || len(d.Practices) != 12 {
		t.Errorf("%d services, %d practices", len(d.Services), len(d.Practices))
	}
	closed, nfa := 0, 0
	for _, p := range d.Practices {
		if !p.ListOpen {
			closed++
		}
		if p.NoFixedAbode {
			nfa++
		}
	}
	if closed != 1 || nfa != 1 {
		t.Errorf("%d closed lists, %d designated practices; want 1 and 1", closed, nfa)
	}
	// JSON round trip gives an equivalent, valid directory
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := LoadDirectory(b)
	if err != nil || len(d2.Services) != len(d.Services) {
		t.Fatalf("round trip: %v", err)
	}
	// a second call gives an independent copy
	d3 := demo(t)
	d3.Services[0].Name = "changed"
	if demo(t).Services[0].Name == "changed" {
		t.Error("DemoDirectory shares state between calls")
	}
}

func TestSyntheticDirectoryDeterministic(t *testing.T) {
	a, err := SyntheticDirectory(42, 300)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SyntheticDirectory(42, 300)
	c, _ := SyntheticDirectory(43, 300)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	jc, _ := json.Marshal(c)
	if string(ja) != string(jb) || string(ja) == string(jc) || len(a.Services) != 301 {
		t.Errorf("same seed equal %v, different seed equal %v, %d services", string(ja) == string(jb), string(ja) == string(jc), len(a.Services))
	}
}

func TestPostcodes(t *testing.T) {
	tests := []struct{ in, norm, district, sector string }{
		{"dy11aa", "DY1 1AA", "DY1", "DY1 1"},
		{" DY1  1AA ", "DY1 1AA", "DY1", "DY1 1"},
		{"b11aa", "B1 1AA", "B1", "B1 1"},
		{"DY1", "DY1", "DY1", ""},
		{"dy2 7", "DY2 7", "DY2", "DY2 7"},
	}
	for _, tt := range tests {
		if NormalisePostcode(tt.in) != tt.norm || PostcodeDistrict(tt.in) != tt.district || PostcodeSector(tt.in) != tt.sector {
			t.Errorf("%q: %q %q %q", tt.in, NormalisePostcode(tt.in), PostcodeDistrict(tt.in), PostcodeSector(tt.in))
		}
	}
	if !InCatchment([]string{"DY2 7"}, "dy27ab") || InCatchment([]string{"DY2 7"}, "DY2 8AB") || !InCatchment(nil, "X") || InCatchment([]string{"DY1"}, "DY10 1AA") {
		t.Error("InCatchment")
	}
}
