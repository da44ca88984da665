package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// Matcher selects command lines, for faults and kill points (Kill).
type Matcher func(argv []string) bool

// Cmd matches a command whose program base name is program and whose
// arguments contain words in this order (not necessarily adjacent):
// Cmd("nix-env", "--set") matches `nix-env --profile P --set PATH`.
func Cmd(program string, words ...string) Matcher {
	return func(argv []string) bool {
		if len(argv) == 0 || programName(argv[0]) != program {
			return false
		}
		rest := argv[1:]
		for _, w := range words {
			i := slices.Index(rest, w)
			if i < 0 {
				return false
			}
			rest = rest[i+1:]
		}
		return true
	}
}

// Fault makes matching commands fail without effect: the command does
// nothing and returns Exit, Stdout and Stderr.
type Fault struct {
	Match Matcher
	// Exit is the exit status returned.
	Exit int
	// Stdout and Stderr are returned verbatim (a final newline is added to
	// non-empty texts).
	Stdout, Stderr string
	// Times is how many matching commands fail; 0 means all of them.
	Times int
	// Duration is virtual time the failing command takes before it
	// answers (beyond the program's configured cost); scheduled events run
	// meanwhile.
	Duration time.Duration
	// Hang: the command never answers; it runs until its caller's own
	// timeout (the context's deadline) ends it, and Run returns an error
	// wrapping context.DeadlineExceeded.
	Hang bool
}

type fault struct {
	Fault
	used int
}

func (f *fault) result() proc.Result { return result(f.Exit, f.Stdout, f.Stderr) }

// AddFault installs f; the first installed fault that matches a command
// wins.
func (h *Host) AddFault(f Fault) { h.faults = append(h.faults, &fault{Fault: f}) }

// SetFault makes every command matched by m exit with exit and stderr,
// without effect (see Fault). Phrase stderr with Phrasing for the Nix
// version under test.
func (h *Host) SetFault(m Matcher, exit int, stderr string) {
	h.AddFault(Fault{Match: m, Exit: exit, Stderr: stderr})
}

// ClearFaults removes every fault.
func (h *Host) ClearFaults() { h.faults = nil }

// takeFault returns the fault answering argv, counting its use.
func (h *Host) takeFault(argv []string) *fault {
	for _, f := range h.faults {
		if (f.Times == 0 || f.used < f.Times) && f.Match(argv) {
			f.used++
			return f
		}
	}
	return nil
}

// hang lets a hanging command run until ctx's deadline, in virtual time.
// GOTCHA: a context's deadline is wall time (the real backend sets it with
// context.WithTimeout); the wait is rounded to whole seconds so that the
// few microseconds since it was set do not leak into the virtual timeline.
// Errors: always; ErrNotEmulated (wrapped) when ctx has no deadline (the
// command would hang forever).
func (h *Host) hang(ctx context.Context, argv []string) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return fmt.Errorf("%w: %s hangs and its caller set no timeout", ErrNotEmulated, argv[0])
	}
	h.clk.Advance(time.Until(deadline).Round(time.Second))
	return fmt.Errorf("proc: %s: %w", argv[0], context.DeadlineExceeded)
}
