package testscripts

import "github.com/hbollon/go-edlib"

// SuggestCommands returns the language's commands one edit away from name
// (one letter added, dropped, changed, or two neighbours swapped: an
// optimal string alignment distance of 1, go-edlib's
// OSADamerauLevenshteinDistance), in reference order: the "did you mean"
// of an unknown command, as the runner (go-internal's testscript) offers
// for a misspelt line.
func SuggestCommands(name string) []string {
	var near []string
	for _, c := range CommandNames() {
		if edlib.OSADamerauLevenshteinDistance(name, c) == 1 {
			near = append(near, c)
		}
	}
	return near
}
