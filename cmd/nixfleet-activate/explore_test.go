package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/explore"
)

func exploreArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestExploreDepth1Exhaustive(t *testing.T) {
	code, out, errOut := exploreArgs(t, "explore", "--depth", "1")
	assert.Equal(t, ExitSuccess, code, errOut)
	assert.Regexp(t, `exhaustive: depth 1, 1 combination with no fault, (\d+) with 1 fault\n\d+ runs \(1 run with no fault, \d+ with 1 fault\) in `, out)
}

// TestExploreStrictExitsOnAnyViolation follows what the explorer finds in
// the pipeline as it is: strict fails exactly when a run broke something.
func TestExploreStrictExitsOnAnyViolation(t *testing.T) {
	rep := explore.New(explore.Config{}).Exhaustive(context.Background(), 2)
	want := ExitSuccess
	if !rep.OK() {
		want = ExitInternal
	}
	code, out, _ := exploreArgs(t, "explore", "--depth", "2", "--strict", "--repros", "1")
	assert.Equal(t, want, code, out)
	for name, n := range rep.Violating {
		assert.Contains(t, out, fmt.Sprintf("== %s: %d violating runs\n", name, n))
	}
}

func TestExploreWritesScenarios(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	e := explore.New(explore.Config{})
	r := e.Run(nil)
	require.NoError(t, writeScenario(dir, r))
	written, err := os.ReadFile(filepath.Join(dir, "explore_baseline.txtar"))
	require.NoError(t, err)
	assert.Equal(t, r.Scenario(), string(written))
	require.NoError(t, writeScenario("", r), "no --out: nothing written")
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
	for _, args := range [][]string{{"explore", "--bogus"}, {"explore", "extra"}, {"explore", "--max-faults", "0"}, {"explore", "--runs", "0"}} {
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
