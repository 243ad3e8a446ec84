// Package complaint finds the presentation protocol for what a person says
// is wrong, in their own words: "my little boy splashed boiling water on
// his arm, no blisters" finds cuts, wounds and burns.
//
// Each presentation's title and synonyms are analysed like the query:
// words are stemmed with the Snowball English stemmer (so "scalded" meets
// "scald"), words that carry no complaint ("my", "since", "left") are
// dropped, and a NegEx-style window marks what the person said was absent
// ("no rash", "without a fever": up to five words, until "but" or a
// comma). Presentations are ranked by BM25 over the words that are not
// negated, plus the weight a whole title or synonym carries when all its
// words are in the sentence — so a decisive word inside a long sentence
// ("shingles") scores as it would alone. A word not in any synonym may be
// a misspelling of one ("diarea", "temprature"): a Levenshtein distance of
// one or two finds it (in a short word a letter left out or added, not
// changed: "sack" is not "sick"; a capitalised name inside a sentence,
// "back from Spain", is not a misspelling). A few words change meaning
// in context: "got back from" is no back, "bit dazed" no bite, "38.9" a
// temperature, "little one" a young child; "too many", "myself" and
// every negation word count inside a synonym ("too many tablets", "kill
// myself", "no tablets left"), never alone; the word after "when" is
// what brings the complaint on ("hurts when he coughs") and counts half.
// Age and sex demote a presentation that a person
// does not usually have (a pregnancy protocol for a boy of four); they
// never hide one. Every hit says which words matched and why.
package complaint
