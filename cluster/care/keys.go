package care

import (
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// Attendance keys (the whole layout is listed in cluster/keys.go).
const (
	prefixAttendance = "a/"
	prefixArrival    = "ax/arrival/"
	prefixByStatus   = "ax/status/"
)

func keyAttendance(id string) string { return prefixAttendance + id }

func keyAttendanceByArrival(at time.Time, id string) string {
	return prefixArrival + cluster.SortableTime(at) + "/" + id
}

func keyAttendanceByStatus(status string, at time.Time, id string) string {
	return prefixByStatus + status + "/" + cluster.SortableTime(at) + "/" + id
}
