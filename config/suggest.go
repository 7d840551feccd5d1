package config

import (
	"fmt"
	"reflect"
	"strings"
)

// closestEnv is closest for variable names without the SLUICE_ prefix: a
// near spelling, else the variable whose last parts are name
// (HOST finds SOURCE_HOST).
func closestEnv(name string, names []string) string {
	if m := closest(name, names); m != "" {
		return m
	}
	for _, n := range names {
		if strings.HasSuffix(strings.ToUpper(n), "_"+strings.ToUpper(name)) {
			return n
		}
	}
	return ""
}

// suggestKey proposes a near spelling among the keys of struct t, or the
// same name in another section.
func suggestKey(t reflect.Type, prefix, name string) string {
	var names []string
	for _, f := range yamlFields(t) {
		names = append(names, yamlName(f))
	}
	if m := closest(name, names); m != "" {
		return fmt.Sprintf(" (did you mean %s%s?)", prefix, m)
	}
	for _, s := range settings() {
		if last := s.key[strings.LastIndex(s.key, ".")+1:]; last == name {
			return fmt.Sprintf(" (did you mean %s?)", s.key)
		}
	}
	return ""
}

// closest returns the candidate nearest to word in edit distance, or ""
// when none is near enough to be a likely typo. A candidate whose last
// dot-separated part is word also matches, so "host" finds "source.host".
func closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", 3
	if len(w) <= 4 {
		bestD = 2
	}
	for _, c := range candidates {
		d := editDistance(w, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	for _, c := range candidates {
		if strings.HasSuffix(c, "."+word) {
			return c
		}
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
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
