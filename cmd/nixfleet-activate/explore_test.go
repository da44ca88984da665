package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exploreArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestExploreDepth1ReportsOnlyKnownIssues(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := exploreArgs(t, "explore", "--depth", "1", "--out", dir)
	assert.Equal(t, ExitSuccess, code, errOut)
	assert.Regexp(t, `exhaustive: depth 1, \[1 (\d+)\] combinations by size\n\d+ runs \[1 \d+\] in `, out)
	assert.Contains(t, out, "known issue (journal=read-only-after-1)")
	written, err := os.ReadFile(filepath.Join(dir, "explore_journal-read-only-after-1.txtar"))
	require.NoError(t, err)
	assert.Contains(t, string(written), "# Explorer repro [journal=read-only-after-1] recovery-consistent")
}

func TestExploreStrictFailsOnKnownIssues(t *testing.T) {
	code, _, _ := exploreArgs(t, "explore", "--depth", "1", "--strict", "--repros", "0")
	assert.Equal(t, ExitInternal, code)
}

func TestExploreRandomPrintsItsSeed(t *testing.T) {
	code, out, errOut := exploreArgs(t, "explore", "--seed", "42", "--runs", "5", "--max-faults", "2")
	assert.Contains(t, []int{ExitSuccess}, code, errOut)
	assert.Contains(t, out, "random: seed 42, 5 runs of up to 2 faults\n5 runs ")
}

func TestExploreShowsOneRunByIndex(t *testing.T) {
	code, out, _ := exploreArgs(t, "explore", "--depth", "1", "--show", "0")
	assert.Equal(t, ExitSuccess, code)
	assert.Contains(t, out, "run #0 [baseline]\n-- explore_baseline.txtar --\n")
	assert.Contains(t, out, "systemd-run --unit=nixfleet-activate-switch")
	code, _, errOut := exploreArgs(t, "explore", "--depth", "0", "--show", "5")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "no run #5 at depth 0")
}

func TestExploreRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{{"explore", "--bogus"}, {"explore", "extra"}, {"explore", "--max-faults", "0"}} {
		code, _, _ := exploreArgs(t, args...)
		assert.Equal(t, ExitUsage, code, "%v", args)
	}
	code, _, _ := exploreArgs(t, "explore", "-h")
	assert.Equal(t, ExitSuccess, code)
}

func TestExploreStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"explore", "--depth", "2"}, &stdout, &stderr)
	assert.Equal(t, ExitInterrupted, code)
	assert.Contains(t, stdout.String(), "(interrupted)")
}
