package testscripts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/explore"
)

// suiteHead is the repository's own part of README.md, after the
// language reference: its areas and how to run and regenerate it.
const suiteHead = `
## This repository's suite

The repository's scenarios live in ` + "`testdata/<area>_<case>.txtar`" + `. Areas: ` + "`lock`" + ` (racing
switches), ` + "`trust`" + `, ` + "`profile`" + `, ` + "`current`" + ` (current-system), ` + "`unit`" + ` (unit status),
` + "`defer`" + `, ` + "`rollback`" + `, ` + "`input`" + ` (bad input), ` + "`switch`" + ` (the live switch as a whole), ` + "`recover`" + ` (an agent killed or interrupted
mid-run, and the next one working out what became of it), ` + "`journal`" + ` (faults of the in-flight record
itself), ` + "`restore`" + ` (a failed run putting the profile and boot default back), ` + "`already`" + ` (a target the
host already runs), ` + "`closure`" + ` (what the realised closure must be and how it is held against garbage
collection), ` + "`cache`" + ` (substituter failures as Nix prints them), ` + "`health`" + ` (health checks, confirmation and the rollback of an unhealthy closure) and ` + "`cli`" + ` (the binary).

Run the suite with ` + "`go test ./testscripts`" + ` (it builds the binary for ` + "`cli`" + ` and ` + "`exec`" + `); one scenario with
` + "`go test ./testscripts -run TestScripts/<file name without .txtar>`" + `. After changing the registry,
regenerate this file with ` + "`go test ./testscripts -run TestReadme -update`" + ` (` + "`-update`" + ` also
rewrites golden files that ` + "`cmp`" + ` compares with inside a scenario); TestReadme fails while it
is stale.
`

// renderReadme renders README.md: the language reference from the
// registry, then the repository's suite.
func renderReadme() string {
	return Reference() + suiteHead + scenarioIndex()
}

// scenarioIndex lists every scenario with its opening comment, by area,
// then the known bugs.
func scenarioIndex() string {
	var b strings.Builder
	b.WriteString("\n## Scenarios\n\nGenerated from the opening comment line of each file in testdata/.\n")
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	area := ""
	for _, f := range files {
		name := filepath.Base(f)
		if a, _, _ := strings.Cut(name, "_"); a != area {
			area = a
			fmt.Fprintf(&b, "\n### %s\n\n", area)
		}
		b.WriteString(indexLine(f))
	}
	b.WriteString("\n## Known issues\n\nOne list, `explore.Known`: each entry is matched by its fault set and invariant (never by the\nviolation's text) and names the scenario that pins what the pipeline does there today.\n\n")
	for _, k := range explore.Known {
		fmt.Fprintf(&b, "- `%s` (%s, breaks %s): %s\n", k.Scenario, k.Repro, k.Invariant, k.Why)
	}
	return b.String()
}

// indexLine is a scenario's line in the index: its name and opening comment.
func indexLine(file string) string {
	data, err := os.ReadFile(file)
	first, _, _ := strings.Cut(string(data), "\n")
	if err != nil {
		first = err.Error()
	}
	name := strings.TrimSuffix(filepath.Base(file), ".txtar")
	return fmt.Sprintf("- `%s`: %s\n", name, strings.TrimSpace(strings.TrimPrefix(first, "#")))
}

// TestReadme fails when README.md does not document the registry as it
// is; -update rewrites it.
func TestReadme(t *testing.T) {
	want := renderReadme()
	if *update {
		require.NoError(t, os.WriteFile("README.md", []byte(want), 0o644))
		return
	}
	got, err := os.ReadFile("README.md")
	require.NoError(t, err, "README.md is generated: go test ./testscripts -run TestReadme -update")
	require.Equal(t, want, string(got), "README.md is stale: go test ./testscripts -run TestReadme -update")
}
