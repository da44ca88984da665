package testscripts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/explore"
)

// TestExplorerRunsRunAsScenarios renders explorer runs with the explorer's
// own renderer (explore.Run.Scenario) and runs the text with this suite's
// runner (RunFiles): the baseline, the repro of every known limit
// (explore.Known, the one list) and every depth-1 run. Both sides share
// one agent-process model (sim.Agent), so the verdicts must agree: a run
// that broke no invariant passes as a scenario, with each outcome the
// explorer observed (the "# observed:" comments, made checks here) printed
// by the suite too; a run that broke one fails, at one of the checks the
// renderer wrote for it.
func TestExplorerRunsRunAsScenarios(t *testing.T) {
	runs := explorerSample(t)
	dir := t.TempDir()
	files := make([]string, len(runs))
	for i, r := range runs {
		files[i] = filepath.Join(dir, r.ScenarioName())
		require.NoError(t, os.WriteFile(files[i], []byte(observedAsChecks(r.Scenario())), 0o644))
	}
	results, err := RunFiles(files, Options{})
	require.NoError(t, err)
	require.Len(t, results, len(runs))
	failed := 0
	for i, r := range runs {
		if results[i].Failed {
			failed++
		}
		res := results[i]
		if len(r.Violations) == 0 {
			assert.False(t, res.Failed, "[%s] is clean in the explorer, its scenario fails:\n%s", r.Names(), res.Log)
			continue
		}
		if assert.True(t, res.Failed, "[%s] broke %v in the explorer, its scenario passes", r.Names(), r.Violations) {
			assert.Contains(t, checkLines(r.Scenario()), res.FailedCommand,
				"[%s] fails before the checks of its broken invariants:\n%s", r.Names(), res.Log)
		}
	}
	t.Logf("%d explorer runs as scenarios: %d failed as their runs broke invariants", len(runs), failed)
}

// explorerSample is the baseline, each known limit's repro and every
// depth-1 run.
func explorerSample(t *testing.T) []*explore.Run {
	e := explore.New(explore.Config{})
	runs := []*explore.Run{e.Run(nil)}
	for _, k := range explore.Known {
		combo := k.Combo(e.Catalogue())
		require.NotContains(t, combo, -1, "known limit %s names an unknown fault", k.Repro)
		r := e.Run(combo)
		require.NotEmpty(t, r.Violations, "known limit %s no longer reproduces", k.Repro)
		runs = append(runs, r)
	}
	e.Catalogue().Enumerate(1, func(_ int, combo []int) bool {
		if len(combo) == 1 {
			runs = append(runs, e.Run(slices.Clone(combo)))
		}
		return true
	})
	return runs
}

const observedPrefix = "# observed: "

// observedAsChecks turns the renderer's "# observed: outcome ..." comments
// into `outcome` checks.
func observedAsChecks(scenario string) string {
	lines := strings.Split(scenario, "\n")
	for i, l := range lines {
		lines[i] = strings.Replace(l, observedPrefix, "", 1)
	}
	return strings.Join(lines, "\n")
}

// checkLines are the lines after the last observed outcome (every line
// when there is none): the checks the renderer wrote for the broken
// invariants.
func checkLines(scenario string) []string {
	lines := strings.Split(strings.TrimSpace(scenario), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], observedPrefix) {
			return lines[i+1:]
		}
	}
	return lines
}
