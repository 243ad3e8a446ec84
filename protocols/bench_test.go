package protocols

import (
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// BenchmarkAnswerStep measures one Answer call in the middle of a chest-pain
// session (the screen answered; one tree question answered per op).
func BenchmarkAnswerStep(b *testing.B) {
	set := cleanSubset(b, Files())
	const id = "chest-pain"
	age := 58
	s, step, err := triage.Start(set, id, triage.Patient{AgeYears: &age, Sex: "male"})
	if err != nil {
		b.Fatal(err)
	}
	// Answer the screen with "no" so that the next question is the tree's first.
	for !step.Done && len(step.Questions) > 0 && step.Questions[0].ID[:len(triage.ScreenPrefix)] == triage.ScreenPrefix {
		if s, step, err = triage.Answer(set, s, triage.Reply{Question: step.Questions[0].ID, Value: DefaultAnswer(step.Questions[0])}); err != nil {
			b.Fatal(err)
		}
	}
	if step.Done {
		b.Fatal("session ended in the screen")
	}
	q := step.Questions[0]
	reply := triage.Reply{Question: q.ID, Value: "no"}
	if q.Type != triage.YesNo {
		reply.Value = triage.NotSure
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := triage.Answer(set, s, reply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndLint parses, links and lints the whole embedded set (what
// NewSet does before returning a set or its lint errors).
func BenchmarkLoadAndLint(b *testing.B) {
	files := Files()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(triage.Lint(files))
	}
	b.ReportMetric(float64(len(files)), "files")
	b.ReportMetric(float64(n), "lint-errors")
}
