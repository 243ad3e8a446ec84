package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// BenchmarkClusterWrite measures durable write throughput of a 3-node
// cluster through the HTTP API: POST /v1/attendances to the leader, each
// acknowledged only after commit and apply (raft-boltdb fsync on a quorum,
// Badger). Real TCP raft, real disks, production raft timings, one process.
//
//	go test -run '^$' -bench ClusterWrite -benchtime 2000x ./cmd/frontdoor/internal/api
func BenchmarkClusterWrite(b *testing.B) {
	for _, via := range []string{"leader", "follower"} {
		for _, conc := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("via=%s/c=%d", via, conc), func(b *testing.B) {
				benchmarkWrites(b, via, conc)
			})
		}
	}
}

// benchmarkWrites sends b.N POSTs from conc goroutines to the leader, or to
// a follower that forwards them.
func benchmarkWrites(b *testing.B, via string, conc int) {
	tc := nodetest.NewWith(b, 3, func(c *node.Config) { c.RaftTuning = cluster.RaftTuning{} })
	lead := tc.Leader(b)
	if via == "follower" {
		lead = tc.Follower(b)
	}
	body := `{"patient":{"given_name":"Ada","nhs_number":"9434765919"},"complaint":"sore throat"}`
	var next atomic.Int64
	var failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, _, err := tc.Try(lead, http.MethodPost, "/v1/attendances", body, nil)
				if err != nil || resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d writes failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "attendances/s")
}
