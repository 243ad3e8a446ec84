package complaint

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/agnivade/levenshtein"
)

// Query is what the receptionist typed, and what is known of the person.
type Query struct {
	Text string
	// AgeDays is the person's age in days; nil when unknown.
	AgeDays *int
	// Sex is "female", "male" or "" (unknown).
	Sex string
}

// Hit is one presentation that matches, with why.
type Hit struct {
	ID    string  `json:"id"`
	Title string  `json:"title"`
	Score float64 `json:"score"`
	// Matched is the title or synonym that matched best.
	Matched string `json:"matched,omitempty"`
	// Words are the person's words that counted for this presentation.
	Words []Word `json:"words"`
	// Ignored are words of this presentation that the person said were
	// absent ("no rash"): they did not count.
	Ignored []string `json:"ignored,omitempty"`
	// Demoted says why the presentation is ranked lower for this person
	// (age or sex outside who usually has it); it is never hidden.
	Demoted string `json:"demoted,omitempty"`
	// Why is the explanation in one line.
	Why string `json:"why"`
}

// Word is one of the person's words that matched a presentation.
type Word struct {
	Said string `json:"said"`
	// As is the word of the presentation it matched, when spelled
	// differently ("diarea" as "diarrhoea", "nose bleed" as "nosebleed").
	As string `json:"as,omitempty"`
	// How: "word" (the same word or another form of it: "scalded",
	// "scald"), "spelling" (a likely misspelling) or "joined" (two words
	// written as one).
	How string `json:"how"`
}

// Demotion factors: who usually has a presentation, and who may start it.
const (
	outsideUsual     = 0.5
	outsideAppliesTo = 0.3
	hintedFactor     = 0.8 // an age guessed from "baby" or "toddler" counts less
	spellingWeight   = 0.8
	partialWeight    = 0.7 // a word met only inside longer synonyms
	triggerWeight    = 0.5 // "hurts when he coughs": what brings it on, not what is wrong
)

// qterm is one term of the query.
type qterm struct {
	id      int32
	pos     int // position among the query's meaningful words
	negated bool
	said    string
	as      string
	how     string
	weight  float64
	// trigger: the first word after "when" ("hurts when he coughs"):
	// what brings the complaint on, not what is wrong
	trigger bool
}

// Search ranks the presentations for the query, best first. No match is
// an empty (non-nil) slice. It is deterministic: ties break by id.
func (ix *Index) Search(q Query) []Hit {
	qts, childHint := ix.queryTerms(q.Text)
	hits := []Hit{}
	if len(qts) == 0 {
		return hits
	}
	type acc struct {
		score         float64
		bestPhrase    float64
		matched       string
		phraseSum     float64
		words         map[string]Word
		ignored       []string
		anyPositive   bool
		phraseMatched bool
	}
	accs := make([]acc, len(ix.docs))
	// Phrases: a title or synonym whose every word is in the query, close
	// together, scores as it would alone, however long the sentence. The
	// longest match wins its words: "burning up" (a fever) takes "burning"
	// from "burn" (a burn), as a reader takes the longer phrase.
	type match struct {
		doc, phrase int
		w           float64
		used        []int // indexes into qts
		negated     bool
	}
	var matches []match
	cover := make([]int, len(qts)) // the longest matched phrase using each term
	docCover := make([]int, len(ix.docs)*len(qts))
	var buf []int
	for di := range ix.docs {
		d := &ix.docs[di]
		for pi := range d.phrases {
			ph := &d.phrases[pi]
			var ok, negated bool
			ok, negated, buf = matchPhrase(ph, qts, buf[:0])
			if !ok {
				continue
			}
			w := 0.0
			for _, id := range ph.terms {
				if len(ix.postings[id]) > 0 || ix.particle[id] {
					w += ix.idf[id]
				}
			}
			allTrigger := true
			for _, i := range buf {
				allTrigger = allTrigger && qts[i].trigger
			}
			if allTrigger {
				w *= triggerWeight
			}
			m := match{doc: di, phrase: pi, w: w, used: append([]int(nil), buf...), negated: negated}
			if !negated {
				for _, i := range m.used {
					cover[i] = max(cover[i], len(ph.terms))
					dc := &docCover[di*len(qts)+i]
					*dc = max(*dc, len(ph.terms))
				}
			}
			matches = append(matches, m)
		}
	}
	// BM25 over the terms that were not negated (each term once).
	seen := map[int32]float64{}
	for ti, t := range qts {
		if t.negated || int(t.id) >= len(ix.postings) || len(ix.postings[t.id]) == 0 {
			continue
		}
		if w, ok := seen[t.id]; ok && w >= t.weight {
			continue
		}
		prev := seen[t.id]
		seen[t.id] = t.weight
		for _, p := range ix.postings[t.id] {
			d := &ix.docs[p.doc]
			s := ix.idf[t.id] * p.tf * (k1 + 1) / (p.tf + k1*(1-b+b*d.length/ix.avgLen))
			if !p.whole {
				s *= partialWeight
			}
			// a word read as part of a longer phrase another protocol
			// matched counts less where it stands alone
			if cover[ti] >= 2 && docCover[int(p.doc)*len(qts)+ti] < cover[ti] {
				s *= partialWeight
			}
			a := &accs[p.doc]
			a.score += (t.weight - prev) * s
			a.anyPositive = true
			if a.words == nil {
				a.words = map[string]Word{}
			}
			a.words[t.said] = Word{Said: t.said, As: t.as, How: t.how}
		}
	}
	for _, m := range matches {
		ph := &ix.docs[m.doc].phrases[m.phrase]
		a := &accs[m.doc]
		if m.negated {
			for _, t := range qts {
				if t.negated && containsTerm(ph.terms, t.id) && !containsString(a.ignored, t.said) {
					a.ignored = append(a.ignored, t.said)
				}
			}
			continue
		}
		dominated := true
		for _, i := range m.used {
			dominated = dominated && cover[i] > len(ph.terms)
		}
		if dominated {
			continue
		}
		a.phraseMatched = true
		a.phraseSum += m.w
		if a.words == nil {
			a.words = map[string]Word{}
		}
		for _, i := range m.used {
			t := qts[i]
			if _, ok := a.words[t.said]; !ok {
				a.words[t.said] = Word{Said: t.said, As: t.as, How: t.how}
			}
		}
		if m.w > a.bestPhrase {
			a.bestPhrase, a.matched = m.w, ph.text
		}
	}
	for di := range ix.docs {
		a := &accs[di]
		if !a.anyPositive && !a.phraseMatched {
			continue
		}
		d := &ix.docs[di]
		score := a.score + a.bestPhrase + 0.25*(a.phraseSum-a.bestPhrase)
		factor, why := fit(d, q, childHint)
		score *= factor
		if score <= 0 {
			continue
		}
		h := Hit{ID: d.p.ID, Title: d.p.Title, Score: math.Round(score*100) / 100, Matched: a.matched, Ignored: a.ignored, Demoted: why}
		for _, t := range qts { // in the order they were said
			if w, ok := a.words[t.said]; ok {
				h.Words = append(h.Words, w)
				delete(a.words, t.said)
			}
		}
		if h.Words == nil {
			h.Words = []Word{}
		}
		h.Why = explain(&h)
		hits = append(hits, h)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	return hits
}

// queryTerms analyses the text into terms of the index: words as they
// are or in another form, two words written as one ("nose bleed"), and
// likely misspellings of an indexed word ("diarea", "temprature").
func (ix *Index) queryTerms(text string) ([]qterm, bool) {
	toks := analyse(text)
	var out []qterm
	child := false
	pos := 0
	trigger := false // the first content word after "when": what brings the complaint on
	for i, t := range toks {
		if t.word == "when" || t.word == "whenever" {
			trigger = true
		}
		w, isTrigger := 1.0, false
		if trigger && t.kind == content {
			w, isTrigger, trigger = triggerWeight, true, false
		}
		if t.clauseEnd {
			trigger = false
		}
		switch t.kind {
		case childHint:
			child = true
			continue
		case stop:
			continue
		case particle:
			if id, ok := ix.terms[t.term]; ok && ix.particle[id] {
				out = append(out, qterm{id: id, pos: pos, negated: t.negated, said: t.word, how: "word", weight: 1})
			}
			pos++
			continue
		}
		if id, ok := ix.terms[t.term]; ok {
			out = append(out, qterm{id: id, pos: pos, negated: t.negated, said: t.word, how: "word", weight: w, trigger: isTrigger})
		} else if t.kind == content && !t.proper {
			if rw, ok := ix.respell(t.word); ok {
				out = append(out, qterm{id: ix.terms[ix.wordTerm[rw]], pos: pos, negated: t.negated, said: t.word, as: rw, how: "spelling", weight: spellingWeight * w, trigger: isTrigger})
			}
		}
		// two words written apart that the protocols write as one
		if t.kind == content && i+1 < len(toks) && toks[i+1].kind == content {
			joined := t.word + toks[i+1].word
			if term, ok := ix.wordTerm[joined]; ok {
				out = append(out, qterm{id: ix.terms[term], pos: pos, negated: t.negated, said: t.word + " " + toks[i+1].word, as: joined, how: "joined", weight: 1})
			}
		}
		pos++
	}
	return out, child
}

// respell finds the indexed word a misspelt word most likely meant: same
// first letter, length within two, at most one edit for words of up to
// five letters and two for longer ones. Ties go to the first in order.
// In a short word the one edit is a letter left out or added ("strok",
// "earach"): one changed letter makes another word ("sack", "sick";
// "mind", "mini"; "bend", "band").
func (ix *Index) respell(w string) (string, bool) {
	if len(w) < 4 || isNumber(w) {
		return "", false
	}
	limit := 1
	if len(w) >= 6 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range ix.words[w[0]] {
		lenDiff := len(c) - len(w)
		if lenDiff > limit || lenDiff < -limit {
			continue
		}
		d := levenshtein.ComputeDistance(w, c)
		if d >= bestD || d == 2 && !plausibleTwoEdits(len(w), d, abs(lenDiff)) || limit == 1 && lenDiff == 0 {
			continue
		}
		best, bestD = c, d
	}
	return best, best != ""
}

// plausibleTwoEdits: two edits are a misspelling when both are letters
// left out or doubled ("diarea", "diarrhea"), or, in a long word, one of
// them is a letter changed ("conjuctivitus"). Two changed letters make
// another word ("toilet", "tablet"; "scared", "scald").
func plausibleTwoEdits(n, d, lenDiff int) bool {
	substitutions := d - lenDiff
	return substitutions == 0 || substitutions == 1 && n >= 8
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func isNumber(w string) bool {
	_, err := strconv.Atoi(w)
	return err == nil
}

// matchPhrase reports whether every term of the phrase is in the query
// within a short span (the phrase's length plus two words, any order),
// whether the match relies on a negated mention, and (appended to used)
// which of the query's terms it used.
func matchPhrase(ph *phrase, qts []qterm, used []int) (ok, negated bool, _ []int) {
	lo, hi := math.MaxInt, -1
	for _, id := range ph.terms {
		found := -1
		neg := true
		for i := range qts {
			if qts[i].id != id {
				continue
			}
			if found < 0 || (neg && !qts[i].negated) {
				found, neg = i, qts[i].negated
			}
		}
		if found < 0 {
			return false, false, used
		}
		if neg && !ph.negates {
			negated = true
		}
		used = append(used, found)
		lo, hi = min(lo, qts[found].pos), max(hi, qts[found].pos)
	}
	return hi-lo+1 <= len(ph.terms)+2, negated, used
}

// fit is the demotion for a person outside who usually has (or may start)
// a presentation, and why. An unknown age or sex demotes nothing.
func fit(d *doc, q Query, childHint bool) (float64, string) {
	factor, why := 1.0, []string{}
	ageDays, hinted := -1, false
	if q.AgeDays != nil {
		ageDays = *q.AgeDays
	} else if childHint {
		ageDays, hinted = 365, true
	}
	if ageDays >= 0 {
		years := int((float64(ageDays) + 1) / 365.25) // whole years; a birthday's day counts
		outside := func(minY, maxY *int) bool {
			return minY != nil && years < *minY || maxY != nil && years >= *maxY
		}
		f := 1.0
		switch {
		case outside(d.p.AppliesTo.MinAgeYears, d.p.AppliesTo.MaxAgeYears):
			f = outsideAppliesTo
			why = append(why, "age outside "+ageRange(d.p.AppliesTo.MinAgeYears, d.p.AppliesTo.MaxAgeYears))
		case d.p.Usually != nil && outside(d.p.Usually.MinAgeYears, d.p.Usually.MaxAgeYears):
			f = outsideUsual
			why = append(why, "usually "+ageRange(d.p.Usually.MinAgeYears, d.p.Usually.MaxAgeYears))
		}
		if f < 1 && hinted {
			f = 1 - (1-f)*hintedFactor
			why[len(why)-1] += " (a young child was mentioned)"
		}
		factor *= f
	}
	if u := d.p.Usually; u != nil && u.Sex != "" && (q.Sex == "female" || q.Sex == "male") && q.Sex != u.Sex {
		factor *= outsideUsual
		why = append(why, "usually "+u.Sex)
	}
	return factor, strings.Join(why, "; ")
}

func ageRange(minY, maxY *int) string {
	switch {
	case minY != nil && *minY > 0 && maxY != nil && *maxY < 120:
		return fmt.Sprintf("aged %d to %d", *minY, *maxY-1)
	case maxY != nil && *maxY < 120:
		return fmt.Sprintf("under %d", *maxY)
	case minY != nil && *minY > 0:
		return fmt.Sprintf("aged %d or over", *minY)
	}
	return "any age"
}

func explain(h *Hit) string {
	var parts []string
	for _, w := range h.Words {
		switch w.How {
		case "spelling":
			parts = append(parts, fmt.Sprintf("%q read as %q", w.Said, w.As))
		case "joined":
			parts = append(parts, fmt.Sprintf("%q as %q", w.Said, w.As))
		default:
			parts = append(parts, fmt.Sprintf("%q", w.Said))
		}
	}
	s := "matched " + strings.Join(parts, ", ")
	if h.Matched != "" {
		s += fmt.Sprintf(" (%q)", h.Matched)
	}
	if len(h.Ignored) > 0 {
		s += "; not counted, said to be absent: " + strings.Join(h.Ignored, ", ")
	}
	if h.Demoted != "" {
		s += "; ranked lower: " + h.Demoted
	}
	return s
}

func containsTerm(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
