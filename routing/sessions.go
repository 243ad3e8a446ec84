package routing

import (
	"fmt"
	"time"
)

// SessionSlots is one session of a service whose capacity is counted in
// slots: when it runs, how many patients it takes and how many it has.
type SessionSlots struct {
	ServiceID string
	Start     time.Time
	End       time.Time
	Slots     int
	Used      int
}

// Free is how many of the session's slots are left.
func (s SessionSlots) Free() int { return max(s.Slots-s.Used, 0) }

// Sessions lists the sessions of the slot-capacity services (serviceID ""
// every one; otherwise that one) that start in [from, to), in start order
// per service and by service id, with their use in load. The sessions are
// the directory's: weekly, bank-holiday and dated exceptions, in
// Europe/London. Pure, like Route.
func Sessions(dir *Directory, load *Load, serviceID string, from, to time.Time) ([]SessionSlots, error) {
	if !to.After(from) {
		return nil, nil
	}
	idx, err := dir.index()
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	var cal calendar
	newCalendar(&cal, from, to, idx.extraHols)
	days := cal.days()
	f, t := from.Unix(), to.Unix()
	var out []SessionSlots
	for k := range idx.services {
		ps := &idx.services[k]
		if ps.capKind != CapacitySlots || ps.alwaysOpen || (serviceID != "" && ps.id != serviceID) {
			continue
		}
		for i := range days {
			for _, ss := range ps.sessionsFor(&days[i]) {
				st := cal.at(i, ss.start)
				if st < f || st >= t {
					continue
				}
				out = append(out, SessionSlots{ServiceID: ps.id, Start: time.Unix(st, 0).UTC(), End: time.Unix(cal.at(i, ss.end), 0).UTC(),
					Slots: ss.slots, Used: load.used(ps.id, CapacitySlots, st)})
			}
		}
	}
	return out, nil
}
