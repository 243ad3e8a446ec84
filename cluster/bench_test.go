package cluster_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cluster/clustertest"
)

// BenchmarkPropose measures durable attendance.create proposals on the
// leader of a 1- and a 3-node in-process cluster (loopback TCP; raft-boltdb
// fsync + Badger fsync per entry on every node) at concurrency 1, 16 and 128:
// group commit is what lets higher concurrency go faster.
func BenchmarkPropose(b *testing.B) {
	for _, cs := range []struct{ nodes, conc int }{{1, 1}, {1, 16}, {1, 128}, {3, 1}, {3, 16}, {3, 128}} {
		conc := cs.conc
		b.Run("nodes="+itoa(cs.nodes)+"/C="+itoa(conc), func(b *testing.B) {
			c := clustertest.New(b, cs.nodes, clustertest.Options{})
			ctx := context.Background()
			nd := c.Leader(ctx)
			body, _ := json.Marshal(care.AttendanceCreate{Complaint: "bench"})
			p := cluster.Proposal{Kind: care.KindAttendanceCreate, Actor: cluster.Actor{ID: "bench"}, Payload: body}
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						res, err := nd.Store.Propose(ctx, p)
						if err != nil || res.Err != nil {
							b.Errorf("propose: %v %v", err, res)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
