package inputlimit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC) // 6 December in London
	tests := []struct {
		name  string
		doc   string
		field string // "" = accepted
	}{
		{"a plain body", `{"patient":{"given_name":"Ann","family_name":"O'Neill","date_of_birth":"1951-03-02"},"complaint":"fell\nhit head"}`, ""},
		{"names in other scripts", `{"given_name":"Zoë","family_name":"Nguyễn Thị","name":"مركز"}`, ""},
		{"free text keeps tabs and newlines", `{"note":"line 1\r\n\tline 2"}`, ""},
		{"a 900 KB address", `{"address":"` + strings.Repeat("x", 900<<10) + `"}`, "address"},
		{"address at its limit", `{"address":"` + strings.Repeat("x", 500) + `"}`, ""},
		{"address one over", `{"address":"` + strings.Repeat("x", 501) + `"}`, "address"},
		{"a long given name", `{"patient":{"given_name":"` + strings.Repeat("a", 101) + `"}}`, "patient.given_name"},
		{"limit by field name in any case", `{"Given_Name":"` + strings.Repeat("a", 101) + `"}`, "Given_Name"},
		{"an array element", `{"dispatch":{"safeguarding":["ok","` + strings.Repeat("s", 501) + `"]}}`, "dispatch.safeguarding[1]"},
		{"an unlisted field takes the default", `{"whatever":"` + strings.Repeat("w", 1001) + `"}`, "whatever"},
		{"invalid UTF-8", "{\"given_name\":\"An\xffn\"}", BodyField},
		{"an unpaired surrogate escape", `{"given_name":"An\ud800n"}`, "given_name"},
		{"NUL in a name", `{"given_name":"Ann\u0000"}`, "given_name"},
		{"escape in a name", `{"family_name":"Smith\u001b[2J"}`, "family_name"},
		{"newline in a name", `{"family_name":"Smith\nJones"}`, "family_name"},
		{"C1 control in text", `{"note":"a\u0085b"}`, "note"},
		{"right-to-left override in a name", `{"given_name":"Ann\u202egnp.exe"}`, "given_name"},
		{"left-to-right isolate in a name", `{"name":"Desk\u2066 1"}`, "name"},
		{"right-to-left mark in a name", `{"family_name":"Smith\u200f"}`, "family_name"},
		{"bidi override in free text", `{"note":"see \u202d note"}`, "note"},
		{"byte order mark in text", `{"note":"\ufeffnote"}`, "note"},
		{"duplicate key", `{"given_name":"Ann","given_name":"Bob"}`, "given_name"},
		{"duplicate key by escape", `{"role":"reception","\u0072ole":"admin"}`, "role"},
		{"duplicate key by case", `{"role":"reception","ROLE":"admin"}`, "ROLE"},
		{"duplicate key nested", `{"patient":{"nhs_number":"9434765919","nhs_number":"4010232137"}}`, "patient.nhs_number"},
		{"duplicate key whose first value broke a limit", `{"date_of_birth":"1800-01-01","date_of_birth":"1970-01-01"}`, "date_of_birth"},
		{"same key in sibling objects", `{"a":{"id":"1"},"b":{"id":"2"}}`, ""},
		{"a long key", `{"` + strings.Repeat("k", MaxKeyLen+1) + `":1}`, BodyField},
		{"deep nesting", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), BodyField},
		{"date of birth in 1800", `{"patient":{"date_of_birth":"1800-01-01"}}`, "patient.date_of_birth"},
		{"date of birth 1899-12-31", `{"date_of_birth":"1899-12-31"}`, "date_of_birth"},
		{"date of birth 1900-01-01", `{"date_of_birth":"1900-01-01"}`, ""},
		{"date of birth today in London", `{"date_of_birth":"2026-12-06"}`, ""},
		{"date of birth tomorrow", `{"date_of_birth":"2026-12-07"}`, "date_of_birth"},
		{"malformed date left to the command", `{"date_of_birth":"12/03/1950"}`, ""},
		{"malformed JSON", `{"a":`, BodyField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Check([]byte(tt.doc), now)
			if tt.field == "" {
				if f != nil {
					t.Fatalf("refused: %v", f)
				}
				return
			}
			if _, ok := f[tt.field]; !ok {
				t.Fatalf("problems %v do not name %q", f, tt.field)
			}
		})
	}
}

// TestDateOfBirthAgainstLondonDate: just after midnight in London during
// summer time the UTC date is still yesterday; a baby born today is not
// in the future.
func TestDateOfBirthAgainstLondonDate(t *testing.T) {
	now := time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC) // 00:30 on 2 July in London
	if f := Check([]byte(`{"date_of_birth":"2026-07-02"}`), now); f != nil {
		t.Fatalf("refused: %v", f)
	}
	if f := Check([]byte(`{"date_of_birth":"2026-07-03"}`), now); f == nil {
		t.Fatal("a date of birth after today accepted")
	}
}

func TestClean(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"dial tcp: refused", 100, "dial tcp: refused"},
		{"a\x00b\u202ec\xffd\ufffde\n", 100, "abcde\n"},
		{"ééé", 5, "éé"}, // never half a character
	} {
		got := Clean(tt.in, tt.max)
		if got != tt.want || Check([]byte(`{"error":"`+strings.ReplaceAll(got, "\n", `\n`)+`"}`), time.Time{}) != nil {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// FuzzCheckMatchesReference: on any valid JSON the scanner reports
// exactly what the reference walk on encoding/json's token reader does;
// on anything else it reports a problem and does not panic.
func FuzzCheckMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{"patient":{"given_name":"Ann","family_name":"O'Neill","date_of_birth":"1951-03-02"},"complaint":"fell\nhit head"}`,
		`{"a":{"id":"1"},"b":{"id":"2"},"c":[1,2.5e3,-0,true,false,null,"x"]}`,
		`{"role":"reception","\u0072ole":"admin","ROLE":"x","Σ":1,"ς":2}`,
		`{"given_name":"An\ud800n","x":"\ud83d\ude00","y":"\ud800\u0041","z":"\udc00"}`,
		`{"note":"a\u0085b\u202e\ufeff\u2028","name":"t\tab","Date_Of_Birth":"1800-01-01"}`,
		`{"a.b":{"c[1]":"` + strings.Repeat("x", 1001) + `"},"date_of_birth":"2999-01-01","date_of_birth":"1800-01-01"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`"top"`, `[]`, `{}`, `{"":""}`, `{"k":[{"k":"v"},{"k":"v"}]}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"A":18}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc []byte) {
		got := Check(doc, now)
		if !json.Valid(doc) {
			if got == nil && utf8.Valid(doc) {
				t.Fatalf("%q is not JSON, but Check found nothing", doc)
			}
			return
		}
		want := checkReference(doc, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nscanner   %v\nreference %v", doc, got, want)
		}
	})
}
