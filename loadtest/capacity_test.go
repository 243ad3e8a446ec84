package loadtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDaysInclude(t *testing.T) {
	cases := []struct {
		days string
		in   []time.Weekday
	}{
		{"daily", []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
		{"", []time.Weekday{0, 1, 2, 3, 4, 5, 6}},
		{"mon-fri", []time.Weekday{1, 2, 3, 4, 5}},
		{"sat,sun", []time.Weekday{0, 6}},
		{"Mon-Sat", []time.Weekday{1, 2, 3, 4, 5, 6}},
		{"fri-mon", []time.Weekday{5, 6, 0, 1}},
		{"tue, thu", []time.Weekday{2, 4}},
		{"someday", nil},
	}
	for _, c := range cases {
		want := map[time.Weekday]bool{}
		for _, d := range c.in {
			want[d] = true
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if got := daysInclude(c.days, d); got != want[d] {
				t.Errorf("daysInclude(%q, %v) = %v", c.days, d, got)
			}
		}
	}
}

// TestServiceCapacity reads testdata/services.json (the shape GET
// /v1/services answers) and finds each allocation's session capacity in
// London time, with exceptions, sessions ending at midnight or after it.
func TestServiceCapacity(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Services []capacityService `json:"services"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	sc, err := newServiceCapacity(list.Services)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, service, start, end string
		want                      int
	}{
		{"winter: London is UTC", "gp-ucc-stream", "2026-11-29T08:00:00Z", "2026-11-29T14:00:00Z", 12},
		{"summer: London is UTC+1", "gp-ucc-stream", "2026-07-01T13:00:00Z", "2026-07-01T21:00:00Z", 16},
		{"summer session read as UTC does not match", "gp-ucc-stream", "2026-07-01T14:00:00Z", "2026-07-01T22:00:00Z", 0},
		{"exception day", "gp-ucc-stream", "2026-12-25T10:00:00Z", "2026-12-25T14:00:00Z", 4},
		{"weekly session on an exception day", "gp-ucc-stream", "2026-12-25T08:00:00Z", "2026-12-25T14:00:00Z", 0},
		{"weekday session", "ph-market", "2026-11-30T08:30:00Z", "2026-11-30T13:00:00Z", 6},
		{"saturday session", "ph-market", "2026-11-28T09:00:00Z", "2026-11-28T12:30:00Z", 4},
		{"weekday times on a saturday", "ph-market", "2026-11-28T08:30:00Z", "2026-11-28T13:00:00Z", 0},
		{"past midnight", "ph-superstore", "2026-11-29T07:00:00Z", "2026-11-30T02:00:00Z", 24},
		{"until midnight", "ph-late", "2026-11-29T18:00:00Z", "2026-11-30T00:00:00Z", 5},
		{"places: not a slot count", "ucr-north", "2026-11-29T08:00:00Z", "2026-11-29T20:00:00Z", 0},
		{"unknown service", "nowhere", "2026-11-29T08:00:00Z", "2026-11-29T14:00:00Z", 0},
		{"bad time", "gp-ucc-stream", "08:00", "14:00", 0},
	}
	for _, c := range cases {
		if got := sc.capacity(c.service, c.start, c.end); got != c.want {
			t.Errorf("%s: capacity(%s, %s, %s) = %d, want %d", c.name, c.service, c.start, c.end, got, c.want)
		}
	}
}
