package routing

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestMatchAtLeastIsMatchAboveTheScore: giving up on a record once it
// cannot reach the score changes nothing. For many queries against blocks
// of near-duplicates (names a letter or two apart, dates of birth a digit
// apart, postcodes in the same sector or district), pruned scoring keeps
// exactly the candidates full scoring keeps, with the same scores,
// reasons and order, and MatchAtLeast is Match without the candidates
// under its score.
func TestMatchAtLeastIsMatchAboveTheScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 70))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	person := func(id string) Person {
		return Person{
			ID:          id,
			GivenName:   pick("Margaret", "Margret", "Mary", "Marie", "Peter", "Petra", "", "Zoë"),
			FamilyName:  pick("Oakley", "Oakly", "Okley", "Oakes", "Smith", "Smyth", "Smithe", ""),
			DateOfBirth: pick("1942-03-07", "1942-03-08", "1942-08-07", "1952-03-07", "2001-11-30", ""),
			Postcode:    pick("DY1 1AC", "DY1 1AA", "DY1 2AB", "DY2 8AA", "DY11 7AA", "WV1 1AA", ""),
			NHSNumber:   pick("", "", "", "9434765919", "943 476 5919", "9434765870"),
		}
	}
	kept := 0
	for i := range 2000 {
		q := person("q")
		records := make([]Person, 40)
		for j := range records {
			records[j] = person(string(rune('a'+j%26)) + string(rune('a'+j/26)))
		}
		all := Match(q, records)
		for _, min := range []int{0, 40, 41, 55, 65, 66, 70, 71, 80, 95, 105} {
			pruned, full := match(q, records, max(min, matchFloor), true), match(q, records, max(min, matchFloor), false)
			if !reflect.DeepEqual(pruned, full) {
				t.Fatalf("query %d %+v, at least %d: pruned %+v, full %+v", i, q, min, pruned, full)
			}
			var want []MatchCandidate
			for _, c := range all {
				if c.Score >= min {
					want = append(want, c)
				}
			}
			if got := MatchAtLeast(q, records, min); !reflect.DeepEqual(got, want) {
				t.Fatalf("query %d %+v: MatchAtLeast(%d) %+v, Match above it %+v", i, q, min, got, want)
			}
			if min == 70 {
				kept += len(want)
			}
		}
	}
	if kept == 0 {
		t.Fatal("no candidate reached 70: the cases do not exercise likely matches")
	}
}
