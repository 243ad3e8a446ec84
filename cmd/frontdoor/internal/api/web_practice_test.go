package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"

	"github.com/chromedp/chromedp"
)

// TestReceptionPagePracticeQuestion: the complaint screen asks "Who is
// their GP practice?" with the directory's practices by name and ODS code
// and "No GP / don't know". A man with a urine infection whose practice is
// Castlegate Medical Practice goes there (open on a Monday afternoon), the
// outcome names it and offers no registration; a second man with no GP goes
// to the centre's GP service and is offered registration: his record first,
// then the registration form. With the GP services shut a third goes to the
// ED and the outcome shows the gap in words.
func TestReceptionPagePracticeQuestion(t *testing.T) {
	tc, _ := newClockedCluster(t, 1, mondayAfternoon)
	url := tc.Nodes[0].URL
	desk := tc.Key(t, access.RoleReception, "Desk 7")

	d := newTab(t, "practice tab")
	d.signIn(url, desk)
	start := func(open chromedp.Action[chromedp.Void], practice string) {
		t.Helper()
		d.do("new attendance", append(d.newUnnamed(open, "burning when I pee", "urinary-symptoms"),
			chromedp.SendKeys(chromedp.CSS(`#complaint-form input[name="context.age"]`), "30"),
			set(`#complaint-form select[name="context.sex"]`, "male"))...)
		d.waitJS("the practices are listed", `(() => { const b = document.getElementById('practice-question'); return !!b && b.dataset.loaded === 'true'; })()`)
		d.do("their practice", set(`#complaint-form select[name="context.registered_practice"]`, practice))
	}

	start(chromedp.Click(chromedp.CSS("#nav-new")), "X99001")
	if got := d.text(`#practice-question label`); got != "Who is their GP practice?" {
		t.Fatalf("the question reads %q", got)
	}
	options := get(d, "the practice options", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#practice-question option')).map((o) => o.value + '=' + o.textContent)`))
	joined := strings.Join(options, "\n")
	if len(options) != 14 || !strings.Contains(joined, "none=No GP / don’t know") ||
		!strings.Contains(joined, "X99001=Castlegate Medical Practice (fictional) (X99001)") || !strings.Contains(joined, "X99007=Castle Hill Practice (fictional) (X99007)") {
		t.Fatalf("practice options:\n%s", joined)
	}
	d.checkA11y("complaint with the practice question")
	d.screenshot("03-practice-question")
	d.recordRequests()
	d.do("start", chromedp.Click(chromedp.CSS("#start-triage")), d.visible("#question"))
	d.answerAll(utiMan)
	d.waitText("#outcome-practice", "Castlegate Medical Practice (fictional) (X99001)")
	d.waitText("#outcome-service", "Castlegate Medical Practice same-day appointments")
	var body struct {
		Context struct {
			RegisteredPractice string `json:"registered_practice"`
		} `json:"context"`
	}
	for _, r := range d.requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/attendances" {
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if body.Context.RegisteredPractice != "X99001" {
		t.Fatalf("create request's registered_practice %q", body.Context.RegisteredPractice)
	}
	a := attendanceJSON(t, tc, desk, d.attr("#outcome", "data-attendance"))
	if jsonAt(a, "context", "registered_practice") != "X99001" || jsonAt(a, "routing", "decision", "service_id") != "gp-x99001" {
		t.Fatalf("stored %v, routed to %v", jsonAt(a, "context", "registered_practice"), jsonAt(a, "routing", "decision", "service_id"))
	}
	if get(d, "registration offered?", chromedp.Evaluate[bool](`!!document.querySelector('#registration-form, #registration-hint')`)) {
		t.Fatal("registration offered to someone with a GP")
	}
	d.checkA11y("outcome at their own practice")
	d.screenshot("05-outcome-own-practice")

	// No GP: the centre's GP service, and registration offered.
	nextPerson := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { const b = Array.from(document.querySelectorAll('#outcome button')).find((x) => x.textContent === 'Next person'); b.click(); return true; })()`)(ctx, tg)
		return err
	})
	start(nextPerson, "none")
	d.do("start", chromedp.Click(chromedp.CSS("#start-triage")), d.visible("#question"))
	d.answerAll(utiMan)
	d.waitText("#outcome-practice", "No GP / don’t know")
	d.waitText("#outcome-service", "Castlegate UCC GP Stream")
	d.waitText("#registration-hint", "find or add their patient record")
	d.checkA11y("outcome without a GP")
	d.screenshot("05-outcome-no-gp")
	a = attendanceJSON(t, tc, desk, d.attr("#outcome", "data-attendance"))
	if jsonAt(a, "context", "registered_practice") != "none" {
		t.Fatalf("stored %v, want none", jsonAt(a, "context", "registered_practice"))
	}
	d.do("add his record", chromedp.Click(chromedp.CSS("#registration-find")), d.visible("#find-form"),
		chromedp.Click(chromedp.CSS("#new-patient-btn")), d.visible("#patient-form"),
		chromedp.SendKeys(chromedp.CSS(`#patient-form input[name=given_name]`), "Tomasz"),
		chromedp.SendKeys(chromedp.CSS(`#patient-form input[name=family_name]`), "Nowak"),
		set(`#patient-form input[name=date_of_birth]`, "1999-03-14"),
		set(`#patient-form select[name=sex]`, "male"),
		chromedp.SendKeys(chromedp.CSS(`#patient-form input[name=postcode]`), "DY2 8AA"),
		chromedp.Click(chromedp.CSS("#create-patient")),
		d.visible("#registration-form"))
	d.do("register him", chromedp.Click(chromedp.CSS(`#registration-form input[name=consent]`)),
		chromedp.Click(chromedp.CSS("#register-btn")))
	d.waitText("#registered-practice", "registration")

	// With the centre's GP service and the access hub shut, nothing at the
	// GP level can see a third man: the outcome shows the gap in words.
	for _, id := range []string{"gp-ucc-stream", "gp-access-hub"} {
		if resp, b := tc.DoRetry(t, tc.Leader(t), http.MethodPost, "/v1/services/"+id+"/status", `{"status":"red"}`, nil); resp.StatusCode != http.StatusOK { // the admin: the desk key belongs to no service
			t.Fatalf("%s red: %d %s", id, resp.StatusCode, b)
		}
	}
	d.do("next person", nextPerson, d.visible("#clinician-now"))
	start(chromedp.Click(chromedp.CSS("#nav-new")), "none")
	d.do("start", chromedp.Click(chromedp.CSS("#start-triage")), d.visible("#question"))
	d.answerAll(utiMan)
	d.waitText("#outcome-service", "Emergency Department")
	d.waitText("#routing-gap", "Gap: No GP service could see them for a GP assessment (gp_assessment) within 24 hours, so they go to Castlegate General Hospital Emergency Department (fictional) instead.")
	d.checkA11y("outcome with a gap")
	d.screenshot("05-outcome-gap")
}
