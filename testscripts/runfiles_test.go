package testscripts

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunFilesReportsEachScenario pins what RunFiles (the binary's
// `scenario run`) reports: a passing scenario with its virtual time, and a
// failing one with the line that failed, testscript's failure line and the
// log, in the order given.
func TestRunFilesReportsEachScenario(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass.txtar")
	fail := filepath.Join(dir, "fail.txtar")
	require.NoError(t, os.WriteFile(pass, []byte(world0+"activate new\noutcome settled\n"), 0o644))
	require.NoError(t, os.WriteFile(fail, []byte(world0+"advance 10s\nactivate new\noutcome skipped\nlink /run/current-system new\n"), 0o644))

	results, err := RunFiles([]string{pass, fail}, Options{})
	require.NoError(t, err)
	require.Len(t, results, 2)

	assert.Equal(t, "pass", results[0].Name)
	assert.False(t, results[0].Failed, results[0].Log)
	assert.Equal(t, 6275*time.Millisecond, results[0].Virtual)
	assert.Positive(t, results[0].Wall)
	assert.Empty(t, results[0].Log)

	assert.Equal(t, "fail", results[1].Name)
	assert.True(t, results[1].Failed)
	assert.Equal(t, "outcome skipped", results[1].FailedCommand)
	assert.Contains(t, results[1].FailedAt, "fail.txtar:7: outcome: outcome is \"settled\", want \"skipped\"")
	assert.Contains(t, results[1].Log, "> activate new")
	assert.Equal(t, 16275*time.Millisecond, results[1].Virtual)
}

// TestRunFilesWithoutFiles: nothing to run is an error, not a pass.
func TestRunFilesWithoutFiles(t *testing.T) {
	_, err := RunFiles(nil, Options{})
	assert.Error(t, err)
}

// TestRunFilesFailsAScenarioWithoutCommands: an empty file, or one of only
// comments and files (a truncated scenario), fails instead of passing.
func TestRunFilesFailsAScenarioWithoutCommands(t *testing.T) {
	dir := t.TempDir()
	texts := map[string]string{
		"empty":    "",
		"comments": "# pins nothing yet\n\n# still nothing\n",
		"files":    "# only a file\n-- golden.txt --\nsettled\n",
	}
	var files []string
	for name, text := range texts {
		file := filepath.Join(dir, name+".txtar")
		require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
		files = append(files, file)
	}
	results, err := RunFiles(files, Options{})
	require.NoError(t, err)
	require.Len(t, results, len(files))
	for _, r := range results {
		assert.True(t, r.Failed, r.Name)
		assert.Equal(t, r.File+": no commands: an empty or truncated scenario", r.FailedAt)
	}
	for _, file := range scenarioFilesOf(dir) {
		assert.Error(t, checkHasCommands(file), "Run fails it too")
	}
	require.NoError(t, os.WriteFile(files[0], []byte("# one command\nelapsed 0s\n"), 0o644))
	assert.NoError(t, checkHasCommands(files[0]))
}
