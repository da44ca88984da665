package real

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// Default timeouts and program names used by New.
const (
	// DefaultRealiseTimeout bounds one nix-store --realise (a whole system
	// closure may be fetched): 30 minutes.
	DefaultRealiseTimeout = 30 * time.Minute
	// DefaultCommandTimeout bounds every other command: 60 seconds.
	DefaultCommandTimeout = 60 * time.Second

	DefaultNixStore   = "nix-store"
	DefaultNixEnv     = "nix-env"
	DefaultSystemdRun = "systemd-run"
	DefaultSystemctl  = "systemctl"
)

// Config configures a Backend. Zero fields get the defaults documented on
// each field when passed to New.
type Config struct {
	// Runner runs every command (default proc.Exec{}).
	Runner proc.Runner
	// Locker probes the switch lock (default Flock{}). The simulator
	// supplies its own, since flock(2) cannot go through a Runner.
	Locker Locker
	// LockDiag is where DiagnoseLock reads who holds the switch lock
	// (default lockdiag.OSHost{}: the real /proc). The simulator supplies
	// its own.
	LockDiag lockdiag.Host

	// Program names or paths, looked up in PATH by the Runner. Defaults:
	// "nix-store", "nix-env", "systemd-run", "systemctl".
	NixStore, NixEnv, SystemdRun, Systemctl string

	// Substituters, when non-empty, is passed to nix-store --realise as
	// `--option substituters "a b"` (space-separated, replacing nix.conf's).
	Substituters []string
	// TrustedPublicKeys, when non-empty, is passed to nix-store --realise as
	// `--option trusted-public-keys "k1 k2"`. The backend never passes
	// require-sigs false: unsigned substitutes are always refused.
	TrustedPublicKeys []string
	// Env holds extra KEY=VALUE entries for the Nix commands only (for
	// example NIX_CONFIG); systemd commands get none.
	Env []string

	// RealiseTimeout bounds one nix-store --realise, as a duration
	// (default DefaultRealiseTimeout, 30 min).
	RealiseTimeout time.Duration
	// CommandTimeout bounds every other command, as a duration (default
	// DefaultCommandTimeout, 60 s).
	CommandTimeout time.Duration

	// Logger receives one debug record per command run; nil discards.
	Logger *slog.Logger
}

// Backend runs the real tools. It implements pipeline.Nix and
// pipeline.Backend. Build it with New; it is safe for concurrent use as long
// as its Runner and Locker are.
type Backend struct {
	cfg Config
}

var (
	_ pipeline.Nix     = (*Backend)(nil)
	_ pipeline.Backend = (*Backend)(nil)
)

// New returns a Backend with cfg's zero fields set to their defaults.
func New(cfg Config) *Backend {
	if cfg.Runner == nil {
		cfg.Runner = proc.Exec{}
	}
	if cfg.Locker == nil {
		cfg.Locker = Flock{}
	}
	if cfg.LockDiag == nil {
		cfg.LockDiag = lockdiag.OSHost{}
	}
	cfg.NixStore = orDefault(cfg.NixStore, DefaultNixStore)
	cfg.NixEnv = orDefault(cfg.NixEnv, DefaultNixEnv)
	cfg.SystemdRun = orDefault(cfg.SystemdRun, DefaultSystemdRun)
	cfg.Systemctl = orDefault(cfg.Systemctl, DefaultSystemctl)
	if cfg.RealiseTimeout <= 0 {
		cfg.RealiseTimeout = DefaultRealiseTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{cfg: cfg}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// run runs cmd under a timeout derived from ctx. A command that ran to
// completion (any exit code) returns a nil error; a timeout returns a plain
// error naming the command and the timeout (wrapping
// context.DeadlineExceeded); any other failure to run is wrapped with the
// command line.
func (b *Backend) run(ctx context.Context, cmd proc.Cmd, timeout time.Duration) (proc.Result, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := b.cfg.Runner.Run(tctx, cmd)
	// GOTCHA: check our own deadline first: a Runner may report a killed
	// child as a plain exit (128+9) rather than as an error.
	if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		b.cfg.Logger.Debug("command timed out", "cmd", cmd.String(), "timeout", timeout)
		return res, fmt.Errorf("%s timed out after %s: %w", cmd.String(), timeout, context.DeadlineExceeded)
	}
	if err != nil {
		return res, fmt.Errorf("running %s: %w", cmd.String(), err)
	}
	b.cfg.Logger.Debug("command finished", "cmd", cmd.String(), "exit", res.ExitCode)
	return res, nil
}

// commandError builds the typed error for a command that ran and exited
// non-zero, keeping at most pipeline.MaxStderrTail bytes of its stderr.
func commandError(cmd proc.Cmd, res proc.Result) *pipeline.CommandError {
	return &pipeline.CommandError{
		Argv:     append([]string(nil), cmd.Argv...),
		ExitCode: res.ExitCode,
		Stderr:   pipeline.Tail(string(res.Stderr), pipeline.MaxStderrTail),
	}
}

// runChecked runs cmd with the command timeout and turns a non-zero exit into
// a *pipeline.CommandError.
func (b *Backend) runChecked(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	res, err := b.run(ctx, cmd, b.cfg.CommandTimeout)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, commandError(cmd, res)
	}
	return res, nil
}
