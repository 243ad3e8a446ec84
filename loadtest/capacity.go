package loadtest

import (
	"context"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London must load on machines without zoneinfo
)

// serviceCapacity is the slot capacity of the services' sessions, read
// from GET /v1/services: how many attendances one session of a "slots"
// service takes. It is the checker's own reading of the directory (not
// the cluster's routing code), kept deliberately simple: a session is
// matched by its local start and end time on the allocation's day (the
// date's exception when it has one, else the weekly sessions whose days
// include that weekday); anything it cannot match is unknown (0), which
// leaves only the one-attendance-two-slots check for it.
type serviceCapacity struct {
	london   *time.Location
	services map[string]capacityService
}

type capacitySession struct {
	Days  string `json:"days"`
	Start string `json:"start"`
	End   string `json:"end"`
	Slots int    `json:"slots"`
}

type capacityService struct {
	ID       string `json:"id"`
	Capacity struct {
		Kind string `json:"kind"`
	} `json:"capacity"`
	Sessions   []capacitySession `json:"sessions"`
	Exceptions []struct {
		Date     string            `json:"date"`
		Sessions []capacitySession `json:"sessions"`
	} `json:"exceptions"`
}

func readServiceCapacity(ctx context.Context, c *Client) (*serviceCapacity, error) {
	var list struct {
		Services []capacityService `json:"services"`
	}
	if _, err := c.GetJSON(ctx, 0, "/v1/services?consistency=linearizable", &list); err != nil {
		return nil, err
	}
	return newServiceCapacity(list.Services)
}

func newServiceCapacity(list []capacityService) (*serviceCapacity, error) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, err
	}
	sc := &serviceCapacity{london: london, services: map[string]capacityService{}}
	for _, s := range list {
		sc.services[s.ID] = s
	}
	return sc, nil
}

// capacity implements SlotCapacity.
func (sc *serviceCapacity) capacity(service, start, end string) int {
	svc, ok := sc.services[service]
	if !ok || svc.Capacity.Kind != "slots" {
		return 0
	}
	st, err1 := time.Parse(time.RFC3339Nano, start)
	en, err2 := time.Parse(time.RFC3339Nano, end)
	if err1 != nil || err2 != nil {
		return 0
	}
	st, en = st.In(sc.london), en.In(sc.london)
	date := st.Format("2006-01-02")
	from, to := st.Format("15:04"), en.Format("15:04")
	if to == "00:00" && en.After(st) {
		to = "24:00"
	}
	sessions := svc.Sessions
	exception := false
	for _, e := range svc.Exceptions {
		if e.Date == date {
			sessions, exception = e.Sessions, true
		}
	}
	for _, s := range sessions {
		if s.Start == from && s.End == to && (exception || daysInclude(s.Days, st.Weekday())) {
			return s.Slots
		}
	}
	return 0
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// daysInclude reads a sessions' days ("daily", "mon-fri", "sat,sun",
// "mon-sat"; "" is every day) and says whether d is one of them.
func daysInclude(days string, d time.Weekday) bool {
	days = strings.ToLower(strings.TrimSpace(days))
	if days == "" || days == "daily" {
		return true
	}
	for _, part := range strings.Split(days, ",") {
		part = strings.TrimSpace(part)
		if part == "daily" {
			return true
		}
		from, to, isRange := strings.Cut(part, "-")
		a, ok1 := weekdays[from]
		if !isRange {
			if ok1 && a == d {
				return true
			}
			continue
		}
		b, ok2 := weekdays[to]
		if !ok1 || !ok2 {
			continue
		}
		for w := a; ; w = (w + 1) % 7 {
			if w == d {
				return true
			}
			if w == b {
				break
			}
		}
	}
	return false
}
