package api_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cluster/care"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
)

// retentionRouteSamples: the review, and a purge (with nothing due in a
// fresh cluster it answers zero counts).
func retentionRouteSamples(*testing.T, *nodetest.Cluster) map[string]sampleFunc {
	return map[string]sampleFunc{
		"GET /v1/retention": func(*testing.T) (string, string) { return "/v1/retention", "" },
		"POST /v1/retention/purge": func(*testing.T) (string, string) {
			return "/v1/retention/purge", `{"approved_by":"Role Test, IG lead"}`
		},
	}
}

// snapshotIndexes lists the raft snapshots in a node's data dir, newest
// first, by index.
func snapshotIndexes(t *testing.T, dir string) []uint64 {
	t.Helper()
	store, err := raft.NewFileSnapshotStore(filepath.Join(dir, "raft"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, m := range metas {
		out = append(out, m.Index)
	}
	return out
}

// TestRetentionReviewAndPurgeOverHTTP, on a cluster whose proposers'
// clock is moved 8 years on: the review and the purge are admin only
// (403 for a reception key); a purge without approved_by is 422 and a
// purge with nothing due answers zero counts, neither changing the raft
// index; 8 years and a day on, the review lists the attendance by id and
// period only, the purge deletes it (404 after), counts it in
// frontdoor_retention_purged_total and leaves an audit event naming who
// approved; then every node holds one snapshot, taken after the purge.
func TestRetentionReviewAndPurgeOverHTTP(t *testing.T) {
	var offset atomic.Int64
	tc := nodetest.NewWith(t, 3, func(c *node.Config) {
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	leader := tc.Leader(t)
	resp, b := tc.Do(t, leader, http.MethodPost, "/v1/attendances",
		`{"complaint":"sore throat","patient":{"given_name":"Ada","family_name":"Lovelace","date_of_birth":"1990-12-10","nhs_number":"9434765919"}}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("attendance: %d %s", resp.StatusCode, b)
	}
	var att struct{ ID string }
	nodetest.DecodeJSON(t, b, &att)

	desk := tc.Key(t, access.RoleReception, "Desk")
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/retention", ""},
		{http.MethodPost, "/v1/retention/purge", `{"approved_by":"me"}`},
	} {
		resp, b := tc.Do(t, tc.Follower(t), r.method, r.path, r.body, nodetest.BearerHeader(desk))
		expectProblem(t, resp, b, http.StatusForbidden, api.ProblemForbidden, "")
	}

	index := func() uint64 { return tc.Leader(t).N.Store().CommitIndex() }
	before := index()
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/retention/purge", `{"approved_by":"  "}`, nil)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "approved_by")
	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/retention/purge", `{"approved_by":"J Smith, IG lead","limit":9999}`, nil)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "limit")
	for _, n := range []*nodetest.Node{tc.Follower(t), tc.Leader(t)} {
		resp, b = tc.Do(t, n, http.MethodPost, "/v1/retention/purge", `{"approved_by":"J Smith, IG lead"}`, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"attendances":0`) {
			t.Fatalf("purge with nothing due: %d %s", resp.StatusCode, b)
		}
	}
	if after := index(); after != before {
		t.Fatalf("refused and empty purges moved the raft index from %d to %d", before, after)
	}
	// A snapshot of the state with the attendance in it, on every node.
	for _, tn := range tc.Nodes {
		if err := tn.N.Store().CompactNow(); err != nil {
			t.Fatal(err)
		}
	}

	offset.Store(int64(time.Duration(8*366+1) * 24 * time.Hour))
	asOf := time.Now().Add(time.Duration(offset.Load())).UTC().Format(time.RFC3339)
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/retention?as_of="+asOf+"&consistency=leader", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("review: %d %s", resp.StatusCode, b)
	}
	var rv care.RetentionReview
	nodetest.DecodeJSON(t, b, &rv)
	if rv.Attendances != 1 || rv.Due[0].ID != att.ID || rv.Due[0].Period != care.PeriodAdult || !rv.Due[0].Open {
		t.Fatalf("review: %s", b)
	}
	for _, leak := range []string{"Lovelace", "9434765919", "1990"} {
		if strings.Contains(string(b), leak) {
			t.Fatalf("the review shows %s: %s", leak, b)
		}
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/v1/retention?as_of=yesterday", "", nil)
	expectProblem(t, resp, b, http.StatusUnprocessableEntity, api.ProblemInvalid, "as_of")

	resp, b = tc.Do(t, tc.Follower(t), http.MethodPost, "/v1/retention/purge",
		fmt.Sprintf(`{"approved_by":"J Smith, IG lead","as_of":%q}`, asOf), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("purge: %d %s", resp.StatusCode, b)
	}
	var got care.RetentionPurged
	nodetest.DecodeJSON(t, b, &got)
	if got.Attendances != 1 || got.AttendanceIDs[0] != att.ID || got.ByPeriod[care.PeriodAdult] != 1 || got.Remaining != 0 {
		t.Fatalf("purge: %s", b)
	}
	purgedAt := index()
	for _, tn := range tc.Nodes {
		tc.WaitCaughtUp(t, tn)
		resp, b := tc.Do(t, tn, http.MethodGet, "/v1/attendances/"+att.ID+"?consistency=stale", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: the purged attendance answers %d %s", tn.ID, resp.StatusCode, b)
		}
	}
	resp, b = tc.Do(t, tc.Leader(t), http.MethodGet, "/v1/audit?entity=retention/purge", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"approved_by":"J Smith, IG lead"`) ||
		!strings.Contains(string(b), `"retention.purge"`) || strings.Contains(string(b), "Lovelace") {
		t.Fatalf("purge audit: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.Do(t, tc.Follower(t), http.MethodGet, "/metrics", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `frontdoor_retention_purged_total{period="adult",record="attendance"} 1`) {
		t.Fatalf("metrics of the node that answered the purge: %d\n%s", resp.StatusCode, grepLines(string(b), "frontdoor_retention"))
	}

	// Every node compacts by itself: one snapshot left, taken after the
	// purge, so none holds the purged attendance.
	for _, tn := range tc.Nodes {
		nodetest.Eventually(t, tn.ID+" compacted after the purge", func() error {
			idx := snapshotIndexes(t, tn.Dir)
			if len(idx) != 1 || idx[0] < purgedAt {
				return fmt.Errorf("snapshots %v, purge at %d", idx, purgedAt)
			}
			return nil
		})
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
