package care

import (
	"reflect"
	"time"

	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/directory"
	"github.com/frontdoor-ucc/frontdoor/cluster/fsmtest"
	"github.com/frontdoor-ucc/frontdoor/cluster/protocolset"
	"github.com/hashicorp/raft"
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

// deterministic applies logs on two replicas, in one batch and one entry
// at a time, fails unless they reach the same state hash and results, and
// returns the results, one per command.
func deterministic(t *testing.T, logs []*raft.Log, batch int) (*testFSM, []*cluster.Result) {
	t.Helper()
	a, b := newTestFSM(t), newTestFSM(t)
	ra := applyInBatches(a, logs, batch)
	rb := applyInBatches(b, logs, 1)
	ha, ia := mustHash(t, a)
	hb, ib := mustHash(t, b)
	if ha != hb || ia != ib {
		t.Fatalf("replicas differ: %s@%d vs %s@%d", ha, ia, hb, ib)
	}
	flat := func(rs [][]any) []*cluster.Result {
		var out []*cluster.Result
		for _, r := range rs {
			for _, x := range r {
				out = append(out, x.([]*cluster.Result)...)
			}
		}
		return out
	}
	flatA, flatB := flat(ra), flat(rb)
	if !reflect.DeepEqual(flatA, flatB) {
		t.Fatal("replicas returned different results")
	}
	return a, flatA
}

// refusalsChangeNothing applies logs, then each of refused alone: every one
// must be refused, and the data (every key but the applied index and the
// clock) must be as it was.
func refusalsChangeNothing(t *testing.T, logs []*raft.Log, refused [][]byte) {
	t.Helper()
	f := newTestFSM(t)
	applyInBatches(f, logs, len(logs))
	before := dataHash(t, f)
	n := len(logs)
	for i, e := range refused {
		res := f.ApplyBatch([]*raft.Log{cmdLog(uint64(n+1+i), e)})
		if r := resultValue(t, res[0]); r.Err == nil {
			t.Fatalf("command %d was not refused: %s", i, r.Value)
		}
	}
	if after := dataHash(t, f); after != before {
		t.Fatal("a refused command changed the data")
	}
}
