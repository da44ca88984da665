package testscripts

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// command is one word of the scenario language. Every command is
// registered once, in registerCommands; Params.Cmds and README.md are
// built from that list.
type command struct {
	name string
	// usage is the one-line synopsis; summary says what it does.
	usage, summary string
	// negatable: `! name ...` is meaningful. Otherwise `!` is refused.
	negatable bool
	// prints: the command replaces the script's stdout and stderr (the
	// others leave them as the last printing command left them).
	prints bool
	// effect, for commands that change the simulated world, parses args and
	// returns the change; such commands may also be scheduled with `at`.
	effect func(s *script, args []string) (func() error, error)
	// run is every other command (set-up without `at`, runs, assertions).
	run func(s *script, neg bool, args []string) error
}

// script is what a command sees: the testscript and its world.
type script struct {
	ts *testscript.TestScript
	w  *world
}

// worldKey is where Setup puts a script's world in env.Values.
type worldKey struct{}

// The scenario language, built on first use (commands), not in every start
// of the binary.
var (
	registerOnce sync.Once
	registered   []command
)

// commands returns the scenario language, in the order README.md lists it.
func commands() []command {
	registerOnce.Do(func() { registered = registerCommands() })
	return registered
}

// conditionsDoc says which conditions scripts may use; README.md quotes it.
const conditionsDoc = "The suite defines no conditions of its own: a scenario states its host instead " +
	"of branching on it. testscript's built-in conditions (`[short]`, `[unix]`, `[exec:PROG]`, ...) apply; " +
	"any other name fails the script instead of silently reading as false."

// condition is Params.Condition: every name that is not built in is an error.
func condition(name string) (bool, error) {
	return false, fmt.Errorf("unknown condition %q: %s", name, conditionsDoc)
}

// registerCommands lists every command of the language, in order.
func registerCommands() []command {
	return slices.Concat(
		worldCommands(),
		hostEventCommands(),
		[]command{generationDeletedCommand(), atCommand()},
		runCommands(),
		[]command{killAgentCommand(), recoverCommand(), inFlightCommand(), journalCommand(), lastActivationCommand()},
		[]command{unblockCommand()},
		[]command{replayCommand()}, // transcripts (issue 15; cmd_replay_test.go)
		hostileCommands(),          // hardening (issue 10)
		healthCommands(),           // health checks (issue 18)
		assertCommands(),
	)
}

func atCommand() command {
	return command{name: "at", usage: "at DURATION COMMAND [ARGS...]",
		summary: "schedules a world-changing command (lock, fault, current, unit-collected, reboot, clock-step, ...) at DURATION of virtual time from now, so it happens while the agent runs; its errors fail the next command",
		run:     runAt}
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// cmds builds Params.Cmds from the registry.
func cmds() map[string]func(*testscript.TestScript, bool, []string) {
	m := make(map[string]func(*testscript.TestScript, bool, []string), len(commands()))
	for _, c := range commands() {
		m[c.name] = c.handler()
	}
	return m
}

// handler wraps a command: refuses a meaningless `!`, reports errors of
// scheduled effects, and fails the script with the host's state.
func (c command) handler() func(*testscript.TestScript, bool, []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		s := &script{ts: ts, w: ts.Value(worldKey{}).(*world)}
		if neg && !c.negatable {
			ts.Fatalf("%s does not take '!': write the expected state instead (usage: %s)", c.name, c.usage)
		}
		if c.prints {
			// LOADBEARING: a printing command always replaces stdout and
			// stderr, even with nothing, so `stdout` never sees an older
			// output; the others keep them for `stdout`/`stderr` checks.
			ts.Stdout()
		}
		err := c.call(s, neg, args)
		if evErr := s.w.takeEventErrs(); evErr != nil {
			ts.Fatalf("scheduled command failed: %v", evErr)
		}
		if err != nil {
			ts.Fatalf("%s: %v%s\n--- simulated host ---\n%s", c.name, err, c.usageNote(err), s.w.summary())
		}
	}
}

// usageError is a command line its command cannot read (wrong number,
// form or combination of arguments), as opposed to a failed assertion or
// a failed run: only it is followed by the command's usage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// usageNote is "\nusage: SYNOPSIS" after a usage error, "" after any other.
func (c command) usageNote(err error) string {
	if errors.As(err, new(usageError)) {
		return "\nusage: " + c.usage
	}
	return ""
}

func (c command) call(s *script, neg bool, args []string) error {
	if c.effect == nil {
		return c.run(s, neg, args)
	}
	apply, err := c.effect(s, args)
	if err != nil {
		return err
	}
	return apply()
}

// runAt schedules a world-changing command.
func runAt(s *script, _ bool, args []string) error {
	if len(args) < 2 {
		return usagef("want DURATION COMMAND [ARGS...]")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		return usagef("%q: want a duration such as 6s", args[0])
	}
	c, ok := lookup(args[1])
	if !ok || c.effect == nil {
		return fmt.Errorf("%q cannot be scheduled: only world-changing commands can (%s)", args[1], schedulableNames())
	}
	apply, err := c.effect(s, args[2:])
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	s.w.schedule(d, c.name, apply)
	return nil
}

// schedulableNames lists the commands `at` accepts.
func schedulableNames() string {
	var names string
	for _, c := range commands() {
		if c.effect != nil {
			if names != "" {
				names += ", "
			}
			names += c.name
		}
	}
	return names
}
