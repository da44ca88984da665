package testscripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// knownDir holds the scenarios of open bugs. Each is written as the fixed
// code must behave, so it fails today; its known-bug.txt section is a
// regexp of the failure it shows (matched against the script's log).
const knownDir = "testdata/known"

// knownSection names the section that marks a scenario as a known bug.
const knownSection = "known-bug.txt"

// TestKnownBugs runs every scenario of knownDir and wants it to fail as its
// known-bug.txt section says: a scenario that passes means the fix landed
// (move it to testdata/ and drop the section); one that fails otherwise
// has gone stale.
func TestKnownBugs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(knownDir, "*.txtar"))
	require.NoError(t, err)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			want := knownFailure(t, txtar.Parse(data))
			failed, log := runScript(t, string(data))
			require.True(t, failed, "%s passes now: the fix landed; move it to testdata/ and drop its %s section\n%s", f, knownSection, log)
			assert.Regexp(t, want, log, "%s fails otherwise than its %s says", f, knownSection)
		})
	}
}

// knownFailure returns the regexp of a known bug's failure.
func knownFailure(t *testing.T, a *txtar.Archive) string {
	t.Helper()
	for _, f := range a.Files {
		if f.Name == knownSection {
			want := strings.TrimSpace(string(f.Data))
			require.NotEmpty(t, want, "an empty %s section", knownSection)
			return want
		}
	}
	t.Fatalf("no %s section: a scenario in %s must say how it fails today", knownSection, knownDir)
	return ""
}
