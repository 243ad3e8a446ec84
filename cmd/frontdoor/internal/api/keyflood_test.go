package api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// count401s sums the leader's HTTP request counts answered 401 on route.
func countCode(t *testing.T, tc *nodetest.Cluster, tn *nodetest.Node, route, code string) int {
	t.Helper()
	_, b := tc.Do(t, tn, http.MethodGet, "/metrics", "", nil)
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "frontdoor_http_request_duration_seconds_count{") ||
			!strings.Contains(line, `code="`+code+`"`) || !strings.Contains(line, `route="`+route+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		n += int(v)
	}
	return n
}

// TestUnknownKeyFloodStaysOnTheFollower: made-up keys sent to a follower
// are answered there (401, then 429 once the client keeps on) and only a
// small budget of them reaches the leader; a key created a moment ago
// still works on that follower.
func TestUnknownKeyFloodStaysOnTheFollower(t *testing.T) {
	tc := nodetest.New(t, 3)
	lead, f := tc.Leader(t), tc.Follower(t)
	const sent = 600
	codes := map[int]int{}
	for i := range sent {
		resp, _ := tc.Do(t, f, http.MethodGet, "/v1/queue", "", nodetest.BearerHeader(fmt.Sprintf("fdk_made-up-%d", i)))
		codes[resp.StatusCode]++
	}
	if codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != sent || codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("answers to %d made-up keys: %v", sent, codes)
	}
	atLeader := countCode(t, tc, lead, "/v1/queue", "401")
	if atLeader > 100 {
		t.Fatalf("%d of %d made-up keys were forwarded to the leader", atLeader, sent)
	}
	t.Logf("follower answered %v; the leader saw %d", codes, atLeader)

	time.Sleep(2500 * time.Millisecond) // the client's budget refills
	key := tc.Key(t, "reception", "Fresh")
	resp, b := tc.Do(t, f, http.MethodGet, "/v1/queue", "", nodetest.BearerHeader(key))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a key created a moment ago, on the follower: %d %s", resp.StatusCode, b)
	}
}

// TestClusterStatusIsCached: GET /v1/cluster (open, no key) answers from
// figures refreshed in the background: 200 calls cost the peers a handful
// of /v1/cluster/self requests, not 200 each.
func TestClusterStatusIsCached(t *testing.T) {
	tc := nodetest.New(t, 3)
	f := tc.Follower(t)
	before := map[string]int{}
	for _, tn := range tc.Nodes {
		before[tn.ID] = countCode(t, tc, tn, "/v1/cluster/self", "200")
	}
	const calls = 200
	for range calls {
		resp, b := tc.Do(t, f, http.MethodGet, "/v1/cluster", "", map[string]string{"Authorization": ""})
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"reachable":true`) {
			t.Fatalf("/v1/cluster: %d %s", resp.StatusCode, b)
		}
	}
	for _, tn := range tc.Nodes {
		if tn == f {
			continue
		}
		if n := countCode(t, tc, tn, "/v1/cluster/self", "200") - before[tn.ID]; n > 20 {
			t.Errorf("%d calls of /v1/cluster on %s cost %s %d requests", calls, f.ID, tn.ID, n)
		}
	}
}
