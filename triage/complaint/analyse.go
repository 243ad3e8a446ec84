package complaint

import (
	"strings"
	"unicode"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
)

// token is one word of a text as analysed: the word as written (lower
// case, apostrophes removed), its term (the Snowball English stem), and
// what kind of word it is.
type token struct {
	word string
	term string
	kind tokenKind
	// negated: inside the scope of a negation ("no rash", "without a fever").
	negated bool
	// clauseEnd: punctuation or a conjunction such as "but" follows; it
	// ends a negation's scope.
	clauseEnd bool
}

type tokenKind uint8

const (
	content   tokenKind = iota // a word that can say what is wrong
	stop                       // carries no meaning for matching ("the", "my", "left")
	negation                   // starts a negation scope ("no", "not", "without")
	childHint                  // says the person is a young child ("baby", "toddler")
	// particle: a word that changes the meaning of the one before it
	// ("burning up", "throwing up", "passed out", "fell over"): it counts
	// inside a whole synonym, never on its own.
	particle
)

// negationWindow is how many words after a trigger a negation reaches
// (NegEx uses five or six), unless a clause ends first.
const negationWindow = 5

// stem returns the Snowball English stem of a lower-case word. A final
// "i" that Snowball leaves for a final "y" is dropped as well, so that
// "itchy" and "itching", "dizzy" and "dizziness", "wobbly" and "wobbling"
// meet.
func stem(w string) string {
	if base, ok := irregular[w]; ok {
		w = base
	}
	env := snowballstem.NewEnv(w)
	english.Stem(env)
	s := env.Current()
	if len(s) >= 5 && s[len(s)-1] == 'i' {
		s = s[:len(s)-1]
	}
	return s
}

// analyse splits text into tokens: words are runs of letters and digits
// (an apostrophe inside a word is dropped, a possessive "'s" removed),
// classified, stemmed, and negation scopes marked.
func analyse(text string) []token {
	var toks []token
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		b.Reset()
		if strings.HasSuffix(w, "'s") {
			w = w[:len(w)-2]
		}
		w = strings.ReplaceAll(w, "'", "")
		if w == "" {
			return
		}
		toks = append(toks, classify(w))
	}
	endClause := func() {
		flush()
		if n := len(toks); n > 0 {
			toks[n-1].clauseEnd = true
		}
	}
	rs := []rune(strings.ToLower(text))
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case (r == '\'' || r == '’') && b.Len() > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]):
			b.WriteByte('\'')
		case r == ',' || r == '.' || r == ';' || r == ':' || r == '!' || r == '?' || r == '(' || r == ')':
			endClause()
		default:
			flush()
		}
	}
	flush()
	// "bit" is "a bit" (nothing) or the past of "bite" ("the dog bit him")
	for i := range toks {
		if toks[i].word == "bit" && (i == 0 || !quantity[toks[i-1].word]) {
			toks[i].kind, toks[i].term = content, stem("bite")
		}
	}
	markNegation(toks)
	return toks
}

var quantity = set("a", "little", "tiny", "wee", "small", "quite")

func classify(w string) token {
	switch {
	case negationWords[w]:
		return token{word: w, term: w, kind: negation}
	case stopWords[w]:
		return token{word: w, term: w, kind: stop}
	case clauseWords[w]:
		return token{word: w, term: w, kind: stop, clauseEnd: true}
	case childWords[w]:
		return token{word: w, term: w, kind: childHint}
	case particles[w]:
		return token{word: w, term: w, kind: particle}
	}
	return token{word: w, term: stem(w), kind: content}
}

// markNegation marks the content words a negation reaches: up to
// negationWindow words after the trigger, until a clause ends. A
// pseudo-negation ("not sure", "no idea", "no longer") negates nothing,
// and neither does a negation of a body function: "not breathing",
// "hasn't eaten", "won't stop" say what is wrong, not what is absent.
func markNegation(toks []token) {
	for i := 0; i < len(toks); i++ {
		t := &toks[i]
		if t.kind != negation || t.clauseEnd {
			continue
		}
		next := nextContent(toks, i)
		if next < 0 || i+1 < len(toks) && pseudoNegation[toks[i+1].word] {
			continue
		}
		if functionTerms[toks[next].term] {
			continue
		}
		for j := i + 1; j < len(toks) && j <= i+negationWindow; j++ {
			if toks[j].kind == negation {
				break
			}
			toks[j].negated = true
			if toks[j].clauseEnd {
				break
			}
		}
	}
}

// nextContent is the index of the first content word after i in the same
// clause, or -1.
func nextContent(toks []token, i int) int {
	for j := i + 1; j < len(toks) && j <= i+negationWindow; j++ {
		if toks[j].kind == content {
			return j
		}
		if toks[j].clauseEnd {
			break
		}
	}
	return -1
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// negationWords start a negation scope (NegEx triggers in lay words).
var negationWords = set("no", "not", "without", "never", "nor", "denies", "denied", "deny", "none", "isnt", "arent",
	"wasnt", "werent", "doesnt", "dont", "didnt", "hasnt", "havent", "hadnt", "wont", "aint", "nothing", "nil", "neither")

// pseudoNegation: after a trigger, these make it no negation at all.
var pseudoNegation = set("sure", "certain", "idea", "longer", "only", "just", "know", "knowing", "much", "quite", "as", "been",
	"getting", "going", "improving", "better", "settling", "stopping", "able", "coping")

// functionTerms are stems of body functions and states whose absence is
// itself the complaint ("not breathing", "hasn't weed", "not eating").
var functionTerms = set("breath", "breath", "eat", "drink", "pee", "wee", "weed", "urin", "poo", "pooed", "pass", "move", "moving",
	"walk", "stand", "wake", "woken", "respond", "stop", "settl", "sleep", "feed", "fed", "swallow", "talk", "speak", "see",
	"hear", "improv", "better", "work", "open", "keep", "kept", "go", "been", "had", "bowel", "toilet", "cope", "get", "use",
	"bear", "put", "weight", "feel", "manag", "remember", "recognis", "make", "sens", "finish", "straighten", "lift", "bend")

// clauseWords end a negation's scope ("no rash but a high temperature").
var clauseWords = set("but", "however", "although", "though", "yet", "except", "apart", "whereas")

// irregular are past forms the stemmer cannot see ("burnt" is "burn").
var irregular = map[string]string{
	"burnt": "burn", "bitten": "bite", "fell": "fall", "fallen": "fall", "broke": "break", "broken": "break",
	"swollen": "swell", "stung": "sting", "threw": "throw", "thrown": "throw", "ate": "eat", "eaten": "eat",
	"bled": "bleed", "froze": "freeze", "frozen": "freeze", "caught": "catch", "struck": "strike", "drank": "drink",
	"drunk": "drink", "swallowed": "swallow", "torn": "tear", "tore": "tear", "sprang": "spring", "sprung": "spring",
	"shook": "shake", "shaken": "shake", "woke": "wake", "woken": "wake", "stuck": "stick", "spun": "spin",
	"slept": "sleep", "felt": "feel", "lost": "lose", "hurt": "hurt", "trod": "tread", "trodden": "tread",
}

var particles = set("up", "down", "out", "off", "over", "through")

// childWords say the person is a baby or young child; they count through
// age (a hint when no age is given), not as complaint words.
var childWords = set("baby", "babies", "babys", "babe", "toddler", "toddlers", "infant", "infants", "newborn", "newborns",
	"child", "children", "childs", "kiddy", "tot")

// stopWords carry no meaning for matching a complaint: function words,
// people, time and side ("my left arm", "since yesterday"). Who the
// person is counts through the age and sex given with the query, not
// through these words.
var stopWords = set(
	"a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "from", "by", "with", "into", "onto", "under",
	"about", "after", "before", "since", "for", "as", "if", "so", "than", "then", "there", "here",
	"this", "that", "these", "those", "it", "its", "is", "am", "are", "was", "were", "be", "been", "being", "has", "have", "had",
	"having", "do", "does", "did", "doing", "done", "can", "could", "cant", "cannot", "couldnt", "will", "would", "wouldnt",
	"should", "shall", "may", "might", "must", "i", "im", "ive", "id", "ill", "me", "my", "mine", "myself", "we", "us", "our",
	"you", "your", "yourself", "himself", "herself", "themselves", "itself", "he", "hes", "him", "his", "she", "shes", "her", "hers", "they", "theyre", "them", "their", "theirs", "who",
	"what", "when", "where", "why", "how", "which", "some", "any", "all", "each", "every", "both", "more", "most", "much",
	"many", "very", "really", "quite", "bit", "little", "lot", "lots", "too", "also", "just", "only", "got", "get", "gets",
	"getting", "keeps", "keep", "think", "thinks", "thought", "seems", "seem", "looks", "look", "like", "feel", "feels",
	"feeling", "felt", "went", "gone", "going", "come", "came", "comes", "coming", "now", "today", "tonight", "yesterday",
	"morning", "afternoon", "evening", "night", "nights", "day", "days", "week", "weeks", "month", "months", "year", "years",
	"hour", "hours", "minute", "minutes", "ago", "last", "past", "since", "old", "aged", "age", "left", "right", "both",
	"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "again", "please", "help", "need",
	"needs", "want", "wants", "wanted", "sure", "know", "knows", "thing", "things", "something", "anything", "everything",
	"unable", "able", "said", "says", "say", "tell", "told", "mum", "mom", "mother", "dad", "father", "son", "daughter",
	"husband", "wife", "partner", "boyfriend", "girlfriend", "brother", "sister", "nan", "nana", "gran", "grandma",
	"grandad", "granddad", "grandmother", "grandfather", "friend", "neighbour", "kid", "kids", "boy", "girl", "lad", "man",
	"woman", "lady", "gentleman", "patient", "hi", "hello", "yes", "ok", "okay", "well", "s", "t", "x", "ish", "around",
	"approx", "abit", "alot", "recently", "started", "start", "starting", "usual", "normal",
	"normally", "again", "even", "because", "cos", "coz", "while", "during", "until", "till", "through",
	"really", "lots", "many", "other", "another", "same", "own", "ve", "re", "d", "ll",
	"year-old", "yr", "yrs", "yo", "mths", "wks",
)
