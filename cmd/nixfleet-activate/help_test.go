package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// runArgs runs the binary's command line in-process.
func runArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestEveryHelpFlagIsHelp: -h and --help anywhere print help on stdout and
// exit 0, for every subcommand, those with their own parsers included
// (transcript used to open "-h" as its FILE, or exit 2).
func TestEveryHelpFlagIsHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"activate", "-h"}, {"status", "--help"}, {"explore", "-h"}, {"scenario", "-h"},
		{"scenario", "run", "--help"}, {"transcript", "-h"}, {"transcript", "--help"},
		{"transcript", "replay", "-h"}, {"transcript", "scenario", "--help"},
	} {
		code, out, errOut := runArgs(args...)
		assert.Equal(t, ExitSuccess, code, "%q: %s", args, errOut)
		assert.Contains(t, out, "usage: nixfleet-activate", "%q", args)
		assert.Empty(t, errOut, "%q", args)
	}
}

// TestTopLevelHelpListsEverySubcommand: --help's usage names each one.
func TestTopLevelHelpListsEverySubcommand(t *testing.T) {
	_, out, _ := runArgs("--help")
	usage, _, _ := strings.Cut(out, "\n\n")
	for _, sub := range strings.Split(subcommandList(), ", ") {
		assert.Regexp(t, `(?m)^(usage:)? +nixfleet-activate (\[flags\] )?`+sub+`\b`, usage, "a usage line for %s", sub)
	}
}

// TestUsageErrorsNameEverySubcommand: an unknown or missing subcommand
// lists all of them, from the one list, and the hint does too.
func TestUsageErrorsNameEverySubcommand(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {}} {
		code, out, errOut := runArgs(args...)
		assert.Equal(t, ExitUsage, code)
		assert.Empty(t, out)
		for _, sub := range []string{"activate", "confirm", "explore", "scenario", "transcript"} {
			assert.Contains(t, firstLine(errOut), sub, "%q", args)
		}
		assert.Contains(t, errOut, "see: nixfleet-activate -h (subcommands: activate, rollback, recover, status, unblock, confirm, explore, scenario, transcript)")
	}
}

// TestOwnParserUsageErrorsAreShort: explore and scenario report a usage
// error as one line and a hint on stderr, never the whole usage, never on
// stdout.
func TestOwnParserUsageErrorsAreShort(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"explore", "--bogus"}, "nixfleet-activate explore: flag provided but not defined: -bogus\nsee: nixfleet-activate explore -h\n"},
		{[]string{"scenario"}, "nixfleet-activate scenario: missing subcommand (run, help)\nsee: nixfleet-activate scenario -h\n"},
	} {
		code, out, errOut := runArgs(c.args...)
		assert.Equal(t, ExitUsage, code, "%q", c.args)
		assert.Empty(t, out, "%q", c.args)
		assert.Equal(t, c.want, errOut, "%q", c.args)
	}
}

// TestScenarioHelpSuggests: a misspelt command gets the runner's "did you
// mean".
func TestScenarioHelpSuggests(t *testing.T) {
	code, _, errOut := runArgs("scenario", "help", "activat")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown command "activat" (did you mean "activate"?)`)
	_, _, errOut = runArgs("scenario", "help", "zzzzzz")
	assert.NotContains(t, errOut, "did you mean")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
