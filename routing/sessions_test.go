package routing

import (
	"testing"
	"time"
)

// TestSessions: the slot-capacity sessions of a service in a window, in
// Europe/London, with the load's use (the demo directory's UCC stream:
// 08:00-14:00 for 12, 14:00-22:00 for 16, daily).
func TestSessions(t *testing.T) {
	dir, err := DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02 15:04", s, London)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	load := &Load{}
	load.Add(Allocation{ServiceID: "gp-ucc-stream", Kind: CapacitySlots, SessionStart: day("2026-12-07 08:00")})
	load.Add(Allocation{ServiceID: "gp-ucc-stream", Kind: CapacitySlots, SessionStart: day("2026-12-07 08:00")})
	tests := []struct {
		name     string
		service  string
		from, to time.Time
		want     []SessionSlots
	}{
		{"one day, used", "gp-ucc-stream", day("2026-12-07 00:00"), day("2026-12-08 00:00"), []SessionSlots{
			{ServiceID: "gp-ucc-stream", Start: day("2026-12-07 08:00"), End: day("2026-12-07 14:00"), Slots: 12, Used: 2},
			{ServiceID: "gp-ucc-stream", Start: day("2026-12-07 14:00"), End: day("2026-12-07 22:00"), Slots: 16},
		}},
		{"window starts mid-session: only sessions starting in it", "gp-ucc-stream", day("2026-12-07 09:00"), day("2026-12-07 15:00"), []SessionSlots{
			{ServiceID: "gp-ucc-stream", Start: day("2026-12-07 14:00"), End: day("2026-12-07 22:00"), Slots: 16},
		}},
		{"summer time (BST)", "gp-ucc-stream", day("2026-07-01 00:00"), day("2026-07-01 12:00"), []SessionSlots{
			{ServiceID: "gp-ucc-stream", Start: day("2026-07-01 08:00"), End: day("2026-07-01 14:00"), Slots: 12},
		}},
		{"a service without slots", "ed-castlegate", day("2026-12-07 00:00"), day("2026-12-08 00:00"), nil},
		{"empty window", "gp-ucc-stream", day("2026-12-07 10:00"), day("2026-12-07 10:00"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sessions(dir, load, tt.service, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.ServiceID != w.ServiceID || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Slots != w.Slots || g.Used != w.Used {
					t.Errorf("session %d: got %+v, want %+v", i, g, w)
				}
			}
			if len(got) > 0 && got[0].Free() != got[0].Slots-got[0].Used {
				t.Errorf("Free %d", got[0].Free())
			}
		})
	}
}
