package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster"
)

// TestProtocolSearchAPI: GET /v1/protocols?q= finds the protocol for a
// sentence in the person's words, says which words matched, ranks by the
// age and sex given, answers [] (not null) when nothing matches, and
// refuses an unreadable age or sex with the field named.
func TestProtocolSearchAPI(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	desk := bearerHeader(tc.Key(t, cluster.RoleReception, "Desk 1"))
	n := tc.Leader(t)
	search := func(query string) (int, string, protocolList) {
		t.Helper()
		resp, b := tc.Do(t, n, http.MethodGet, "/v1/protocols?"+query, "", desk)
		var list protocolList
		if resp.StatusCode == http.StatusOK {
			decodeJSON(t, b, &list)
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
