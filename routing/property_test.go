package routing

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The brute-force predicate below is written independently of route.go:
// it reads the raw Service fields, parses days with its own table and
// converts wall-clock times by searching minute by minute around the
// clock changes.

var bruteDays = map[string][]time.Weekday{
	"":        {0, 1, 2, 3, 4, 5, 6},
	"daily":   {0, 1, 2, 3, 4, 5, 6},
	"mon-fri": {1, 2, 3, 4, 5},
	"mon-sat": {1, 2, 3, 4, 5, 6},
	"sat,sun": {6, 0},
	"tue-thu": {2, 3, 4},
	"sun":     {0},
}

func bruteMinute(s string) int {
	var h, m int
	for i, c := range s {
		switch {
		case i < 2:
			h = h*10 + int(c-'0')
		case i > 2:
			m = m*10 + int(c-'0')
		}
	}
	return h*60 + m
}

// bruteInstant: the earliest instant whose London wall clock on date d is
// at or after minute (minute may be >= 1440, meaning the next days).
func bruteInstant(y int, mo time.Month, d, minute int) time.Time {
	for minute >= 1440 {
		minute -= 1440
		d++
	}
	day := time.Date(y, mo, d, 12, 0, 0, 0, time.UTC)
	y, mo, d = day.Date()
	t := time.Date(y, mo, d, minute/60, minute%60, 0, 0, London)
	wall := func(x time.Time) (bool, int) {
		l := x.In(London)
		ly, lm, ld := l.Date()
		return ly == y && lm == mo && ld == d, l.Hour()*60 + l.Minute()
	}
	if same, w := wall(t); same && w == minute {
		return t
	}
	for x := t.Add(-3 * time.Hour); ; x = x.Add(time.Minute) {
		if same, w := wall(x); same && w >= minute {
			return x
		}
	}
}

func bruteQualifies(s *Service, need Need, p Patient, now time.Time, load *Load, extra []string) bool {
	if s.RAG.Status == StatusRed {
		reset := false
		if s.RAG.SetAt != "" && s.RAG.ResetAfterMinutes > 0 {
			at, _ := time.Parse(time.RFC3339, s.RAG.SetAt)
			reset = !now.Before(at.Add(time.Duration(s.RAG.ResetAfterMinutes) * time.Minute))
		}
		if !reset {
			return false
		}
	}
	ageOK := func(a AgeRange) bool {
		lo := max(a.MinDays, a.MinYears*365+a.MinYears/4)
		hi := -1
		if a.MaxYears > 0 {
			hi = (a.MaxYears+1)*365 + (a.MaxYears+1)/4 - 1
		} else if a.MaxDays > 0 {
			hi = a.MaxDays
		}
		if lo == 0 && hi < 0 {
			return true
		}
		return p.AgeKnown && p.AgeDays >= lo && (hi < 0 || p.AgeDays <= hi)
	}
	for _, n := range need.CareNeeds {
		found := false
		for _, pr := range s.Provides {
			if pr.Need == n {
				found = true
				if !ageOK(pr.Age) || (pr.Sex != "" && pr.Sex != p.Sex) {
					return false
				}
			}
		}
		if !found {
			return false
		}
	}
	e := s.Eligibility
	if !ageOK(e.Age) || (e.Sex != "" && e.Sex != p.Sex) || (e.RequiresUsualResidence && !p.AtUsualResidence) {
		return false
	}
	if e.RegisteredOnly && p.RegisteredPractice != s.ODSCode {
		return false
	}
	if e.CareNeedsOnly && len(need.CareNeeds) == 0 {
		return false
	}
	if len(e.Catchment) > 0 && (p.Postcode == "" || !InCatchment(e.Catchment, p.Postcode)) {
		return false
	}
	placesOK := s.Capacity.Kind != CapacityPlaces || load.Places[s.ID] < s.Capacity.Places
	if s.AlwaysOpen {
		return placesOK
	}
	winEnd := now
	if !need.Immediate {
		winEnd = now.Add(time.Duration(need.WithinMinutes) * time.Minute)
	}
	ln := now.In(London)
	for off := -1; ; off++ {
		day := time.Date(ln.Year(), ln.Month(), ln.Day()+off, 12, 0, 0, 0, time.UTC)
		if day.After(winEnd.Add(48 * time.Hour)) {
			return false
		}
		y, mo, d := day.Date()
		key := day.Format("2006-01-02")
		var sessions []Session
		excepted := false
		for _, ex := range s.Exceptions {
			if ex.Date == key {
				sessions, excepted = ex.Sessions, true
			}
		}
		if !excepted {
			hol := IsBankHoliday(Date{y, mo, d})
			for _, x := range extra {
				hol = hol || x == key
			}
			if hol {
				sessions = s.BankHoliday
			} else {
				for _, ss := range s.Sessions {
					for _, wd := range bruteDays[ss.Days] {
						if wd == day.Weekday() {
							sessions = append(sessions, ss)
						}
					}
				}
			}
		}
		for _, ss := range sessions {
			a, b := bruteMinute(ss.Start), bruteMinute(ss.End)
			if b <= a {
				b += 1440
			}
			st, en := bruteInstant(y, mo, d, a), bruteInstant(y, mo, d, b)
			visit := st
			if visit.Before(now) {
				visit = now
			}
			if !en.After(now) || visit.After(winEnd) || en.Sub(visit) < 30*time.Minute {
				continue
			}
			switch s.Capacity.Kind {
			case CapacitySlots:
				if load.Sessions[s.ID][st.Unix()] < ss.Slots {
					return true
				}
			case CapacityPlaces:
				if placesOK {
					return true
				}
			default:
				return true
			}
		}
	}
}

func TestRouteProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	special := []time.Time{
		time.Date(2026, 3, 29, 0, 40, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC),
		time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 6, 7, 45, 0, 0, time.UTC), time.Date(2026, 3, 28, 23, 50, 0, 0, time.UTC),
	}
	windows := []int{60, 120, 240, 720, 1440, 4320}
	vocab := CareNeedCodes()
	checked, fallbacks := 0, 0
	for dirN := 0; dirN < 12; dirN++ {
		d, err := SyntheticDirectory(uint64(100+dirN), 150)
		if err != nil {
			t.Fatal(err)
		}
		var postcodes []string
		for pc := range d.Postcodes {
			postcodes = append(postcodes, pc)
		}
		sortStrings(postcodes)
		load := &Load{}
		for i := 0; i < 200; i++ {
			var now time.Time
			if r.IntN(4) == 0 {
				now = special[r.IntN(len(special))].Add(time.Duration(r.IntN(90)) * time.Minute)
			} else {
				now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24*60)) * time.Minute)
			}
			need := Need{MinTier: Tiers[r.IntN(len(Tiers))]}
			if r.IntN(5) == 0 {
				need.Immediate = true
			} else {
				need.WithinMinutes = windows[r.IntN(len(windows))]
			}
			for k := r.IntN(3); k > 0; k-- {
				need.CareNeeds = append(need.CareNeeds, vocab[r.IntN(len(vocab))])
			}
			p := Patient{AgeKnown: r.IntN(10) != 0, AgeDays: r.IntN(100 * 366), Sex: []string{"", "female", "male"}[r.IntN(3)],
				AtUsualResidence: r.IntN(2) == 0}
			switch r.IntN(5) {
			case 0:
			case 1:
				p.Postcode = "ZZ1 1ZZ"
			default:
				p.Postcode = postcodes[r.IntN(len(postcodes))]
			}
			dec, err := Route(need, p, now, d, load)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			var chosen *Service
			for j := range d.Services {
				if d.Services[j].ID == dec.ServiceID {
					chosen = &d.Services[j]
				}
			}
			if chosen == nil {
				t.Fatalf("unknown service %q", dec.ServiceID)
			}
			if dec.Tier.Rank() < need.MinTier.Rank() {
				t.Fatalf("chose tier %s below minimum %s", dec.Tier, need.MinTier)
			}
			if dec.Fallback {
				fallbacks++
				if chosen.Tier != TierED || !chosen.AlwaysOpen {
					t.Fatalf("fallback to %+v", chosen)
				}
			} else if !bruteQualifies(chosen, need, p, now, load, d.ExtraBankHolidays) {
				t.Fatalf("%v %+v %+v: chosen %s does not qualify by brute force", now, need, p, chosen.ID)
			}
			limit := dec.Tier.Rank()
			if dec.Fallback {
				limit = len(Tiers)
			}
			for j := range d.Services {
				s := &d.Services[j]
				rk := s.Tier.Rank()
				if rk >= need.MinTier.Rank() && rk < limit && bruteQualifies(s, need, p, now, load, d.ExtraBankHolidays) {
					rej, _ := rejectionOf(dec, s.ID)
					t.Fatalf("%v need %+v patient %+v: %s (tier %s) qualifies by brute force but chose %s (tier %s, fallback %v); its rejection: %+v",
						now, need, p, s.ID, s.Tier, dec.ServiceID, dec.Tier, dec.Fallback, rej)
				}
			}
			if (dec.Gap != nil) != (dec.Tier != need.MinTier || dec.Fallback) {
				t.Fatalf("gap %+v but chose tier %s (min %s, fallback %v)", dec.Gap, dec.Tier, need.MinTier, dec.Fallback)
			}
			if r.IntN(2) == 0 {
				load.Add(dec.Allocation)
			}
		}
	}
	if checked-fallbacks < checked/4 {
		t.Errorf("only %d of %d routes found a service without fallback: the generator is too harsh to test much", checked-fallbacks, checked)
	}
	t.Logf("%d routes checked, %d fallbacks", checked, fallbacks)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
