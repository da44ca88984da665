package main

import (
	"bytes"
	"context"
	"flag"
	"io"
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

// TestHelpSpellsFlagsWithTwoDashes: every help lists each flag as --NAME
// TYPE (as the README and the errors spell them), none with one dash, and
// no usage string names a type by back-quotes (the flag package would
// print the quoted word as the flag's type: --confirm-within showed
// "nixfleet-activate confirm").
func TestHelpSpellsFlagsWithTwoDashes(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"activate", "-h"}, {"scenario", "run", "-h"}, {"explore", "-h"}} {
		code, out, _ := runArgs(args...)
		assert.Equal(t, ExitSuccess, code)
		assert.NotRegexp(t, `(?m)^  -[a-z]`, out, "%q", args)
		assert.Regexp(t, `(?m)^  --[a-z]`, out, "%q", args)
	}
	_, out, _ := runArgs("--help")
	assert.Contains(t, out, "\n  --confirm-within duration\n")
	assert.Contains(t, out, "\n  --agent-lock string\n    \tlock file serialising activate, rollback and recover on this host (default \"/run/nixfleet-activate.lock\")\n")
	assert.Contains(t, out, "\n  --poll-interval duration\n    \ttime between reads of current-system (default 2s)\n")
	newFlagSet(&config{meta: map[string]string{}}, io.Discard).VisitAll(func(f *flag.Flag) {
		assert.NotContains(t, f.Usage, "`", "--%s", f.Name)
	})
}
