package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestBurstOfWritesThroughAFollower: 128 clients writing at once through
// a follower (a 111 system's burst) are all accepted. The follower keeps a
// few connections to the leader for forwarded writes and queues on them;
// opening one per request went past the leader's bound on TLS handshakes
// in progress on its raft port, which closed the excess and the follower
// answered 503.
func TestBurstOfWritesThroughAFollower(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	const clients, each = 128, 2
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"complaint":"burst %d %d"}`, c, i)
				resp, b, err := tc.Try(f, http.MethodPost, "/v1/attendances", body, nil)
				switch {
				case err != nil:
					errs <- err.Error()
				case resp.StatusCode != http.StatusCreated:
					errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
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
		t.Fatalf("%d of %d writes through the follower refused", n, clients*each)
	}
}
