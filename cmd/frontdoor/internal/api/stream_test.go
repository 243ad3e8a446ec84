package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// streamOpener opens event streams on one node, each on its own
// connection, and closes them all at the end of the test.
type streamOpener struct {
	t      *testing.T
	tn     *nodetest.Node
	client *http.Client
	mu     sync.Mutex
	open   []*http.Response
}

func newStreamOpener(t *testing.T, tn *nodetest.Node) *streamOpener {
	o := &streamOpener{t: t, tn: tn, client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	t.Cleanup(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, r := range o.open {
			r.Body.Close()
		}
	})
	return o
}

// stream opens path with key. A 200 stream is kept open (until closed)
// once its first line has arrived; any other answer is returned with its
// body read.
func (o *streamOpener) stream(key, path string) (*http.Response, []byte) {
	o.t.Helper()
	req, err := http.NewRequest(http.MethodGet, o.tn.URL+path, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		o.t.Fatalf("GET %s: first line %q, %v", path, line, err)
	}
	o.mu.Lock()
	o.open = append(o.open, resp)
	o.mu.Unlock()
	return resp, nil
}

// streamPaths are the event streams; they share the caps.
var streamPaths = []string{"/v1/queue/stream", "/v1/dispatches/stream"}

// TestStreamCaps: an API key may hold 8 event streams on a node, queue and
// dispatch streams together; the ninth is refused with a 429 problem, and
// closing one of the eight frees its slot (noticed at the stream's next
// keep-alive). Other keys are not affected; the node serves 512 streams in
// all, and refuses the next with a 503 problem.
func TestStreamCaps(t *testing.T) {
	tc := nodetest.New(t, 1)
	tn := tc.Leader(t)
	const perKey, perNode = 8, 512
	keys := make([]string, perNode/perKey+1)
	for i := range keys {
		keys[i] = tc.Key(t, access.RoleReception, fmt.Sprintf("Desk %d", i+1))
	}
	o := newStreamOpener(t, tn)

	var first []*http.Response
	for i := range perKey {
		resp, b := o.stream(keys[0], streamPaths[i%2])
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d of key 1: %d %s", i+1, resp.StatusCode, b)
		}
		first = append(first, resp)
	}
	for _, path := range streamPaths {
		resp, b := o.stream(keys[0], path)
		expectProblem(t, resp, b, http.StatusTooManyRequests, api.ProblemTooManyStreams, "")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}

	// Closing a stream frees its slot once the node notices, at the
	// stream's next write.
	first[0].Body.Close()
	nodetest.Eventually(t, "a closed stream's slot is free", func() error {
		resp, b := o.stream(keys[0], streamPaths[0])
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return nil
	})

	// The node's cap: the other keys fill it up to 512.
	for _, key := range keys[1 : perNode/perKey] {
		for i := range perKey {
			if resp, b := o.stream(key, streamPaths[i%2]); resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d: %d %s", i+1, resp.StatusCode, b)
			}
		}
	}
	resp, b := o.stream(keys[len(keys)-1], streamPaths[1])
	if p := expectProblem(t, resp, b, http.StatusServiceUnavailable, api.ProblemUnavailable, ""); !strings.Contains(p.Detail, "512 event streams") {
		t.Fatalf("node cap problem detail %q", p.Detail)
	}
}
