package loadtest

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSynthNHSNumbers: every generated NHS number passes Modulus 11
// (checked here independently), is in the 999 test range and is typed
// with spaces as reception would.
func TestSynthNHSNumbers(t *testing.T) {
	s := newSynth(42, 1)
	format := regexp.MustCompile(`^999 \d{3} \d{4}$`)
	for range 2000 {
		n := s.nhsNumber()
		if !format.MatchString(n) {
			t.Fatalf("%q is not formatted 999 123 4567", n)
		}
		d := strings.ReplaceAll(n, " ", "")
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * (10 - i)
		}
		check := (11 - sum%11) % 11
		if check == 10 || int(d[9]-'0') != check {
			t.Fatalf("%s fails Modulus 11 (check digit %d)", n, check)
		}
		if strings.Count(d, d[:1]) == 10 {
			t.Fatalf("%s repeats one digit", n)
		}
	}
}

// TestSynthAttendances: plausible people, reproducible per seed.
func TestSynthAttendances(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	a, b := newSynth(7, 3), newSynth(7, 3)
	unknown, withNHS := 0, 0
	for i := range 1000 {
		x, y := a.attendance(now), b.attendance(now)
		if x != y {
			t.Fatalf("iteration %d differs for the same seed: %+v vs %+v", i, x, y)
		}
		if x.Complaint == "" || x.Channel != "walk_in" {
			t.Fatalf("attendance %+v", x)
		}
		if x.Patient.GivenName == "" {
			unknown++
			continue
		}
		dob, err := time.Parse("2006-01-02", x.Patient.DateOfBirth)
		if err != nil || dob.After(now) || now.Sub(dob) > 97*365*24*time.Hour {
			t.Fatalf("date of birth %q", x.Patient.DateOfBirth)
		}
		if x.Patient.NHSNumber != "" {
			withNHS++
		}
	}
	if unknown < 5 || unknown > 50 || withNHS < 350 || withNHS > 650 {
		t.Fatalf("%d unknown attendees, %d with an NHS number in 1000", unknown, withNHS)
	}
	for _, q := range []struct {
		kind    string
		allowed []string
		ok      func(string) bool
	}{
		{"yes_no", []string{"yes", "no", "not_sure"}, func(v string) bool { return v == "yes" || v == "no" || v == "not_sure" }},
		{"choice", []string{"a", "b"}, func(v string) bool { return v == "a" || v == "b" }},
	} {
		for range 200 {
			if v := a.answer(q.kind, nil, nil, q.allowed, len(q.allowed)); !q.ok(v) {
				t.Fatalf("%s answer %q", q.kind, v)
			}
		}
	}
	lo, hi := 30.0, 40.0
	for range 200 {
		v := a.answer("number", &lo, &hi, nil, 0)
		if n, err := strconv.Atoi(v); err != nil || n < 30 || n > 40 {
			t.Fatalf("number answer %q outside 30..40", v)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	res := &runResult{stats: &Stats{}, started: time.Now().Add(-5 * time.Second)}
	res.stats.ok.Store(500)
	res.stats.retried.Store(3)
	printProgress(runConfig{progress: &b, duration: 10 * time.Second}, res, 510)
	line := b.String()
	if !strings.HasPrefix(line, "[============            ]  50%") || !strings.Contains(line, "ok 500  failed 0  retries 3") ||
		!strings.HasSuffix(line, "ops/s\n") {
		t.Fatalf("progress line %q", line)
	}
}
