package protocols

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// TestQuestionsComeBackFromTheSet: every question a protocol of the
// embedded set asks, on walks that answer yes, no, not sure, a choice or a
// number in range at random, is triage.Set.QuestionFor(its presentation,
// its id) exactly, and every question step of an outcome's path holds
// NodeQuestion's text for its node. So a session stored with only the ids
// of the questions it waits for, and its path without their texts, is had
// back whole from its pinned set (cluster/care record.go).
func TestQuestionsComeBackFromTheSet(t *testing.T) {
	set, _, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 13))
	asked, steps := 0, 0
	for _, pr := range set.Presentations {
		for walk := range 8 {
			age := []int{0, 2, 9, 30, 45, 70, 88, 17}[walk]
			s, step, err := triage.Start(set, pr.ID, triage.Patient{AgeYears: &age, Sex: []string{"female", "male"}[walk%2]})
			if err != nil {
				continue // not for this patient
			}
			for n := 0; len(step.Questions) > 0 && n < 100; n++ {
				var rs []triage.Reply
				for _, q := range step.Questions {
					want, ok := set.QuestionFor(pr.ID, q.ID)
					if !ok || !reflect.DeepEqual(want, q) || !want.Equal(&q) {
						t.Fatalf("%s: question %s asked as\n%+v\nQuestionFor gives (%v)\n%+v", pr.ID, q.ID, q, ok, want)
					}
					asked++
					v := []string{triage.No, triage.No, triage.Yes, triage.NotSure}[rng.IntN(4)]
					switch {
					case len(q.Choices) > 0:
						v = q.Choices[rng.IntN(len(q.Choices))].Value
					case q.Type != triage.YesNo && q.Min != nil && q.Max != nil:
						v = strconv.FormatFloat(*q.Min+(*q.Max-*q.Min)*rng.Float64(), 'f', 0, 64)
					case q.Type != triage.YesNo:
						v = triage.NotSure
					}
					rs = append(rs, triage.Reply{Question: q.ID, Value: v})
				}
				if s, step, err = triage.Answer(set, s, rs...); err != nil {
					t.Fatalf("%s: %v", pr.ID, err)
				}
			}
			if step.Outcome == nil {
				continue
			}
			for _, ps := range step.Outcome.Path {
				if ps.Kind != "question" {
					continue
				}
				text, ok := set.NodeQuestion(ps.Protocol, ps.Node)
				if !ok || text != ps.Question {
					t.Fatalf("%s: path step %s/%s holds %q, NodeQuestion %q (%v)", pr.ID, ps.Protocol, ps.Node, ps.Question, text, ok)
				}
				steps++
			}
		}
	}
	if asked < 1000 || steps < 1000 {
		t.Fatalf("only %d questions and %d path steps compared", asked, steps)
	}
	// Equal tells apart what encodes differently.
	age := 40
	_, first, err := triage.Start(set, set.Presentations[0].ID, triage.Patient{AgeYears: &age})
	if err != nil || len(first.Questions) == 0 {
		t.Fatalf("no first question: %v", err)
	}
	q := first.Questions[0]
	for i, change := range []func(*triage.Question){
		func(c *triage.Question) { c.Text += "?" },
		func(c *triage.Question) { c.Allowed = nil },
		func(c *triage.Question) { c.Allowed = append(c.Allowed, "x") },
		func(c *triage.Question) { c.Choices = append(c.Choices, triage.QuestionChoice{Value: "v"}) },
		func(c *triage.Question) { m := 1.0; c.Min = &m },
		func(c *triage.Question) { c.FollowUp = !c.FollowUp },
		func(c *triage.Question) { c.Group += "x" },
	} {
		c := q
		c.Allowed = append([]string{}, q.Allowed...)
		if !c.Equal(&q) || q.Allowed == nil {
			t.Fatalf("a copy of %+v is not Equal to it", q)
		}
		change(&c)
		if c.Equal(&q) {
			t.Errorf("change %d: %+v is Equal to %+v", i, c, q)
		}
	}
	if _, ok := set.QuestionFor("no-such-protocol", "x"); ok {
		t.Error("a question of an unknown protocol")
	}
	if _, ok := set.QuestionFor(set.Presentations[0].ID, triage.ScreenPrefix+"no-such-node"); ok {
		t.Error("an unknown screen node")
	}
}
