package testscripts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/explore"
)

// readmeHead is the hand-written part of README.md; the command reference
// below it is generated from the registry.
const readmeHead = `# Scenario suite

Scenarios for nixfleet-activate, one per file in ` + "`testdata/<area>_<case>.txtar`" + `, written in
[testscript](https://pkg.go.dev/github.com/rogpeppe/go-internal/testscript) with the commands
below. Each file opens with one comment line saying what it pins and why. Areas: ` + "`lock`" + ` (racing
switches), ` + "`trust`" + `, ` + "`profile`" + `, ` + "`current`" + ` (current-system), ` + "`unit`" + ` (unit status),
` + "`defer`" + `, ` + "`rollback`" + `, ` + "`input`" + ` (bad input), ` + "`switch`" + ` (the live switch as a whole), ` + "`recover`" + ` (an agent killed or interrupted
mid-run, and the next one working out what became of it), ` + "`journal`" + ` (faults of the in-flight record
itself), ` + "`restore`" + ` (a failed run putting the profile and boot default back), ` + "`already`" + ` (a target the
host already runs), ` + "`closure`" + ` (what the realised closure must be and how it is held against garbage
collection), ` + "`cache`" + ` (substituter failures as Nix prints them), ` + "`health`" + ` (health checks, confirmation and the rollback of an unhealthy closure) and ` + "`cli`" + ` (the binary).

Every script gets a fresh simulated NixOS host (` + "`backends/sim`" + `): Nix 2.8 texts, nix.conf with the
substituter ` + "`" + defaultCache + "`" + ` trusting the key named ` + "`" + defaultKeyName + "`" + `, a free switch lock, and
the command durations REAL-TOOLS.md observed (realise 150 ms, nix-env 90 ms, systemd-run 35 ms). The
agent runs in-process through the real backend (` + "`backends/real`" + `) over the host's emulated
nix-store, nix-env, systemd-run and systemctl, so scenarios exercise the real command lines and
parsers; time is virtual, so a 300 s poll budget costs no wall time. ` + "`cli`" + ` runs the built
` + "`nixfleet-activate`" + ` binary, which is also on the scripts' PATH for ` + "`exec`" + `.

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

Run the suite with ` + "`go test ./testscripts`" + `; one scenario with
` + "`go test ./testscripts -run TestScripts/<file name without .txtar>`" + `. After changing the registry,
regenerate this file with ` + "`go test ./testscripts -run TestReadme -update`" + ` (` + "`-update`" + ` also
rewrites golden files that ` + "`cmp`" + ` compares with inside a scenario); TestReadme fails while it
is stale.
`

// renderReadme renders README.md from the registry.
func renderReadme() string {
	var b strings.Builder
	b.WriteString(readmeHead)
	b.WriteString("\n## Commands\n\nGenerated from the registry in registry_test.go. `!` is refused by every command not marked\nnegatable. World-changing commands (marked schedulable) may follow `at DURATION`. Commands that do\nnot print leave stdout and stderr as the last printing command left them, so `stdout` and\n`stderr` checks may follow `outcome` and other assertions.\n")
	for _, c := range commands {
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
	}
	fmt.Fprintf(&b, "\n## Conditions\n\n%s\n", conditionsDoc)
	b.WriteString(scenarioIndex())
	return b.String()
}

// scenarioIndex lists every scenario with its opening comment, by area,
// then the known bugs.
func scenarioIndex() string {
	var b strings.Builder
	b.WriteString("\n## Scenarios\n\nGenerated from the opening comment line of each file in testdata/.\n")
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	area := ""
	for _, f := range files {
		name := filepath.Base(f)
		if a, _, _ := strings.Cut(name, "_"); a != area {
			area = a
			fmt.Fprintf(&b, "\n### %s\n\n", area)
		}
		b.WriteString(indexLine(f))
	}
	b.WriteString("\n## Known issues\n\nOne list, `explore.Known`: each entry is matched by its fault set and invariant (never by the\nviolation's text) and names the scenario that pins what the pipeline does there today.\n\n")
	for _, k := range explore.Known {
		fmt.Fprintf(&b, "- `%s` (%s, breaks %s): %s\n", k.Scenario, k.Repro, k.Invariant, k.Why)
	}
	return b.String()
}

// indexLine is a scenario's line in the index: its name and opening comment.
func indexLine(file string) string {
	data, err := os.ReadFile(file)
	first, _, _ := strings.Cut(string(data), "\n")
	if err != nil {
		first = err.Error()
	}
	name := strings.TrimSuffix(filepath.Base(file), ".txtar")
	return fmt.Sprintf("- `%s`: %s\n", name, strings.TrimSpace(strings.TrimPrefix(first, "#")))
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// TestReadme fails when README.md does not document the registry as it
// is; -update rewrites it.
func TestReadme(t *testing.T) {
	want := renderReadme()
	if *update {
		require.NoError(t, os.WriteFile("README.md", []byte(want), 0o644))
		return
	}
	got, err := os.ReadFile("README.md")
	require.NoError(t, err, "README.md is generated: go test ./testscripts -run TestReadme -update")
	require.Equal(t, want, string(got), "README.md is stale: go test ./testscripts -run TestReadme -update")
}
