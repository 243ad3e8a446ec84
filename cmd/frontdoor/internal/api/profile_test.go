package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// TestProfilesForAdministrators: an administrator gets this node's CPU and
// heap profiles in pprof's gzipped format; another role is refused; an
// unknown profile is 404 and a CPU profile longer than the server's write
// timeout allows is 422.
func TestProfilesForAdministrators(t *testing.T) {
	tc := nodetest.New(t, 1)
	tn := tc.Leader(t)
	for _, path := range []string{"/debug/pprof/heap", "/debug/pprof/allocs?debug=1", "/debug/pprof/profile?seconds=1"} {
		resp, b := tc.Do(t, tn, http.MethodGet, path, "", nil)
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Fatalf("%s: %d, %d bytes starting %q; want a gzipped pprof profile", path, resp.StatusCode, len(b), b[:min(len(b), 16)])
		}
	}
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	if resp, b := tc.Do(t, tn, http.MethodGet, "/debug/pprof/heap", "", desk); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("reception reading a profile: %d %s", resp.StatusCode, b)
	}
	if resp, b := tc.Do(t, tn, http.MethodGet, "/debug/pprof/everything", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown profile: %d %s", resp.StatusCode, b)
	}
	resp, b := tc.Do(t, tn, http.MethodGet, "/debug/pprof/profile?seconds=60", "", nil)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, "/problems/invalid", "seconds")
}
