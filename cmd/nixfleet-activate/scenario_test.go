package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/testscripts"
)

// fleetSuite is the example suite of a made-up fleet.
var fleetSuite = filepath.Join("..", "..", "examples", "fleet-suite")

func scenarioCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"scenario"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// readJUnit reads a `--junit` report back.
func readJUnit(t *testing.T, file string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), xml.Header), "an XML declaration opens the report")
	var report junitSuites
	require.NoError(t, xml.Unmarshal(data, &report))
	return report
}

// TestScenarioRunFleetSuite runs the example fleet's suite as its CI
// does: every scenario passes, one line each, and the JUnit report lists
// them with their virtual times.
func TestScenarioRunFleetSuite(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out, errOut := scenarioCmd(t, "run", "--junit", junit, fleetSuite)
	require.Equal(t, ExitSuccess, code, out+errOut)
	want := []string{"db-restart-fits-budget", "failed-switch-restores", "kernel-bump-defers", "rotated-key-refused"}
	for _, name := range want {
		assert.Regexp(t, `(?m)^ok    `+name+` +virtual \S+ +wall \S+$`, out)
	}
	assert.Contains(t, out, "\n4 scenarios: 4 passed, 0 failed, 0 skipped (wall ")

	report := readJUnit(t, junit)
	assert.Equal(t, 4, report.Tests)
	assert.Zero(t, report.Failures)
	require.Len(t, report.Suites, 1)
	suite := report.Suites[0]
	assert.Equal(t, fleetSuite, suite.Name)
	require.Len(t, suite.Cases, 4)
	for i, c := range suite.Cases {
		assert.Equal(t, want[i], c.Name)
		assert.Equal(t, filepath.Join(fleetSuite, want[i]+".txtar"), c.File)
		assert.Nil(t, c.Failure)
		require.Len(t, c.Properties, 1)
		assert.Equal(t, "virtual_time", c.Properties[0].Name)
	}
	assert.Equal(t, "1m35.275s", suite.Cases[0].Properties[0].Value, "the 90 s database restart, read every 5 s")
}

// TestScenarioRunFailing: a failing scenario makes the run exit 1 and
// shows the failing command and the script's log; the JUnit report
// carries the failure.
func TestScenarioRunFailing(t *testing.T) {
	dir := t.TempDir()
	failing := "# A wrong expectation: the switch settles, the scenario wants skipped.\n" +
		"closure old valid\nclosure new\noffer new file:///srv/cache\nrunning old\n" +
		"activate new\noutcome skipped\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wrong-outcome.txtar"), []byte(failing), 0o644))
	junit := filepath.Join(dir, "report.xml")

	code, out, errOut := scenarioCmd(t, "run", filepath.Join(fleetSuite, "kernel-bump-defers.txtar"), dir, "--junit", junit)
	assert.Equal(t, ExitScenarioFailed, code, errOut)
	assert.Regexp(t, `(?m)^ok    kernel-bump-defers `, out)
	assert.Regexp(t, `(?m)^FAIL  wrong-outcome +virtual 6.275s +wall `, out)
	assert.Contains(t, out, "      failing command: outcome skipped\n")
	assert.Contains(t, out, `wrong-outcome.txtar:7: outcome: outcome is "settled", want "skipped"`)
	assert.Contains(t, out, "        > activate new\n", "the script's log")
	assert.Contains(t, out, "\n2 scenarios: 1 passed, 1 failed, 0 skipped")

	report := readJUnit(t, junit)
	assert.Equal(t, 2, report.Tests)
	assert.Equal(t, 1, report.Failures)
	require.Len(t, report.Suites, 2, "one suite per directory")
	c := report.Suites[1].Cases[0]
	require.NotNil(t, c.Failure)
	assert.True(t, strings.HasPrefix(c.Failure.Message, "outcome skipped: "), c.Failure.Message)
	assert.Contains(t, c.Failure.Text, "> activate new\n")
}

// TestScenarioRunRepositorySuite runs the repository's own scenarios with
// the binary's runner: the same language, `cli` in-process and `exec`
// finding this binary (TestMain), no go build.
func TestScenarioRunRepositorySuite(t *testing.T) {
	code, out, errOut := scenarioCmd(t, "run", filepath.Join("..", "..", "testscripts", "testdata"))
	require.Equal(t, ExitSuccess, code, out+errOut)
	assert.Regexp(t, `(?m)^ok    cli_exec `, out)
	assert.Regexp(t, `\n\d{3} scenarios: \d{3} passed, 0 failed, 0 skipped`, out)
}

func TestScenarioRunUsage(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "want at least one PATH"},
		{[]string{"run", filepath.Join(empty, "nope.txtar")}, "no such file or directory"},
		{[]string{"run", empty}, "no *.txtar scenario in this directory"},
		{[]string{"run", "--junt", "r.xml", fleetSuite}, "unknown flag"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"help", "activte"}, `unknown command "activte"`},
	} {
		code, _, errOut := scenarioCmd(t, c.args...)
		assert.Equal(t, ExitUsage, code, "%v", c.args)
		assert.Contains(t, errOut, c.want, "%v", c.args)
	}
}

// TestScenarioHelp: the language reference is the one README.md opens
// with, from the same registry; one command's entry; the subcommands' help.
func TestScenarioHelp(t *testing.T) {
	code, out, _ := scenarioCmd(t, "help")
	require.Equal(t, ExitSuccess, code)
	assert.Equal(t, testscripts.Reference(), out)
	readme, err := os.ReadFile(filepath.Join("..", "..", "testscripts", "README.md"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(readme), out), "testscripts/README.md opens with the reference")

	code, out, _ = scenarioCmd(t, "help", "switch")
	assert.Equal(t, ExitSuccess, code)
	assert.True(t, strings.HasPrefix(out, "### switch\n\n    switch ALIAS "), out)

	code, out, _ = scenarioCmd(t, "-h")
	assert.Equal(t, ExitSuccess, code)
	assert.Contains(t, out, "usage: nixfleet-activate scenario run [--junit FILE] PATH...")
	code, out, _ = scenarioCmd(t, "run", "-h")
	assert.Equal(t, ExitSuccess, code)
	assert.Contains(t, out, "-junit string")
	code, _, _ = scenarioCmd(t)
	assert.Equal(t, ExitUsage, code)
}

// TestScenarioRunFailsAnEmptyScenario: a file with no command fails the
// run (exit 1) instead of passing as ok.
func TestScenarioRunFailsAnEmptyScenario(t *testing.T) {
	file := filepath.Join(t.TempDir(), "truncated.txtar")
	require.NoError(t, os.WriteFile(file, []byte("# pins the happy path\n"), 0o644))
	code, out, _ := scenarioCmd(t, "run", file)
	assert.Equal(t, ExitInternal, code, out)
	assert.Contains(t, out, "FAIL  truncated")
	assert.Contains(t, out, "no commands: an empty or truncated scenario")
}
