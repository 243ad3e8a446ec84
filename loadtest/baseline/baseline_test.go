package baseline

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestRunAppliesEveryCommand: a short bounded run applies exactly the
// requested commands, each acknowledged, on a real 3-node cluster, bare
// and over HTTP.
func TestRunAppliesEveryCommand(t *testing.T) {
	for name, run := range map[string]func(context.Context, int, int, int, time.Duration, int, string, func(time.Duration, bool)) (time.Duration, error){
		"bare": Run, "http": RunHTTP,
	} {
		t.Run(name, func(t *testing.T) { testRunAppliesEveryCommand(t, run) })
	}
}

func testRunAppliesEveryCommand(t *testing.T, run func(context.Context, int, int, int, time.Duration, int, string, func(time.Duration, bool)) (time.Duration, error)) {
	var mu sync.Mutex
	ok, failed := 0, 0
	var slowest time.Duration
	elapsed, err := run(context.Background(), 3, 150, 4, 20*time.Second, 60, t.TempDir(), func(d time.Duration, good bool) {
		mu.Lock()
		defer mu.Unlock()
		if good {
			ok++
		} else {
			failed++
		}
		slowest = max(slowest, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok != 60 || failed != 0 {
		t.Fatalf("%d applied, %d failed; want 60 and 0", ok, failed)
	}
	if slowest <= 0 || elapsed < slowest {
		t.Fatalf("latencies not measured: slowest %v of a run of %v", slowest, elapsed)
	}
}

// TestHTTPFrontApplies: a command sent through the HTTP front is applied
// on the leader (stored under its index) and answered with that index.
func TestHTTPFrontApplies(t *testing.T) {
	c, err := start(context.Background(), 1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.close(); err != nil {
			t.Error(err)
		}
	}()
	lead, err := c.leader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	send, stop, err := serveHTTP(lead, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := lead.AppliedIndex()
	if err := send(context.Background(), []byte("over-http-command")); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Where the command was stored, not lead.AppliedIndex() after the
	// send: raft answers the command's future from the FSM goroutine and
	// advances its applied index on its own goroutine, so under load the
	// answer can come first (the check failed that way once).
	var idx uint64
	err = c.nodes[0].fsm.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("c/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if string(v) == "over-http-command" {
				idx = binary.BigEndian.Uint64(it.Item().Key()[2:])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if idx <= before {
		t.Fatalf("the command stored at index %d, applied index %d before the send", idx, before)
	}
	if err := send(context.Background(), []byte("after stop")); err == nil {
		t.Fatal("a send after stop succeeded")
	}
}

func TestRunRefusesNonsense(t *testing.T) {
	if _, err := Run(context.Background(), 0, 10, 1, time.Second, 0, t.TempDir(), func(time.Duration, bool) {}); err == nil {
		t.Fatal("0 nodes accepted")
	}
}
