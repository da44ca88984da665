package testscripts

import (
	"fmt"
	"strings"
)

// referenceHead opens the language reference: what a scenario is, the
// host it gets and how to run a suite.
const referenceHead = `# Scenario language

Scenarios for nixfleet-activate, one per file ` + "`<name>.txtar`" + `, written in
[testscript](https://pkg.go.dev/github.com/rogpeppe/go-internal/testscript) with the commands
below. Each file opens with one comment line saying what it pins and why.

Every script gets a fresh simulated NixOS host (` + "`backends/sim`" + `): Nix 2.8 texts, nix.conf with the
substituter ` + "`" + defaultCache + "`" + ` trusting the key named ` + "`" + defaultKeyName + "`" + `, a free switch lock, and
the command durations REAL-TOOLS.md observed (realise 150 ms, nix-env 90 ms, systemd-run 35 ms). The
agent runs in-process through the real backend (` + "`backends/real`" + `) over the host's emulated
nix-store, nix-env, systemd-run and systemctl, so scenarios exercise the real command lines and
parsers; time is virtual, so a 300 s poll budget costs no wall time. ` + "`agent`" + ` gives the agent the
flags a fleet ships (poll interval and budget, failure policy, unit names, substituters and keys).
` + "`cli`" + ` runs the ` + "`nixfleet-activate`" + ` command line, which is also on the scripts' PATH for ` + "`exec`" + `.

A closure is declared by alias (` + "`closure new`" + `); its store basename is exported as ` + "`$new`" + `,
and command logs show its store path as ` + "`/nix/store/<new>`" + `.

    # the typical set-up
    closure old valid
    closure new
    offer new ` + defaultCache + `
    running old
    activate new
    outcome settled closure=$new switch.exit_code=0
    link /run/current-system new

A suite is a directory of such files. Run it with the binary, no Go toolchain needed:

    nixfleet-activate scenario run [--junit report.xml] DIR|FILE...

or from a Go test of any module (` + "`cli`" + ` then runs the ` + "`nixfleet-activate`" + ` on PATH, or
Options.CLI):

    func TestFleet(t *testing.T) { testscripts.Run(t, "testdata/fleet", testscripts.Options{}) }

` + "`nixfleet-activate scenario help [COMMAND]`" + ` prints this reference, or one command's entry.
`

// commandsHead introduces the generated command list.
const commandsHead = "\n## Commands\n\nGenerated from the registry in registry.go. `!` is refused by every command not marked\n" +
	"negatable. World-changing commands (marked schedulable) may follow `at DURATION`. Commands that do\n" +
	"not print leave stdout and stderr as the last printing command left them, so `stdout` and\n" +
	"`stderr` checks may follow `outcome` and other assertions.\n"

// Reference returns the scenario language's reference in Markdown,
// rendered from the command registry: the opening of testscripts/README.md
// and the text of `nixfleet-activate scenario help`.
func Reference() string {
	var b strings.Builder
	b.WriteString(referenceHead)
	b.WriteString(commandsHead)
	for _, c := range commands() {
		b.WriteString(c.reference())
	}
	fmt.Fprintf(&b, "\n## Conditions\n\n%s\n", conditionsDoc)
	return b.String()
}

// CommandReference returns one command's entry of the reference; false
// when the language has no such command.
func CommandReference(name string) (string, bool) {
	c, ok := lookup(name)
	if !ok {
		return "", false
	}
	return strings.TrimPrefix(c.reference(), "\n"), true
}

// CommandNames lists the language's commands in reference order.
func CommandNames() []string {
	names := make([]string, len(commands()))
	for i, c := range commands() {
		names[i] = c.name
	}
	return names
}

// reference is the command's entry: heading, usage, summary and marks.
func (c command) reference() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### %s\n\n    %s\n\n%s.", c.name, c.usage, capitalise(c.summary))
	var marks []string
	if c.prints {
		marks = append(marks, "prints: replaces stdout and stderr")
	}
	if c.negatable {
		marks = append(marks, "negatable")
	}
	if c.effect != nil {
		marks = append(marks, "schedulable with `at`")
	}
	if len(marks) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(marks, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
