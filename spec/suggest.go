package spec

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxSuggestions bounds a "did you mean" list: more than a few is noise.
const maxSuggestions = 3

// suggest returns the candidates closest to a misspelled word, best first:
// those within an edit distance that grows with the word's length, so that
// "core-mus" finds "core-musl" but "go" does not find every two-letter name.
func suggest(word string, candidates []string) []string {
	limit := max(1, len([]rune(word))/3)
	type scored struct {
		name string
		dist int
	}
	var near []scored
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if d <= limit || (len(word) >= 3 && strings.Contains(c, word)) {
			near = append(near, scored{c, d})
		}
	}
	slices.SortFunc(near, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.name, b.name))
	})
	var out []string
	for _, s := range near[:min(len(near), maxSuggestions)] {
		out = append(out, s.name)
	}
	return out
}

// editDistance is the optimal string alignment distance between two
// strings, in runes: insertions, deletions, substitutions and swaps of two
// adjacent characters ("nmae" -> "name") each cost 1.
func editDistance(a, b string) int {
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
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// quoteList formats names for a hint: `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// sortedKeys returns a map's keys in order, for deterministic walks.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
