package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestBurstOfWritesThroughAFollower: 128 clients writing at once through
// a follower (a 111 system's burst) are all accepted. The follower keeps a
// few connections to the leader for forwarded writes and queues on them;
// opening one per request went past the leader's bound on TLS handshakes
// in progress on its raft port, which closed the excess and the follower
// answered 503.
//
// The cluster runs with the product's raft timing, not the test clusters'
// 150 ms one: a burst under the race detector on two cores can starve a
// leader's heartbeats for that long. A refusal is excused only if the
// leader's term moved during the burst, and then only a "not accepted,
// safe to retry" one, which the client retries with its Idempotency-Key
// as the API asks; every write must still end accepted.
func TestBurstOfWritesThroughAFollower(t *testing.T) {
	tc := nodetest.NewWith(t, 3, func(c *node.Config) { c.RaftTuning = cluster.RaftTuning{} })
	f := tc.Follower(t)
	term0 := f.N.Store().Status().Term
	const clients, each = 128, 2
	var wg sync.WaitGroup
	var retried atomic.Int64
	errs := make(chan string, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"complaint":"burst %d %d"}`, c, i)
				hdr := map[string]string{"Idempotency-Key": fmt.Sprintf("burst-%d-%d", c, i)}
				deadline := time.Now().Add(20 * time.Second)
				for {
					resp, b, err := tc.Try(f, http.MethodPost, "/v1/attendances", body, hdr)
					if err == nil && resp.StatusCode == http.StatusCreated {
						break
					}
					if err == nil && resp.StatusCode == http.StatusServiceUnavailable &&
						strings.Contains(string(b), "/problems/not-accepted") &&
						f.N.Store().Status().Term != term0 && time.Now().Before(deadline) {
						retried.Add(1)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					if err != nil {
						errs <- err.Error()
					} else {
						errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n < 3 {
			t.Errorf("write through the follower: %s", e)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d writes through the follower refused (leader's term %d -> %d)",
			n, clients*each, term0, f.N.Store().Status().Term)
	}
	if r := retried.Load(); r > 0 {
		t.Logf("the leader changed during the burst; %d refusals retried", r)
	}
}
