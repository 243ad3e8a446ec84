package triage

import (
	"sort"
	"strings"
)

// SearchHit is one protocol matching a search, with its score (higher first).
type SearchHit struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Matched string `json:"matched"` // the title or synonym that matched best
	Score   int    `json:"score"`
}

// Search ranks the presentations whose title or synonyms match the query
// (case-insensitive): an exact title or synonym first, then whole words, then
// prefixes and substrings. Ties break by id, so results are deterministic.
func Search(set *Set, query string) []SearchHit {
	q := normalise(query)
	if q == "" {
		return nil
	}
	qWords := contentWords(q)
	if len(qWords) == 0 {
		return nil
	}
	var hits []SearchHit
	for _, p := range set.Presentations {
		best, matched := 0, ""
		try := func(text string, weight int) {
			s := matchScore(normalise(text), q, qWords) * weight
			if s > best {
				best, matched = s, text
			}
		}
		try(p.Title, 2)
		try(p.ID, 1)
		for _, syn := range p.Synonyms {
			try(syn, 2)
		}
		if best > 0 {
			hits = append(hits, SearchHit{ID: p.ID, Title: p.Title, Matched: matched, Score: best})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	return hits
}

// stopWords carry no meaning for matching a complaint ("fell over", "pain in my chest").
var stopWords = map[string]bool{"a": true, "an": true, "the": true, "in": true, "on": true, "of": true, "and": true,
	"or": true, "my": true, "i": true, "im": true, "is": true, "it": true, "has": true, "have": true, "with": true,
	"over": true, "to": true, "for": true, "at": true, "me": true, "his": true, "her": true, "their": true, "got": true}

func contentWords(q string) []string {
	var out []string
	for _, w := range strings.Fields(q) {
		if !stopWords[w] {
			out = append(out, w)
		}
	}
	return out
}

func normalise(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func matchScore(text, q string, qWords []string) int {
	if text == "" {
		return 0
	}
	if text == q {
		return 100
	}
	words := strings.Fields(text)
	score := 0
	for _, qw := range qWords {
		best := 0
		for _, w := range words {
			switch {
			case w == qw:
				best = max(best, 10)
			case len(qw) >= 3 && strings.HasPrefix(w, qw):
				best = max(best, 6)
			case len(qw) >= 4 && strings.Contains(w, qw):
				best = max(best, 3)
			}
		}
		score += best
	}
	if strings.Contains(text, q) && len(qWords) > 1 {
		score += 20
	}
	return score
}
