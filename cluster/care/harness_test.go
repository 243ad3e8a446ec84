package care

import (
	"time"

	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
)

// The care tests drive a replica (fsmtest) with logs built as a leader
// would build them.

// testCommands are every domain command and this test binary's own
// (bookingCommands, directory_test.go).
func testCommands() []cluster.Command {
	var out []cluster.Command
	for _, part := range [][]cluster.Command{access.Commands(), directory.Commands(), protocolset.Commands(), Commands(), bookingCommands()} {
		out = append(out, part...)
	}
	return out
}

type testFSM = fsmtest.FSM

func newTestFSM(t testing.TB) *testFSM { return fsmtest.Open(t, testCommands()) }

var (
	testEpoch      = fsmtest.Epoch
	testEnv        = fsmtest.AttendanceEnv
	attendanceBody = fsmtest.AttendanceBody
	cmdLog         = fsmtest.Entry
	testLog        = fsmtest.AttendanceLog
	applyInBatches = fsmtest.ApplyInBatches
	applyOne       = fsmtest.ApplyOne
	mustHash       = fsmtest.MustHash
	dataHash       = fsmtest.DataHash
	kindEnv        = fsmtest.KindEnv
	kindEnvAt      = fsmtest.KindEnvAt
	resultValue    = fsmtest.ResultValue
)

var testAdmin = cluster.Actor{ID: "k-admin", Name: "Admin", Role: access.RoleAdmin}

// testStamp is a command's clock and logic version outside a Tx.
type testStamp struct {
	cluster.Reader // nil: reads fail
	now            time.Time
	lv             int
}

func (s testStamp) Now() time.Time    { return s.now }
func (s testStamp) LogicVersion() int { return s.lv }
