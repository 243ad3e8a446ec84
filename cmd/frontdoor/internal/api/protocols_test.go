package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/api"
	"github.com/frontdoor-ucc/frontdoor/cmd/frontdoor/internal/node/nodetest"
	"github.com/frontdoor-ucc/frontdoor/protocols"
)

// TestProtocolSearchAPI: GET /v1/protocols?q= finds the protocol for a
// sentence in the person's words, says which words matched, ranks by the
// age and sex given, answers [] (not null) when nothing matches, and
// refuses an unreadable age or sex with the field named.
func TestProtocolSearchAPI(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	n := tc.Leader(t)
	search := func(query string) (int, string, api.ProtocolList) {
		t.Helper()
		resp, b := tc.Do(t, n, http.MethodGet, "/v1/protocols?"+query, "", desk)
		var list api.ProtocolList
		if resp.StatusCode == http.StatusOK {
			nodetest.DecodeJSON(t, b, &list)
		}
		return resp.StatusCode, string(b), list
	}
	q := url.Values{"q": {"my little boy has had diarea since last night, no temperature"}, "age_years": {"3"}, "sex": {"male"}}
	code, body, list := search(q.Encode())
	if code != http.StatusOK || list.Search == nil || len(*list.Search) == 0 {
		t.Fatalf("search: %d %s", code, body)
	}
	first := (*list.Search)[0]
	if first.ID != "diarrhoea-vomiting" || len(first.Words) == 0 || first.Words[0].How != "spelling" || first.Why == "" {
		t.Fatalf("first hit %+v, want diarrhoea-vomiting with diarea read as a spelling", first)
	}
	for _, h := range *list.Search {
		if strings.HasPrefix(h.ID, "fever") {
			t.Errorf("fever offered although the temperature was said to be absent: %+v", h)
		}
	}
	// The same words rank by age: a fever for a 2-year-old and a 40-year-old.
	for age, want := range map[string]string{"2": "fever-under-5", "40": "fever-adult"} {
		_, body, list := search(url.Values{"q": {"burning up, high temperature"}, "age_years": {age}}.Encode())
		if list.Search == nil || len(*list.Search) < 2 || (*list.Search)[0].ID != want {
			t.Errorf("aged %s: %s, want %s first", age, body, want)
		}
	}
	// Nothing matches: [] not null.
	code, body, _ = search("q=xyzzy")
	if code != http.StatusOK || !strings.Contains(body, `"search":[]`) {
		t.Errorf("no match: %d %s, want \"search\":[]", code, body)
	}
	// Bad age or sex: 422 naming the field, as every invalid input.
	for _, bad := range []string{"q=rash&age_years=-1", "q=rash&age_years=2&age_weeks=3", "q=rash&sex=dog", "q=rash&age_months=x"} {
		code, body, _ := search(bad)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"errors"`) {
			t.Errorf("%s: %d %s, want 422 naming the field", bad, code, body)
		}
	}
}

// TestWorkflowProtocolVersions: an upload is linted (file:line problems),
// activation is deliberate, and an attendance in progress keeps the version
// it started with.
func TestWorkflowProtocolVersions(t *testing.T) {
	tc, _ := newClockedCluster(t, 3, mondayAfternoon)
	desk := nodetest.BearerHeader(tc.Key(t, access.RoleReception, "Desk 1"))
	resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodGet, "/v1/protocols?q=burning+pee", "", desk)
	var list api.ProtocolList
	nodetest.DecodeJSON(t, b, &list)
	if resp.StatusCode != http.StatusOK || list.Search == nil || len(*list.Search) == 0 || (*list.Search)[0].ID != "urinary-symptoms" || len(list.Protocols) < 20 {
		t.Fatalf("search: %d %s", resp.StatusCode, b)
	}
	old := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	src, err := protocolSource("urinary-symptoms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var oldVersion int
	fmt.Sscanf(src[strings.Index(src, "\nversion: ")+1:], "version: %d", &oldVersion)
	newSrc := strings.Replace(src, fmt.Sprintf("\nversion: %d\n", oldVersion), fmt.Sprintf("\nversion: %d\n", oldVersion+1), 1)
	newSrc = strings.Replace(newSrc, "\ntitle: ", "\ntitle: Revised ", 1)
	// A broken file is refused with file:line errors and changes nothing.
	broken := strings.Replace(newSrc, "    tier: pharmacy\n", "    tier: chemist\n", 1)
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", broken, map[string]string{"Content-Type": "application/yaml"})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), "urinary-symptoms.yaml:") {
		t.Fatalf("broken upload: %d %s", resp.StatusCode, b)
	}
	resp, b = tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", newSrc, map[string]string{"Content-Type": "application/yaml"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	if resp, b := tc.DoRetry(t, tc.Follower(t), http.MethodPost, "/v1/protocols", newSrc, map[string]string{"Content-Type": "application/yaml"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second upload of the same version: %d %s", resp.StatusCode, b)
	}
	// Uploaded, not active: new attendances still start on the old version.
	mid := createAttendance(t, tc, tc.Leader(t), utiWomanBody, desk)
	if mid.Triage.Session.Version != oldVersion {
		t.Fatalf("upload activated by itself: version %d", mid.Triage.Session.Version)
	}
	resp, b = tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/protocols/urinary-symptoms/activate", fmt.Sprintf(`{"version":%d}`, oldVersion+1), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("activate: %d %s", resp.StatusCode, b)
	}
	fresh := createAttendance(t, tc, tc.Follower(t), utiWomanBody, desk)
	if fresh.Triage.Session.Version != oldVersion+1 || fresh.Triage.Session.Hash == old.Triage.Session.Hash {
		t.Fatalf("new attendance on version %d", fresh.Triage.Session.Version)
	}
	// The attendance in progress finishes on its own version.
	done := walkTriage(t, tc, tc.Leader(t), old, utiWoman, desk)
	if done.Triage.Session.Version != oldVersion || done.Triage.Session.Hash != old.Triage.Session.Hash || done.service() != "ph-high-street" {
		t.Fatalf("attendance in progress: version %d service %s", done.Triage.Session.Version, done.service())
	}
}

// protocolSource is an embedded protocol file's text.
func protocolSource(name string) (string, error) {
	b, ok := protocols.Files()[name]
	if !ok {
		return "", fmt.Errorf("no embedded %s", name)
	}
	return string(b), nil
}
