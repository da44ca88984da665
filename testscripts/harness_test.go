package testscripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runScript runs one script text with the suite's parameters and returns
// whether it failed and its log.
func runScript(t *testing.T, text string) (bool, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "probe.txtar")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	p := suiteParams()
	p.Dir, p.Files, p.UpdateScripts = "", []string{file}, false
	r := newRecordT()
	testscript.RunT(r, p)
	return r.failed["probe"], r.log("probe")
}

// world0 is the typical set-up the probes start from.
const world0 = "closure old valid\nclosure new\noffer new file:///srv/cache\nrunning old\n"

// TestHarnessCatchesMistakes pins that the language fails loudly on wrong
// expectations, typos and meaningless negations, rather than passing.
func TestHarnessCatchesMistakes(t *testing.T) {
	cases := []struct {
		name, script, want string
	}{
		{"wrong kind", world0 + "activate new\noutcome skipped\n", `outcome is "settled", want "skipped"`},
		{"wrong nested field", world0 + "activate new\noutcome settled switch.exit_code=4\n", `switch.exit_code is "0", want "4"`},
		{"null is not 0", world0 + "activate new\noutcome settled switch.exit_code=null\n", `switch.exit_code is "0", want "null"`},
		{"absent field", world0 + "activate new\noutcome settled last_observed=x\n", `last_observed is "", want "x"`},
		{"regexp", world0 + "activate new\noutcome settled closure=~^nope\n", `want a match of "^nope"`},
		{"negated assertion", world0 + "activate new\n! outcome skipped\n", `outcome does not take '!'`},
		{"unknown option", "closure new vaild\n", `want ALIAS, got ["new" "vaild"]`},
		{"unknown alias", "activate nope\n", `unknown closure "nope"`},
		{"unknown command", "activte new\n", `unknown command "activte"`},
		{"unknown condition", "[nixos] closure new\n", `unknown condition "nixos"`},
		{"host after use", "closure new\nhost nix=2.3\n", `host must come before`},
		{"link", world0 + "link /run/current-system new\n", `/run/current-system points at old, want new`},
		{"profile", world0 + "profile-is new\n", `the profile resolves to old, want new`},
		{"elapsed", world0 + "activate new\nelapsed 1s\n", `virtual time is 6.275s, want 1s`},
		{"unit", world0 + "activate new\nunit nixfleet-activate-switch status=4\n", `status=0, want 4`},
		{"ran-switch-of negated", world0 + "activate new\n! ran-switch-of new\n", `a unit ran new's switch-to-configuration`},
		{"scheduled error", world0 + "at 1s current nope\n", `unknown closure "nope"`},
		{"not schedulable", world0 + "at 1s activate new\n", `"activate" cannot be scheduled`},
		{"outcome before a run", world0 + "outcome settled\n", `no activate, rollback or recover has run yet`},
		{"killed run has no outcome", world0 + "kill-agent after systemd-run\nactivate new\noutcome settled\n", `the last run printed no outcome: the agent was killed after systemd-run`},
		{"kill-agent usage", world0 + "kill-agent during systemd-run\n", `want before|after PROGRAM`},
		{"kill-agent at usage", world0 + "kill-agent at soon\n", `"soon": want a duration`},
		{"kill-agent nth", world0 + "kill-agent before nix-env --set nth=0\n", `nth="0": want a count from 1`},
		{"kill-agent without program", world0 + "kill-agent after nth=2\n", `want a PROGRAM after after`},
		{"killed at a time has no outcome", world0 + "kill-agent at 1s\nactivate new\noutcome settled\n", `the agent was killed at 1s`},
		{"killed at the nth command", world0 + "kill-agent before systemctl show nth=2\nactivate new\nelapsed 0s\n", `virtual time is 2.275s, want 0s`},
		{"in-flight step", world0 + "kill-agent after systemd-run\nactivate new\nin-flight fired\n", `state is "firing", want "fired"`},
		{"in-flight closure", world0 + "kill-agent after systemd-run\nactivate new\nin-flight firing closure=old\n", `closure is "new", want "old"`},
		{"in-flight none", world0 + "activate new interrupt-at=1s\nin-flight none\n", `state is "fired", want "none"`},
		{"in-flight kept", world0 + "journal torn\nactivate new\nin-flight none kept=0\n", `kept is "1", want "0"`},
		{"journal usage", world0 + "journal broken\n", `want full, read-only, writable, garbage`},
		{"journal after with a record", world0 + "journal torn after=1\n", `after= goes with full or read-only`},
		{"stale stdout", world0 + "activate new\ncommands last\nrecover\nstdout systemd-run\n", "no match for `systemd-run` found in stdout"},
		{"cli exit", "cli exit=0 --sim lock-held activate\n", `exited 4, want 0`},
		{"negative field", world0 + "activate new\noutcome settled switch.exit_code!=0\n", `switch.exit_code is "0", want anything else`},
		{"reboot into unknown", world0 + "reboot into=nope\n", `unknown closure "nope"`},
		{"clock-step zero", world0 + "clock-step 0s\n", `want a non-zero duration`},
		{"agent unknown flag", "agent --poll-budgt 1m\n", `flag provided but not defined: -poll-budgt`},
		{"agent bad policy", "agent --on-failure maybe\n", `--on-failure must be restore or keep, got "maybe"`},
		{"agent interval beyond budget", "agent --poll-interval 2m --poll-budget 1m\n", `--poll-interval 2m0s is longer than --poll-budget 1m0s`},
		{"agent stray word", "agent --poll-budget 1m soon\n", `unexpected ["soon"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failed, log := runScript(t, c.script)
			assert.True(t, failed, "the script passed:\n%s", log)
			assert.Contains(t, log, c.want)
		})
	}
}

// TestHarnessTimeKillAfterTheRunIsMoot pins that a kill time the run
// outlives ends nothing: the run reports, and a later run is not killed.
func TestHarnessTimeKillAfterTheRunIsMoot(t *testing.T) {
	failed, log := runScript(t, world0+"kill-agent at 1h\nactivate new\noutcome settled\nadvance 2h\n"+
		"recover\nstdout '^no unfinished run$'\nin-flight none\n")
	assert.False(t, failed, log)
}

// TestHarnessPassesTheTypicalSetUp is the control for the cases above.
func TestHarnessPassesTheTypicalSetUp(t *testing.T) {
	failed, log := runScript(t, world0+"activate new\noutcome settled\nlink /run/current-system new\n")
	assert.False(t, failed, log)
}

// TestHarnessUsageOnlyAfterAUsageError: a command line its command cannot
// read is followed by the command's usage; a failed assertion or run is
// not (the usage read as if the line were malformed).
func TestHarnessUsageOnlyAfterAUsageError(t *testing.T) {
	for _, c := range []struct {
		name, script string
		usage        bool
	}{
		{"outcome mismatch", world0 + "activate new\noutcome skipped\n", false},
		{"link mismatch", world0 + "link /run/current-system new\n", false},
		{"unknown alias", world0 + "activate nope\n", false},
		{"outcome without a kind", world0 + "activate new\noutcome\n", true},
		{"malformed field", world0 + "activate new\noutcome settled closure\n", true},
		{"stray word", "closure new vaild\n", true},
		{"agent unknown flag", "agent --poll-budgt 1m\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			failed, log := runScript(t, c.script)
			require.True(t, failed, log)
			if c.usage {
				assert.Regexp(t, `\nusage: \S`, log)
			} else {
				assert.NotContains(t, log, "usage:")
			}
		})
	}
}
