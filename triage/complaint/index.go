package complaint

import (
	"math"
	"sort"

	"github.com/frontdoor-ucc/frontdoor/triage"
)

// BM25 parameters. Documents are lists of titles and synonyms, not prose,
// so length matters little (b is low); k1 saturates a term that many
// synonyms of one protocol share ("ear" in earache).
const (
	k1 = 1.2
	b  = 0.3
)

// Index is a protocol set analysed for search. Build it once per set
// (New); it is read-only afterwards and safe for concurrent use.
type Index struct {
	docs     []doc
	terms    map[string]int32 // term -> term number
	postings [][]posting      // by term number
	idf      []float64        // by term number
	particle []bool           // by term number: counts only inside a phrase
	avgLen   float64
	// words: every word of the titles and synonyms as written, by first
	// letter, for spelling tolerance; wordTerm: its term.
	words    map[byte][]string
	wordTerm map[string]string
}

type doc struct {
	p       *triage.Protocol
	length  float64
	phrases []phrase
}

// phrase is a title or synonym: its content terms (negation words kept,
// so "no tablets left" is one phrase) and its text.
type phrase struct {
	text  string
	terms []int32
	// negates: the phrase contains a negation word; matching it does not
	// count as a negated mention.
	negates bool
	title   bool
}

type posting struct {
	doc int32
	tf  float64
	// whole: the term is a synonym by itself, or a word of the title; a
	// term met only inside longer synonyms ("drink" in "drank bleach")
	// says less about the protocol on its own.
	whole bool
}

// New analyses the set's presentations (not the screen).
func New(set *triage.Set) *Index {
	ix := &Index{terms: map[string]int32{}, words: map[byte][]string{}, wordTerm: map[string]string{}}
	tf := []map[int32]float64{}
	wholes := []map[int32]bool{}
	// particles are not scored alone, but their rarity weighs a synonym
	// that needs them ("burning up")
	particleCounts := map[int32]float64{}
	for _, p := range set.Presentations {
		d := doc{p: p}
		counts := map[int32]float64{}
		whole := map[int32]bool{}
		add := func(text string, title bool) {
			ph := phrase{text: text, title: title}
			for _, t := range analyse(text) {
				switch t.kind {
				case content, particle:
				case negation:
					ph.negates = true
				default:
					continue
				}
				id, ok := ix.terms[t.term]
				if !ok {
					id = int32(len(ix.terms))
					ix.terms[t.term] = id
				}
				ph.terms = append(ph.terms, id)
				if t.kind == particle {
					particleCounts[id]++
				}
				if t.kind == content {
					counts[id]++
					d.length++
					if len(t.word) >= 4 {
						if _, seen := ix.wordTerm[t.word]; !seen {
							ix.wordTerm[t.word] = t.term
							ix.words[t.word[0]] = append(ix.words[t.word[0]], t.word)
						}
					}
				}
			}
			if len(ph.terms) > 0 {
				d.phrases = append(d.phrases, ph)
			}
			if title || len(ph.terms) == 1 {
				for _, id := range ph.terms {
					whole[id] = true
				}
			}
		}
		add(p.Title, true)
		for _, s := range p.Synonyms {
			add(s, false)
		}
		ix.docs = append(ix.docs, d)
		tf = append(tf, counts)
		wholes = append(wholes, whole)
	}
	ix.postings = make([][]posting, len(ix.terms))
	total := 0.0
	for i, counts := range tf {
		total += ix.docs[i].length
		for id, n := range counts {
			ix.postings[id] = append(ix.postings[id], posting{doc: int32(i), tf: n, whole: wholes[i][id]})
		}
	}
	n := float64(len(ix.docs))
	ix.avgLen = total / max(n, 1)
	ix.idf = make([]float64, len(ix.terms))
	for id, ps := range ix.postings {
		sort.Slice(ps, func(i, j int) bool { return ps[i].doc < ps[j].doc })
		df := float64(len(ps))
		if pc := particleCounts[int32(id)]; pc > 0 && df == 0 {
			df = pc
		}
		ix.idf[id] = math.Log(1 + (n-df+0.5)/(df+0.5))
	}
	ix.particle = make([]bool, len(ix.terms))
	for id := range particleCounts {
		ix.particle[id] = true
	}
	for _, ws := range ix.words {
		sort.Strings(ws)
	}
	return ix
}
