package routing

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateDecisions = flag.Bool("update-decisions", false, "rewrite testdata/decisions.sha256")

// decisionCase is one Route call of the sequence decisionCases plays.
type decisionCase struct {
	name string
	dir  *Directory
	need Need
	p    Patient
	now  time.Time
}

// decisionCases routes patients of every kind a receptionist meets (an
// infant in weeks, age or sex unknown, no postcode, registered or not,
// away from home) to every tier, with and without care needs, at a
// weekday afternoon, a Sunday night and a bank holiday, over the demo
// directory, the test directories and a synthetic 400-service one.
func decisionCases(t testing.TB) []decisionCase {
	t.Helper()
	dirs := map[string]*Directory{}
	demo, err := DemoDirectory()
	if err != nil {
		t.Fatal(err)
	}
	dirs["demo"] = demo
	for _, f := range []string{"eligibility_directory.json", "ranking_directory.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		d, err := LoadDirectory(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dirs[strings.TrimSuffix(f, "_directory.json")] = d
	}
	syn, err := SyntheticDirectory(1, 400)
	if err != nil {
		t.Fatal(err)
	}
	dirs["synthetic"] = syn

	patients := map[string]Patient{
		"adult_f":      PatientAged(30, "female", "SY3 2AA"),
		"older_m":      PatientAged(80, "male", "SY7 1AA"),
		"infant_6w":    {AgeKnown: true, AgeDays: 42, Sex: "male", Postcode: "DY4 1AC"},
		"age_unknown":  {Sex: "female", Postcode: "DY4 1AC"},
		"sex_unknown":  {AgeKnown: true, AgeDays: AgeDaysFromYears(40), Postcode: "DY4 7AB"},
		"no_postcode":  PatientAged(25, "male", ""),
		"home_visit":   {AgeKnown: true, AgeDays: AgeDaysFromYears(85), Sex: "female", Postcode: "DY4 1AC", AtUsualResidence: true},
		"registered":   {AgeKnown: true, AgeDays: AgeDaysFromYears(50), Sex: "male", Postcode: "DY4 1AC", RegisteredPractice: "M88001"},
		"child_3":      PatientAged(3, "female", "SY3 2AA"),
		"nothing_said": {},
	}
	needs := map[string]Need{
		"self_care_1w":   {MinTier: TierSelfCare, WithinMinutes: 7 * 24 * 60},
		"pharmacy_uti":   {MinTier: TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"pharmacy_first:uti"}},
		"pharmacy_12h":   {MinTier: TierPharmacy, WithinMinutes: 720},
		"gp_now":         {MinTier: TierGP, Immediate: true, CareNeeds: []string{"minor_illness"}},
		"gp_2h_eye":      {MinTier: TierGP, WithinMinutes: 120, CareNeeds: []string{"eye"}, Dx: "Dx32"},
		"gp_24h":         {MinTier: TierGP, WithinMinutes: 24 * 60},
		"dental_24h":     {MinTier: TierGP, WithinMinutes: 24 * 60, CareNeeds: []string{"dental"}},
		"rapid_2h":       {MinTier: TierRapidResponse, WithinMinutes: 120},
		"injury_4h":      {MinTier: TierGP, WithinMinutes: 240, CareNeeds: []string{"minor_injury", "xray"}},
		"ed_now":         {MinTier: TierED, Immediate: true},
		"unknown_need":   {MinTier: TierGP, WithinMinutes: 60, CareNeeds: []string{"no_such_care"}},
		"maternity_1h":   {MinTier: TierED, WithinMinutes: 60, CareNeeds: []string{"maternity"}},
		"mental_health":  {MinTier: TierGP, WithinMinutes: 240, CareNeeds: []string{"mental_health"}},
		"pharmacy_4h_rx": {MinTier: TierPharmacy, WithinMinutes: 240, CareNeeds: []string{"emergency_supply"}},
	}
	times := map[string]time.Time{
		"weekday_1400": time.Date(2026, 11, 24, 14, 0, 0, 0, London),
		"sunday_2330":  time.Date(2026, 11, 29, 23, 30, 0, 0, London),
		"boxing_day":   time.Date(2026, 12, 26, 9, 0, 0, 0, London),
		"closing_1745": time.Date(2026, 11, 25, 17, 45, 0, 0, London),
	}
	var out []decisionCase
	for _, dn := range sortedKeys(dirs) {
		for _, nn := range sortedKeys(needs) {
			for _, pn := range sortedKeys(patients) {
				for _, tn := range sortedKeys(times) {
					out = append(out, decisionCase{name: dn + "/" + nn + "/" + pn + "/" + tn,
						dir: dirs[dn], need: needs[nn], p: patients[pn], now: times[tn]})
				}
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// TestDecisionJSONUnchanged: a Decision encodes byte for byte as it did
// when rejections were kept as a []Rejection with their texts (the
// hashes in testdata/decisions.sha256 were written by that code), under
// both rules versions, including decisions made against a load that
// fills sessions (full, busier). The stored routing decisions of every
// replicated log entry depend on it.
func TestDecisionJSONUnchanged(t *testing.T) {
	var got bytes.Buffer
	loads := map[*Directory]*Load{}
	for _, c := range decisionCases(t) {
		for _, rules := range []int{RulesCodes, RulesWords} {
			load := loads[c.dir]
			if load == nil {
				load = &Load{}
				loads[c.dir] = load
			}
			dec, err := RouteRules(c.need, c.p, c.now, c.dir, load, rules)
			var b []byte
			if err != nil {
				b = []byte("error: " + err.Error())
			} else if b, err = json.Marshal(dec); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err == nil && rules == RulesWords {
				load.Add(dec.Allocation) // later cases meet fuller sessions
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(&got, "%s/rules%d %s\n", c.name, rules, hex.EncodeToString(sum[:12]))
		}
	}
	path := filepath.Join("testdata", "decisions.sha256")
	if *updateDecisions {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got.Bytes(), want) {
		return
	}
	ws := bufio.NewScanner(bytes.NewReader(want))
	gs := bufio.NewScanner(bytes.NewReader(got.Bytes()))
	bad := 0
	for ws.Scan() {
		if !gs.Scan() {
			t.Fatalf("fewer decisions than %s", path)
		}
		if ws.Text() != gs.Text() {
			if bad++; bad <= 10 {
				t.Errorf("changed: %s (was %s)", gs.Text(), ws.Text())
			}
		}
	}
	t.Fatalf("%d decisions encode differently from %s", bad, path)
}

// TestRejectionsRenderedForms: the compact list reads the same through
// At, All, List and JSON; it decodes to a list that encodes the same;
// and an empty list is omitted where omitzero asks, as omitempty did.
func TestRejectionsRenderedForms(t *testing.T) {
	for _, c := range decisionCases(t)[:400] {
		dec, err := Route(c.need, c.p, c.now, c.dir, &Load{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		compact, err := json.Marshal(dec.Rejections)
		if err != nil {
			t.Fatal(err)
		}
		list := dec.Rejections.List()
		plain, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact, plain) {
			t.Fatalf("%s: compact JSON\n%s\nlist JSON\n%s", c.name, compact, plain)
		}
		if dec.Rejections.Len() != len(list) || len(list) == 0 {
			t.Fatalf("%s: Len %d, List %d", c.name, dec.Rejections.Len(), len(list))
		}
		for i, r := range dec.Rejections.All() {
			if r != list[i] || dec.Rejections.At(i) != r {
				t.Fatalf("%s: rejection %d: All %+v, List %+v", c.name, i, r, list[i])
			}
		}
		var back Rejections
		if err := json.Unmarshal(compact, &back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(again, compact) || back.Len() != len(list) || back.At(0) != list[0] {
			t.Fatalf("%s: decoded list encodes as\n%s\nwant\n%s", c.name, again, compact)
		}
	}
	type withOmit struct {
		R Rejections `json:"r,omitzero"`
	}
	for _, tc := range []struct {
		r    Rejections
		want string
	}{
		{Rejections{}, `{}`},
		{Rejected([]Rejection{}), `{}`},
		{Rejected([]Rejection{{ServiceID: "a<b", Tier: TierGP, Code: RejectClosed, Reason: "closed \"now\" é"}}),
			`{"r":[{"service_id":"a\u003cb","tier":"gp","code":"closed","reason":"closed \"now\" é"}]}`},
	} {
		b, err := json.Marshal(withOmit{tc.r})
		if err != nil || string(b) != tc.want {
			t.Errorf("got %s (%v), want %s", b, err, tc.want)
		}
	}
	var null struct {
		R Rejections `json:"r"`
	}
	if b, _ := json.Marshal(null); string(b) != `{"r":null}` {
		t.Errorf("a zero list encodes as %s, want null as a nil slice did", b)
	}
}

// TestRejectionsOutliveTheirDirectory: a decision reads the same after
// its directory is changed and indexed again, because it renders from
// the index it was routed over.
func TestRejectionsOutliveTheirDirectory(t *testing.T) {
	d, err := SyntheticDirectory(2, 300)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 14, 0, 0, 0, London)
	dec, err := Route(Need{MinTier: TierGP, WithinMinutes: 240}, PatientAged(9, "male", ""), now, d, &Load{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := json.Marshal(dec)
	for i := range d.Services {
		d.Services[i].ID += "-renamed"
		d.Services[i].Eligibility = Eligibility{}
	}
	if err := d.ValidateStructure(); err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(dec)
	if !bytes.Equal(before, after) {
		t.Fatalf("the decision changed with its directory:\n%s\n%s", before, after)
	}
	if strings.Contains(string(after), "-renamed") {
		t.Fatal("renamed services leaked into an old decision")
	}
}

// TestMemoNumbersEveryText: texts past the fixed table are numbered on,
// so a call with more distinct texts than the table holds still renders
// each rejection with its own.
func TestMemoNumbersEveryText(t *testing.T) {
	m := &memo{}
	var ws []why
	for i := range 100 {
		k := memoKey{kind: 5, a: int64(i)}
		if _, ok := m.lookup(k); ok && i < len(m.entries) {
			t.Fatalf("key %d found before it was put", i)
		}
		ws = append(ws, m.put(k, RejectClosed, fmt.Sprintf("closed until %d", i)))
	}
	texts := m.texts()
	c := considered{texts: texts}
	for i, w := range ws {
		code, text := c.render(w, nil)
		if code != RejectClosed || text != fmt.Sprintf("closed until %d", i) {
			t.Fatalf("text %d renders as %s %q", i, code, text)
		}
	}
	if w, ok := m.lookup(memoKey{kind: 5, a: 7}); !ok || w != ws[7] {
		t.Fatalf("lookup of a kept text: %v %v, want %v", w, ok, ws[7])
	}
}
