package routing

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Person is a patient record for matching.
type Person struct {
	ID          string `json:"id"`
	NHSNumber   string `json:"nhs_number,omitempty"`
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	DateOfBirth string `json:"date_of_birth"` // 2006-01-02
	Postcode    string `json:"postcode,omitempty"`
}

// MatchCandidate is one possible match, for a person to confirm: Match
// never merges records.
type MatchCandidate struct {
	ID      string   `json:"id"`
	Score   int      `json:"score"`
	Exact   bool     `json:"exact,omitempty"` // same valid NHS number
	Reasons []string `json:"reasons"`
}

// NormaliseName lower-cases, strips accents and drops everything but
// letters, so "O'Brien-Smyth" and "obrien smyth" compare equal.
func NormaliseName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if f, ok := foldAccent[r]; ok {
			b.WriteString(f)
			continue
		}
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var foldAccent = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a", 'ą': "a", 'æ': "ae",
	'ç': "c", 'ć': "c", 'č': "c", 'ď': "d", 'đ': "d", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ę': "e", 'ě': "e",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'ł': "l", 'ñ': "n", 'ń': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o", 'œ': "oe", 'ř': "r", 'ś': "s", 'š': "s", 'ß': "ss",
	'ť': "t", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z",
}

// levenshtein is the edit distance between two strings of runes.
func levenshtein(a, b string) int {
	if isASCII(a) && isASCII(b) {
		// Bytes are runes here: no conversion. Match calls this three
		// times per candidate of every patient.create.
		return editDistance([]byte(a), []byte(b))
	}
	return editDistance([]rune(a), []rune(b))
}

// oneSubstitution reports whether levenshtein(a, b) == 1 for strings of
// the same length in bytes: for ASCII strings, exactly one position
// differs (an insertion or a deletion would change the length, so the one
// edit is a substitution); otherwise it asks levenshtein.
func oneSubstitution(a, b string) bool {
	if !isASCII(a) || !isASCII(b) {
		return levenshtein(a, b) == 1
	}
	diff := 0
	for i := 0; i < len(a) && diff < 2; i++ {
		if a[i] != b[i] {
			diff++
		}
	}
	return diff == 1
}

// editDistance is the Levenshtein distance of two sequences, with the two
// rows on the stack for the short strings names and dates are.
func editDistance[E byte | rune](ra, rb []E) int {
	var buf [2 * 48]int
	var prev, cur []int
	if n := len(rb) + 1; n <= len(buf)/2 {
		prev, cur = buf[:n], buf[n:2*n]
	} else {
		prev, cur = make([]int, n), make([]int, n)
	}
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Match ranks records that may be the same patient as q. A record with
// the same valid NHS number is an exact match and comes first; otherwise
// candidates are scored on date of birth, normalised names and postcode,
// with a reason for each point. Records scoring under 40 are left out.
// Ties are broken by id. Match only proposes: it never merges.
func Match(q Person, records []Person) []MatchCandidate {
	return MatchAtLeast(q, records, matchFloor)
}

// matchFloor is the lowest score Match reports.
const matchFloor = 40

// Most points each remaining field can add (scored in this order: date of
// birth, surname, given name, postcode).
const (
	maxSurnamePoints  = 30
	maxGivenPoints    = 20
	maxPostcodePoints = 15
)

// MatchAtLeast is Match keeping only the candidates scoring min or more
// (never fewer than Match's floor): exactly Match's result without those
// under min, in the same order with the same reasons. It stops scoring a
// record as soon as the points still to come cannot reach min, so a
// caller that only acts on likely matches (a new record refused for a
// near-duplicate) compares a large block (a common surname, a shared
// postcode) for little more than its dates of birth.
func MatchAtLeast(q Person, records []Person, min int) []MatchCandidate {
	return match(q, records, max(min, matchFloor), true)
}

// match scores records against q and keeps those scoring min or more;
// with prune it gives up on a record once the points still to come cannot
// reach min (a test compares the two ways).
func match(q Person, records []Person, min int, prune bool) []MatchCandidate {
	qNHS, qErr := NormaliseNHSNumber(q.NHSNumber)
	qf, qg := NormaliseName(q.FamilyName), NormaliseName(q.GivenName)
	qp := NormalisePostcode(q.Postcode) // the query's, once: not per record
	qSector, qDistrict := PostcodeSector(qp), PostcodeDistrict(qp)
	var out []MatchCandidate
	for _, r := range records {
		if qErr == nil {
			if n, err := NormaliseNHSNumber(r.NHSNumber); err == nil && n == qNHS {
				out = append(out, MatchCandidate{ID: r.ID, Score: 1000, Exact: true, Reasons: []string{"same NHS number"}})
				continue
			}
		}
		c := MatchCandidate{ID: r.ID}
		add := func(points int, why string) { c.Score += points; c.Reasons = append(c.Reasons, why) }
		if q.DateOfBirth != "" && q.DateOfBirth == r.DateOfBirth {
			add(40, "same date of birth")
		} else if q.DateOfBirth != "" && len(r.DateOfBirth) == len(q.DateOfBirth) && oneSubstitution(q.DateOfBirth, r.DateOfBirth) {
			add(15, "date of birth differs by one digit")
		}
		if prune && c.Score+maxSurnamePoints+maxGivenPoints+maxPostcodePoints < min {
			continue
		}
		rf := NormaliseName(r.FamilyName)
		switch d := levenshtein(qf, rf); {
		case qf != "" && d == 0:
			add(30, "same surname")
		case qf != "" && d == 1:
			add(22, "surname differs by one letter")
		case qf != "" && d == 2:
			add(12, "surname differs by two letters")
		}
		if prune && c.Score+maxGivenPoints+maxPostcodePoints < min {
			continue
		}
		rg := NormaliseName(r.GivenName)
		switch d := levenshtein(qg, rg); {
		case qg != "" && d == 0:
			add(20, "same given name")
		case qg != "" && d == 1:
			add(14, "given name differs by one letter")
		case qg != "" && len(qg) > 0 && len(rg) > 0 && qg[0] == rg[0]:
			add(5, "same given name initial")
		}
		if prune && c.Score+maxPostcodePoints < min {
			continue
		}
		rp := NormalisePostcode(r.Postcode)
		switch {
		case qp != "" && qp == rp:
			add(15, "same postcode")
		case qp != "" && qSector != "" && qSector == PostcodeSector(rp):
			add(10, "same postcode sector")
		case qp != "" && qDistrict == PostcodeDistrict(rp):
			add(6, "same postcode district")
		}
		if c.Score >= min {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Score != out[b].Score {
			return out[a].Score > out[b].Score
		}
		return out[a].ID < out[b].ID
	})
	return out
}
