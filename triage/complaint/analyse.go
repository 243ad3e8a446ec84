package complaint

import (
	"strconv"
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
	// proper: written with a capital inside a sentence ("back from
	// Turkey", "holiday in Spain"): a name, never read as a misspelling.
	proper bool
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
	// sentenceStart: no word yet, or the last ended a sentence; capital:
	// the word being read began with a capital letter.
	sentenceStart, capital, wordStartsSentence := true, false, true
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		proper := capital && !wordStartsSentence
		b.Reset()
		if strings.HasSuffix(w, "'s") {
			w = w[:len(w)-2]
		}
		w = strings.ReplaceAll(w, "'", "")
		if w == "" {
			return
		}
		t := classify(w)
		t.proper = proper
		toks = append(toks, t)
	}
	endClause := func() {
		flush()
		if n := len(toks); n > 0 {
			toks[n-1].clauseEnd = true
		}
	}
	rs := []rune(text)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if b.Len() == 0 {
				capital, wordStartsSentence, sentenceStart = unicode.IsUpper(r), sentenceStart, false
			}
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]):
			b.WriteByte('\'')
		case r == '.' && i > 0 && unicode.IsDigit(rs[i-1]) && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			b.WriteByte('.') // a decimal: "38.9"
		case r == ',' || r == ';' || r == ':' || r == '(' || r == ')':
			endClause()
		case r == '.' || r == '!' || r == '?' || r == '\n':
			endClause()
			sentenceStart = true
		default:
			flush()
		}
	}
	flush()
	for i := range toks {
		if isTemperature(toks[i].word, false) {
			toks[i].kind, toks[i].term = content, stem("temperature")
		}
		switch toks[i].word {
		case "bit":
			if isBite(toks, i) {
				toks[i].kind, toks[i].term = content, stem("bite")
			}
		case "back":
			if isAdverbBack(toks, i) {
				toks[i].kind, toks[i].term = stop, "back"
			}
		case "degrees", "degree", "deg", "c", "°c":
			if i > 0 && isTemperature(toks[i-1].word, true) {
				toks[i-1].kind, toks[i-1].term = content, stem("temperature")
			}
		case "one", "ones", "un", "uns", "boy", "girl", "lad":
			// "little one", "little girl": a young child
			if i > 0 && (toks[i-1].word == "little" || toks[i-1].word == "wee") {
				toks[i].kind = childHint
			}
		}
	}
	markNegation(toks)
	return toks
}

// isTemperature: a body temperature as written: "38.9", "39c", or a whole
// number followed by "degrees" (degrees: a unit follows).
func isTemperature(w string, degrees bool) bool {
	if !degrees {
		if strings.HasSuffix(w, "c") {
			w, degrees = w[:len(w)-1], true
		} else if !strings.Contains(w, ".") {
			return false
		}
	}
	f, err := strconv.ParseFloat(w, 64)
	return err == nil && f >= 37.5 && f < 43 && (degrees || strings.Contains(w, "."))
}

// isBite: "bit" is "a bit" (nothing: "a bit sick", "feeling bit dazed",
// "rugby, bit dazed") or the past of "bite" ("the dog bit him", "bit by
// a spider"). At the start of a clause it is "bite" only with an object
// or "by" after it.
func isBite(toks []token, i int) bool {
	if i > 0 && (quantity[toks[i-1].word] || linking[toks[i-1].word]) {
		return false
	}
	if i == 0 || toks[i-1].clauseEnd {
		return i+1 < len(toks) && biteObject[toks[i+1].word]
	}
	return true
}

// isAdverbBack: "back" as in "got back from Turkey", "came back home",
// "keeps coming back", "back to normal": a return, not the back.
func isAdverbBack(toks []token, i int) bool {
	if i > 0 && !toks[i-1].clauseEnd && motion[toks[i-1].word] {
		return true
	}
	if i+1 < len(toks) && !toks[i].clauseEnd && afterAdverbBack[toks[i+1].word] {
		return true
	}
	// "the back of my head", "back of the knee": a place on another part
	if i+1 < len(toks) && toks[i+1].word == "of" && !toks[i].clauseEnd {
		for j := i + 2; j < len(toks) && j <= i+4; j++ {
			if bodyParts[toks[j].word] {
				return true
			}
			if toks[j].kind != stop || toks[j].clauseEnd {
				break
			}
		}
	}
	return false
}

// bodyParts that have a back ("the back of my hand"); not the leg or thigh,
// where pain down the back is sciatica.
var bodyParts = set("head", "neck", "hand", "hands", "knee", "knees", "calf", "calves",
	"throat", "eye", "eyes", "mouth", "tongue", "nose", "ear", "ears", "heel", "heels", "ankle", "ankles", "arm", "arms",
	"wrist", "wrists", "foot", "feet", "skull", "scalp", "shoulder", "shoulders")

var quantity = set("a", "little", "tiny", "wee", "small", "quite")

var linking = set("feel", "feels", "feeling", "felt", "im", "am", "is", "are", "was", "were", "hes", "shes", "its",
	"been", "be", "seems", "seem", "seemed", "looks", "look", "looking", "looked")

var biteObject = set("by", "me", "him", "her", "them", "us", "my", "his", "their", "our", "your", "it", "into", "through", "off")

var motion = set("got", "get", "gets", "getting", "came", "come", "comes", "coming", "went", "go", "goes", "going",
	"gone", "been", "brought", "bring", "flew", "flown", "drove", "driven", "arrived", "sent", "send", "sending", "ring",
	"call", "called", "phone", "phoned")

var afterAdverbBack = set("from", "home", "again", "to")

func classify(w string) token {
	switch {
	case negationWords[w]:
		// one term for every negation word: "doesn't want to be here"
		// matches "don't want to be here", "hasn't done a dirty nappy"
		// matches "no dirty nappy"
		return token{word: w, term: "not", kind: negation}
	case inability[w]:
		// "can't", "unable": inside a synonym they say a function stopped
		// ("can't pee", "unable to pass urine"); alone they negate nothing
		// ("can't catch my breath") and say nothing ("hurts when I pee"
		// is not "can't pee")
		return token{word: w, term: "not", kind: particle}
	case reflexives[w]:
		// one term for "myself", "himself", "herself": inside a synonym
		// only ("kill myself", "not herself"), never on its own
		return token{word: w, term: "oneself", kind: particle}
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

// particles: words that count inside a whole synonym, never alone:
// "burning up", "passed out", "too many tablets" (not "paracetamol not
// touching it").
var particles = set("up", "down", "out", "off", "over", "through", "too", "much", "many")

var inability = set("cant", "cannot", "couldnt", "unable")

var reflexives = set("myself", "himself", "herself", "themselves", "themself", "yourself", "ourselves")

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
	"having", "do", "does", "did", "doing", "done", "can", "could", "will", "would", "wouldnt",
	"should", "shall", "may", "might", "must", "i", "im", "ive", "id", "ill", "me", "my", "mine", "we", "us", "our",
	"you", "your", "itself", "he", "hes", "him", "his", "she", "shes", "her", "hers", "they", "theyre", "them", "their", "theirs", "who",
	"what", "when", "where", "why", "how", "which", "some", "any", "all", "each", "every", "both", "more", "most",
	"very", "really", "quite", "bit", "little", "lot", "lots", "also", "just", "only", "got", "get", "gets",
	"getting", "keeps", "keep", "think", "thinks", "thought", "seems", "seem", "looks", "look", "like", "feel", "feels",
	"feeling", "felt", "went", "gone", "going", "come", "came", "comes", "coming", "now", "today", "tonight", "yesterday",
	"morning", "afternoon", "evening", "night", "nights", "day", "days", "week", "weeks", "month", "months", "year", "years",
	"hour", "hours", "minute", "minutes", "ago", "last", "past", "since", "old", "aged", "age", "left", "right", "both",
	"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "again", "please", "help", "need",
	"needs", "want", "wants", "wanted", "sure", "know", "knows", "thing", "things", "something", "anything", "everything",
	"able", "said", "says", "say", "tell", "told", "mum", "mom", "mother", "dad", "father", "son", "daughter",
	"husband", "wife", "partner", "boyfriend", "girlfriend", "brother", "sister", "nan", "nana", "gran", "grandma",
	"grandad", "granddad", "grandmother", "grandfather", "friend", "neighbour", "kid", "kids", "boy", "girl", "lad", "man",
	"woman", "lady", "gentleman", "patient", "hi", "hello", "yes", "ok", "okay", "well", "s", "t", "x", "ish", "around",
	"approx", "abit", "alot", "recently", "started", "start", "starting", "usual", "normal",
	"normally", "again", "even", "because", "cos", "coz", "while", "during", "until", "till", "through",
	"really", "lots", "other", "another", "same", "own", "ve", "re", "d", "ll",
	"year-old", "yr", "yrs", "yo", "mths", "wks",
)
