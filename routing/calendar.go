package routing

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/London must load on machines without zoneinfo
)

// London is the Europe/London location every opening time is read in.
var London = mustLoadLondon()

func mustLoadLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(fmt.Sprintf("routing: load Europe/London: %v", err))
	}
	return loc
}

func parseDate(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }

func parseRFC3339(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// Date is a calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String is the ISO form "2026-12-25".
func (d Date) String() string {
	if d.Year < 0 || d.Year > 9999 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	b := []byte("0000-00-00")
	y, m := d.Year, int(d.Month)
	b[0], b[1], b[2], b[3] = byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[5], b[6] = byte('0'+m/10), byte('0'+m%10)
	b[8], b[9] = byte('0'+d.Day/10), byte('0'+d.Day%10)
	return string(b)
}

func (d Date) weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func (d Date) addDays(n int) Date {
	t := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC)
	return Date{t.Year(), t.Month(), t.Day()}
}

// EasterSunday returns Western (Gregorian) Easter Sunday for year, by the
// anonymous Gregorian computus.
func EasterSunday(year int) Date {
	a := year % 19
	b := year / 100
	c := year % 100
	d := b / 4
	e := b % 4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i := c / 4
	k := c % 4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date{year, time.Month(month), day}
}

// proclaimed holds one-off changes by royal proclamation: dates removed
// from the rule-based list and dates added.
var proclaimed = map[int]struct{ remove, add []Date }{
	1995: {[]Date{{1995, 5, 1}}, []Date{{1995, 5, 8}}},
	1999: {nil, []Date{{1999, 12, 31}}},
	2002: {[]Date{{2002, 5, 27}}, []Date{{2002, 6, 3}, {2002, 6, 4}}},
	2011: {nil, []Date{{2011, 4, 29}}},
	2012: {[]Date{{2012, 5, 28}}, []Date{{2012, 6, 4}, {2012, 6, 5}}},
	2020: {[]Date{{2020, 5, 4}}, []Date{{2020, 5, 8}}},
	2022: {[]Date{{2022, 5, 30}}, []Date{{2022, 6, 2}, {2022, 6, 3}, {2022, 9, 19}}},
	2023: {nil, []Date{{2023, 5, 8}}},
}

// BankHolidays returns the England and Wales bank holidays of year in date
// order: New Year's Day (or its substitute), Good Friday, Easter Monday,
// the early May, spring and summer bank holidays, Christmas Day and Boxing
// Day with substitute days, adjusted for the known one-off proclamations
// (1995-2023). Future one-offs belong in Directory.ExtraBankHolidays.
func BankHolidays(year int) []Date {
	var out []Date
	ny := Date{year, time.January, 1}
	switch ny.weekday() {
	case time.Saturday:
		ny = ny.addDays(2)
	case time.Sunday:
		ny = ny.addDays(1)
	}
	out = append(out, ny)
	e := EasterSunday(year)
	out = append(out, e.addDays(-2), e.addDays(1))
	out = append(out, firstMonday(year, time.May), lastMonday(year, time.May), lastMonday(year, time.August))
	xmas := Date{year, time.December, 25}
	switch xmas.weekday() {
	case time.Friday:
		out = append(out, xmas, xmas.addDays(3))
	case time.Saturday:
		out = append(out, xmas.addDays(2), xmas.addDays(3))
	case time.Sunday:
		out = append(out, xmas.addDays(1), xmas.addDays(2))
	default:
		out = append(out, xmas, xmas.addDays(1))
	}
	if p, ok := proclaimed[year]; ok {
		kept := out[:0]
		for _, d := range out {
			removed := false
			for _, r := range p.remove {
				removed = removed || r == d
			}
			if !removed {
				kept = append(kept, d)
			}
		}
		out = append(kept, p.add...)
		sortDates(out)
	}
	return out
}

func sortDates(ds []Date) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].String() < ds[j-1].String(); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

func firstMonday(year int, m time.Month) Date {
	d := Date{year, m, 1}
	for d.weekday() != time.Monday {
		d = d.addDays(1)
	}
	return d
}

func lastMonday(year int, m time.Month) Date {
	d := Date{year, m + 1, 1}.addDays(-1)
	d = Date{d.Year, d.Month, d.Day}
	for d.weekday() != time.Monday {
		d = d.addDays(-1)
	}
	return d
}

// IsBankHoliday reports whether d is an England and Wales bank holiday.
func IsBankHoliday(d Date) bool {
	for _, h := range BankHolidays(d.Year) {
		if h == d {
			return true
		}
	}
	return false
}

// dayInfo is one local calendar day in a routing window.
type dayInfo struct {
	date     Date
	weekday  time.Weekday
	bankHol  bool
	uniform  bool  // one UTC offset from this midnight to the next
	midnight int64 // unix seconds of local midnight
}

// calendarDays is how many days a calendar holds without allocating:
// a one-week timeframe plus the week after it and a day either side.
const calendarDays = 24

// calendar is the run of local days a single Route call looks at. It
// lives on Route's stack; only a window longer than calendarDays days
// spills to the heap.
type calendar struct {
	fixed [calendarDays]dayInfo
	n     int
	more  []dayInfo // all the days, when they do not fit in fixed
}

// days returns the days of the window in order.
func (c *calendar) days() []dayInfo {
	if c.more != nil {
		return c.more
	}
	return c.fixed[:c.n]
}

func (c *calendar) add(di dayInfo) {
	if c.more == nil && c.n < len(c.fixed) {
		c.fixed[c.n] = di
		c.n++
		return
	}
	if c.more == nil {
		c.more = append(make([]dayInfo, 0, 2*len(c.fixed)), c.fixed[:c.n]...)
	}
	c.more = append(c.more, di)
}

// newCalendar covers local dates from the day before from through the day
// after to.
// bankHolidaySet holds the precomputed holidays of 2000-2100, keyed by
// Date; read-only after package initialisation.
var bankHolidaySet = func() map[Date]bool {
	m := make(map[Date]bool, 101*9)
	for y := 2000; y <= 2100; y++ {
		for _, d := range BankHolidays(y) {
			m[d] = true
		}
	}
	return m
}()

func isBankHolidayFast(d Date) bool {
	if d.Year >= 2000 && d.Year <= 2100 {
		return bankHolidaySet[d]
	}
	return IsBankHoliday(d)
}

func newCalendar(c *calendar, from, to time.Time, extra map[Date]bool) {
	lf := from.In(London)
	lt := to.In(London)
	start := Date{lf.Year(), lf.Month(), lf.Day()}.addDays(-1)
	end := Date{lt.Year(), lt.Month(), lt.Day()}.addDays(1)
	var zoneEnd time.Time
	var prevMidnight int64
	for d := start; ; d = d.addDays(1) {
		di := dayInfo{date: d, weekday: d.weekday(), bankHol: isBankHolidayFast(d)}
		if extra[d] {
			di.bankHol = true
		}
		// one zone lookup per day: the day is uniform if its zone period
		// (from ZoneBounds) lasts past the next midnight
		var m time.Time
		if zoneEnd.IsZero() || prevMidnight+2*86400 > zoneEnd.Unix() {
			m = time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, London)
			_, zoneEnd = m.ZoneBounds()
		} else {
			m = time.Unix(prevMidnight+86400, 0)
		}
		di.midnight = m.Unix()
		prevMidnight = di.midnight
		di.uniform = zoneEnd.IsZero() || di.midnight+86400 <= zoneEnd.Unix()
		c.add(di)
		if d == end {
			break
		}
	}
}

// at returns the unix time of minute (may be >= 1440, rolling into later
// days) of day i.
func (c *calendar) at(i int, minute int) int64 {
	days := c.days()
	for minute >= 1440 && i+1 < len(days) {
		minute -= 1440
		i++
	}
	d := &days[i]
	if d.uniform {
		return d.midnight + int64(minute)*60
	}
	return wallClock(d.date, minute)
}

// wallClock converts a London wall-clock time on date to an instant. A
// time skipped by the March change (01:00-02:00) maps to the moment the
// clocks go forward, so "open until 02:00" ends at 01:00 UTC; a time that
// occurs twice in October resolves as time.Date does.
func wallClock(d Date, minute int) int64 {
	t := time.Date(d.Year, d.Month, d.Day, minute/60, minute%60, 0, 0, London)
	if t.Hour()*60+t.Minute() != minute%1440 {
		start, _ := t.ZoneBounds()
		if !start.IsZero() && start.Before(t) {
			return start.Unix()
		}
	}
	return t.Unix()
}
