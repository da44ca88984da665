package pipeline

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnitBusy is wrapped by Backend.ReleaseUnit when the transient unit of that
// name is still running (an earlier switch goes on). The pipeline reports
// it as Skipped: nothing was fired, retry later.
var ErrUnitBusy = errors.New("transient unit is still running")

// Nix is the pipeline's view of the Nix tools. The real backend implements it
// by running nix-store and nix-env (Nix 2.8 command lines; see
// docs/REAL-TOOLS.md), the simulator answers those same command lines.
type Nix interface {
	// Realise makes storePath valid in the local store (nix-store --realise:
	// fetch from a substituter and check its signature against
	// trusted-public-keys) and returns the path nix-store printed. A
	// non-empty gcRoot (an absolute path outside the store) is registered
	// as a garbage collector root of the realised path (nix-store
	// --add-root gcRoot --indirect); Nix 2.3 to 2.8 then print gcRoot, a
	// symlink to the store path, instead of the store path (observed with
	// Nix 2.8). Errors: *RealiseError (the command ran and failed), or a
	// plain error when it could not run at all.
	Realise(ctx context.Context, storePath, gcRoot string) (string, error)
	// SetProfile points profile at storePath, adding a generation
	// (nix-env --profile P --set PATH). Errors: *CommandError.
	SetProfile(ctx context.Context, profile, storePath string) error
	// SwitchGeneration points profile at its existing generation N
	// (nix-env --profile P --switch-generation N, Nix 2.8); it never creates
	// or deletes a generation. Nix 2.8 exits 1 with "error: profile version
	// N does not exist" for a missing one. Errors: *CommandError.
	SwitchGeneration(ctx context.Context, profile string, generation int) error
}

// Backend holds the host actions whose mechanism differs between a real host
// and the simulator: the switch lock, firing switch-to-configuration as a
// transient unit, and reading that unit's status.
type Backend interface {
	// SwitchLock probes the lock that switch-to-configuration holds
	// exclusively while it runs (/run/nixos/switch-to-configuration.lock
	// since NixOS 23.05). An error means the state is unknown.
	SwitchLock(ctx context.Context, path string) (LockState, error)
	// ReleaseUnit frees a transient unit's name: a unit left loaded by an
	// earlier run is stopped and reset; not loaded needs nothing. Errors:
	// ErrUnitBusy (wrapped) when the unit is still running.
	ReleaseUnit(ctx context.Context, unit string) error
	// Fire starts <req.Closure>/bin/switch-to-configuration <req.Action>
	// detached in the transient unit req.Unit and returns once the unit is
	// queued, not when the switch ends. The caller frees the unit's name
	// first (ReleaseUnit); Fire does not. Errors: *CommandError or plain.
	Fire(ctx context.Context, req FireRequest) error
	// UnitStatus reads the unit's state and, once it has exited, its
	// ExecMainStatus. An unknown status is reported as such, never as 0.
	UnitStatus(ctx context.Context, unit string) (UnitStatus, error)
}

// LockState is the switch lock as a probe saw it.
type LockState int

const (
	// LockFree: nobody holds the lock, or only shared holders do, or the
	// lock file or its directory does not exist (a fresh host).
	LockFree LockState = iota
	// LockHeld: a switch-to-configuration holds it exclusively.
	LockHeld
)

// Action is the switch-to-configuration verb.
type Action string

const (
	// ActionSwitch activates the closure now and makes it the boot default.
	ActionSwitch Action = "switch"
	// ActionBoot only makes it the boot default (bootloader entry); the
	// running system is unchanged until reboot.
	ActionBoot Action = "boot"
)

// FireRequest says which closure's switch-to-configuration to run, how, and
// in which transient unit.
type FireRequest struct {
	// Unit is the transient unit's name without ".service".
	Unit string
	// Closure is the full store path whose bin/switch-to-configuration runs.
	Closure string
	Action  Action
}

// UnitState is a transient unit's coarse state, from systemd's ActiveState
// and LoadState.
type UnitState string

const (
	// UnitRunning: loaded and active or activating.
	UnitRunning UnitState = "running"
	// UnitExited: loaded, and its main process has exited (inactive or
	// failed); ExitCode or Signal says how, when known.
	UnitExited UnitState = "exited"
	// UnitUnknown: not loaded (never started, or unloaded/garbage-collected
	// as with systemd-run --collect), so its status cannot be trusted.
	UnitUnknown UnitState = "unknown"
)

// UnitStatus is what systemctl show reported about a unit.
type UnitStatus struct {
	State UnitState
	// Result is systemd's Result property ("success", "exit-code",
	// "signal", ...), empty when unknown.
	Result string
	// ExitCode is ExecMainStatus when the main process exited (ExecMainCode
	// 1, CLD_EXITED); nil when unknown or killed by a signal.
	ExitCode *int
	// Signal is ExecMainStatus when the process was killed (ExecMainCode 2,
	// CLD_KILLED, or 3, CLD_DUMPED); nil otherwise.
	Signal *int
}

// ExecSetupFailed reports whether an ExecMainStatus is one of systemd's exec
// setup failures (EXIT_CHDIR 200 .. EXIT_BPF 244, src/basic/exit-status.h;
// `systemd-analyze exit-status` of systemd 252 lists BPF as 244, the last
// of them): the unit's program never executed.
func ExecSetupFailed(status int) bool { return status >= 200 && status <= 244 }

// RealiseFailure classifies a failed nix-store --realise.
type RealiseFailure string

const (
	// RealiseUntrusted: a substitute was not signed by any of the
	// trusted-public-keys (every Nix version's phrasing), or a path lacks a
	// valid signature. Maps to the signature-mismatch outcome.
	RealiseUntrusted RealiseFailure = "untrusted"
	// RealiseNotFound: no substituter has the path ("don't know how to build
	// these paths").
	RealiseNotFound RealiseFailure = "not-found"
	// RealiseHashMismatch: the NAR's content does not match its hash.
	RealiseHashMismatch RealiseFailure = "hash-mismatch"
	// RealiseUnreachable: a substituter could not be used: connection
	// refused, name not resolved, timeout, or an HTTP 5xx answer.
	RealiseUnreachable RealiseFailure = "unreachable"
	// RealiseUnauthorized: a substituter refused the request (HTTP 401,
	// 403 or 407), where Nix names the status (see backends/real's
	// ClassifyRealise for where it does not).
	RealiseUnauthorized RealiseFailure = "unauthorized"
	// RealiseCorrupt: the cache is missing the NAR or serves garbage.
	RealiseCorrupt RealiseFailure = "corrupt-cache"
	// RealiseInvalidPath: Nix rejected the path's syntax.
	RealiseInvalidPath RealiseFailure = "invalid-path"
	// RealiseOther: any other failure.
	RealiseOther RealiseFailure = "other"
)

// Retryable reports whether running the same realise later may succeed
// without anyone changing the host or the caches' configuration: a
// substituter that could not be reached (it may come back) and a closure
// no substituter has yet (a controller may still be uploading it). Trust,
// authorisation, corrupt or mismatching copies, path syntax and unknown
// failures need a person first.
func (f RealiseFailure) Retryable() bool {
	return f == RealiseUnreachable || f == RealiseNotFound
}

// RealiseError is a nix-store --realise that ran and failed.
type RealiseError struct {
	Kind     RealiseFailure
	ExitCode int
	// Stderr is the command's standard error (bounded by the Runner).
	Stderr string
}

func (e *RealiseError) Error() string {
	return fmt.Sprintf("nix-store --realise failed (%s, exit %d)", e.Kind, e.ExitCode)
}

// CommandError is a command that ran and exited non-zero.
type CommandError struct {
	// Argv is the command line that failed.
	Argv     []string
	ExitCode int
	// Stderr is the command's standard error (bounded by the Runner).
	Stderr string
}

func (e *CommandError) Error() string {
	name := "command"
	if len(e.Argv) > 0 {
		name = e.Argv[0]
	}
	return fmt.Sprintf("%s exited %d: %s", name, e.ExitCode, lastLine(e.Stderr))
}
