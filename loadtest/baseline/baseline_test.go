package baseline

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRunAppliesEveryCommand: a short bounded run applies exactly the
// requested commands, each acknowledged, on a real 3-node cluster.
func TestRunAppliesEveryCommand(t *testing.T) {
	var mu sync.Mutex
	ok, failed := 0, 0
	var slowest time.Duration
	elapsed, err := Run(context.Background(), 3, 150, 4, 20*time.Second, 60, t.TempDir(), func(d time.Duration, good bool) {
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

func TestRunRefusesNonsense(t *testing.T) {
	if _, err := Run(context.Background(), 0, 10, 1, time.Second, 0, t.TempDir(), func(time.Duration, bool) {}); err == nil {
		t.Fatal("0 nodes accepted")
	}
}
