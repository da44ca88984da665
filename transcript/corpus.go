package transcript

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// GOTCHA: embedded, not read from disk: `replay corpus:NAME` runs from the
// installed binary and from other modules' tests, where no checkout exists.
//
//go:embed testdata/*.txtar
var corpusFS embed.FS

// Corpus returns the transcript NAME of the regression corpus (real runs
// recorded in the container suites: testdata/NAME.txtar, embedded at
// build time). It returns fs.ErrNotExist, wrapped with the known names,
// for a name the corpus does not hold.
func Corpus(name string) ([]byte, error) {
	if strings.ContainsAny(name, "/\\") || name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("corpus transcript %q: a bare name is wanted (one of %s)", name, strings.Join(CorpusNames(), ", "))
	}
	data, err := corpusFS.ReadFile(path.Join("testdata", name+".txtar"))
	if err != nil {
		return nil, fmt.Errorf("corpus transcript %q (known: %s): %w", name, strings.Join(CorpusNames(), ", "), fs.ErrNotExist)
	}
	return data, nil
}

// CorpusNames lists the corpus's transcripts by name, sorted.
func CorpusNames() []string {
	entries, _ := fs.Glob(corpusFS, "testdata/*.txtar")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(path.Base(e), ".txtar"))
	}
	sort.Strings(names)
	return names
}
