// Package proc is the project's process seam: a Runner takes an argv and
// returns the exit code and bounded output. The real backend builds command
// lines for nix-store, nix-env, systemd-run and systemctl and hands them to a
// Runner; production uses Exec, the simulator answers the same command lines
// with emulated tools.
package proc

import (
	"context"
	"strings"
)

// Cmd is one command to run.
type Cmd struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Env holds extra KEY=VALUE entries appended to the inherited environment.
	Env []string
}

// String renders the command line for logs and dry runs, shell-quoting
// arguments that need it.
func (c Cmd) String() string {
	parts := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		parts[i] = quote(a)
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '-' || r == '_' || r == '.' || r == '=' || r == ':' || r == '+' || r == ',' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Result is what a finished command left behind.
type Result struct {
	// ExitCode is the process's exit status (0-255). A process killed by a
	// signal reports 128+signo, as a shell would.
	ExitCode int
	// Stdout is the head of standard output, at most MaxStdout bytes.
	Stdout []byte
	// Stderr is the tail of standard error, at most MaxStderr bytes: Nix puts
	// the decisive lines last, but trust warnings can come earlier, so the
	// tail is generous.
	Stderr []byte
	// Truncated reports that Stdout or Stderr lost bytes to the bounds.
	Truncated bool
}

// Bounds on captured output, in bytes.
const (
	MaxStdout = 1 << 20
	MaxStderr = 64 << 10
)

// Runner runs commands. Run returns a non-nil error only when the command
// could not be run to completion (not found, not startable, or ctx ended and
// the process was killed); a command that ran and exited non-zero is a nil
// error with Result.ExitCode set.
type Runner interface {
	Run(ctx context.Context, cmd Cmd) (Result, error)
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, cmd Cmd) (Result, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, cmd Cmd) (Result, error) { return f(ctx, cmd) }
