package testscripts

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// areas are the scenario areas; README.md names them too.
var areas = []string{"lock", "trust", "profile", "current", "unit", "defer", "rollback", "input", "switch", "recover", "journal", "cli", "restore", "already", "closure", "cache", "health"}

// effectCommands assert what a run did to the host, beside its outcome.
var effectCommands = []string{"link", "profile-is", "generations", "boot-default", "unit", "commands", "runs", "ran-switch-of", "in-flight", "valid"}

// outcomeCommands always leave an outcome to assert.
var outcomeCommands = []string{"activate", "activate-raw", "rollback"}

var scenarioName = regexp.MustCompile(`^([a-z]+)_[a-z0-9][a-z0-9.-]*\.txtar$`)

// scenario is one parsed scenario file.
type scenario struct {
	name, comment string
	// words are the command names of its script lines, after any
	// condition, `!` and `at DURATION` prefixes.
	words []string
}

func loadScenarios(t *testing.T) []scenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	require.NoError(t, err)
	var out []scenario
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		require.NoError(t, err)
		sc := scenario{name: filepath.Base(f), comment: string(a.Comment)}
		for _, line := range strings.Split(sc.comment, "\n") {
			if w := commandWord(line); w != "" {
				sc.words = append(sc.words, w)
			}
		}
		out = append(out, sc)
	}
	return out
}

// commandWord returns the command a script line runs ("" for blank and
// comment lines).
func commandWord(line string) string {
	fields := strings.Fields(line)
	for len(fields) > 0 && (strings.HasPrefix(fields[0], "[") || fields[0] == "!") {
		fields = fields[1:]
	}
	if len(fields) > 2 && fields[0] == "at" {
		return fields[2]
	}
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return ""
	}
	return fields[0]
}

// TestScenarioFiles pins the suite's conventions: <area>_<case>.txtar with
// a known area, one opening comment line, the outcome of every activate or
// rollback and an effect checked.
func TestScenarioFiles(t *testing.T) {
	scenarios := loadScenarios(t)
	require.GreaterOrEqual(t, len(scenarios), 40)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := scenarioName.FindStringSubmatch(sc.name)
			require.NotNil(t, m, "want <area>_<case>.txtar")
			assert.Contains(t, areas, m[1], "unknown area")
			lines := strings.SplitN(sc.comment, "\n", 3)
			require.GreaterOrEqual(t, len(lines), 2)
			assert.Regexp(t, `^# \S.{20,}$`, lines[0], "open with one comment line on what it pins and why")
			assert.False(t, strings.HasPrefix(lines[1], "#"), "one opening comment line, not several")
			if m[1] == "cli" {
				assert.Contains(t, sc.words, "stdout", "a CLI scenario checks the outcome on stdout")
				return
			}
			if slices.ContainsFunc(sc.words, func(w string) bool { return slices.Contains(outcomeCommands, w) }) {
				assert.Contains(t, sc.words, "outcome", "assert the outcome")
			}
			assert.True(t, slices.ContainsFunc(sc.words, func(w string) bool { return slices.Contains(effectCommands, w) }),
				"assert at least one effect (%v)", effectCommands)
		})
	}
}

// TestEveryCommandIsUsed keeps the language honest: a command no scenario
// uses is untested.
func TestEveryCommandIsUsed(t *testing.T) {
	used := map[string]bool{}
	for _, sc := range loadScenarios(t) {
		for _, w := range sc.words {
			used[w] = true
		}
		if strings.Contains(sc.comment, "\nat ") {
			used["at"] = true
		}
	}
	for _, c := range commands() {
		assert.True(t, used[c.name], "no scenario uses %q", c.name)
	}
}

// TestReadmeNamesEveryArea keeps README.md's list of areas in step.
func TestReadmeNamesEveryArea(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, a := range areas {
		assert.Contains(t, string(readme), "`"+a+"`")
	}
}
