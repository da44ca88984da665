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
