package routing

import (
	"math/rand/v2"
	"testing"
)

// levenshteinRef is the distance over runes, computed the plain way: the
// reference levenshtein's byte path for ASCII must agree with.
func levenshteinRef(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
		}
	}
	return d[len(ra)][len(rb)]
}

// TestLevenshteinMatchesReference: ASCII and non-ASCII, short and longer
// than the stack rows, random and hand-picked.
func TestLevenshteinMatchesReference(t *testing.T) {
	cases := [][2]string{{"", ""}, {"", "abc"}, {"abc", ""}, {"kitten", "sitting"}, {"smith", "smyth"},
		{"1990-12-10", "1990-12-01"}, {"zoë", "zoe"}, {"Ødegård", "odegard"}, {"é", "e"}, {"ab", "ba"}}
	alphabet := []rune("abcdeé-' ø")
	r := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		w := make([]rune, n)
		for i := range w {
			w[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(w)
	}
	for range 2000 {
		cases = append(cases, [2]string{word(r.IntN(12)), word(r.IntN(12))})
	}
	for range 50 {
		cases = append(cases, [2]string{word(40 + r.IntN(30)), word(40 + r.IntN(30))})
	}
	for _, c := range cases {
		if got, want := levenshtein(c[0], c[1]), levenshteinRef(c[0], c[1]); got != want {
			t.Fatalf("levenshtein(%q, %q) = %d, want %d", c[0], c[1], got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { levenshtein("lovelace", "lovelance") }); n != 0 {
		t.Errorf("an ASCII name allocates %v times", n)
	}
}

// TestOneSubstitutionIsDistanceOne: for strings of the same length in
// bytes (dates of birth, and any other), oneSubstitution agrees with the
// reference distance being 1.
func TestOneSubstitutionIsDistanceOne(t *testing.T) {
	cases := [][2]string{{"1990-12-10", "1990-12-01"}, {"1990-12-10", "1990-12-11"}, {"1990-12-10", "1990-12-10"},
		{"1990-12-10", "1991-12-11"}, {"é", "e!"}, {"ab", "ba"}, {"", ""}}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("0123456789-é")
	for range 5000 {
		w := make([]rune, 1+r.IntN(10))
		for i := range w {
			w[i] = alphabet[r.IntN(len(alphabet))]
		}
		v := append([]rune(nil), w...)
		for range r.IntN(3) {
			v[r.IntN(len(v))] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, [2]string{string(w), string(v)})
	}
	same := 0
	for _, c := range cases {
		if len(c[0]) != len(c[1]) {
			continue
		}
		same++
		if got, want := oneSubstitution(c[0], c[1]), levenshteinRef(c[0], c[1]) == 1; got != want {
			t.Fatalf("oneSubstitution(%q, %q) = %v, reference distance %d", c[0], c[1], got, levenshteinRef(c[0], c[1]))
		}
	}
	if same < 1000 {
		t.Fatalf("only %d pairs of the same length", same)
	}
}
