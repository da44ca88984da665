package pipeline

import (
	"encoding/json"
	"strconv"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
)

// Kind is an outcome's class: the "outcome" field of the JSON wire format.
// The strings are a wire contract with fleet controllers: never rename one.
type Kind string

// Activation outcomes.
const (
	// Settled: /run/current-system is the expected closure and its
	// switch-to-configuration exited 0. The only clean success.
	Settled Kind = "settled"
	// SettledDegraded: /run/current-system is the expected closure, but the
	// switch did not finish cleanly: it exited 4 (NixOS: "switched, some
	// units failed"), or its status could not be read, or it was still
	// running when the poll budget ran out. The Switch field says which.
	SettledDegraded Kind = "settled-degraded"
	// Skipped: another switch-to-configuration holds the switch lock.
	// Nothing was changed; retry later.
	Skipped Kind = "skipped"
	// InvalidInput: the closure basename failed validation; nothing ran.
	InvalidInput Kind = "invalid-input"
	// InvalidClosure: the realised store path is not a NixOS system
	// closure (no executable bin/switch-to-configuration); nothing on the
	// host was changed (no record, no profile generation, no unit).
	InvalidClosure Kind = "invalid-closure"
	// RealiseFailed: nix-store --realise failed for a reason other than
	// trust, or realised a different path than requested.
	RealiseFailed Kind = "realise-failed"
	// SignatureMismatch: the closure's substitute was not signed by a
	// trusted key. Nothing was switched.
	SignatureMismatch Kind = "signature-mismatch"
	// SwitchFailed: the switch could not be started or did not complete;
	// Phase says where, ExitCode holds the unit's ExecMainStatus or null.
	SwitchFailed Kind = "switch-failed"
	// VerifyMismatch: /run/current-system became a third closure, neither
	// the previous one nor the expected one.
	VerifyMismatch Kind = "verify-mismatch"
	// DeferredPendingReboot: a component that cannot change live (kernel,
	// initrd, kernel modules, systemd, dbus) differs, so only the bootloader
	// default was updated (switch-to-configuration boot).
	DeferredPendingReboot Kind = "deferred-pending-reboot"
)

// AlreadyCurrent: /run/current-system and the system profile already are the
// target closure (for a rollback: the target generation); nothing was set
// and nothing fired. A success.
const AlreadyCurrent Kind = "already-current"

// Rollback outcomes.
const (
	// RollbackSucceeded: the profile went back one generation and
	// /run/current-system is that generation's closure.
	RollbackSucceeded Kind = "rollback-succeeded"
	// RollbackDegraded: /run/current-system is the rolled-back closure but
	// its switch exited 4, or its status is unknown or still running.
	RollbackDegraded Kind = "rollback-degraded"
	// RollbackFailed: Phase says which step failed.
	RollbackFailed Kind = "rollback-failed"
)

// Abandoned: recovery found that an earlier run stopped before its switch
// was fired; nothing was switched. The profile may already point at the
// closure (Generation says where it is now).
const Abandoned Kind = "abandoned"

// Interrupted: the agent was asked to stop (SIGINT/SIGTERM, context ended)
// before a final outcome; Phase says where. A switch already fired keeps
// running in its transient unit.
const Interrupted Kind = "interrupted"

// Phase names the step at which an outcome was decided. The strings are a
// wire contract: never rename one.
type Phase string

// Phases, in pipeline order.
const (
	PhaseValidate          Phase = "validate"
	PhaseLockProbe         Phase = "lock-probe"
	PhaseRealise           Phase = "realise"
	PhaseRealisedPath      Phase = "realised-path-check"
	PhaseClosureCheck      Phase = "closure-check"
	PhaseNixEnvSet         Phase = "nix-env-set"
	PhaseReadCurrent       Phase = "read-current-system"
	PhaseDeferBootloader   Phase = "defer-bootloader-update"
	PhaseSystemdRunFire    Phase = "systemd-run-fire"
	PhaseSwitchPollTimeout Phase = "switch-poll-timeout"
	PhaseVerify            Phase = "verify"
	PhaseSwitchExit        Phase = "switch-exit"
	PhaseProfileCorrect    Phase = "profile-self-correct"
	PhaseNixEnvRollback    Phase = "nix-env-rollback"
	PhaseDiscoverTarget    Phase = "discover-target"
	PhaseRollbackFire      Phase = "rollback-fire"
	PhaseRollbackPoll      Phase = "rollback-poll-timeout"
	PhaseRollbackVerify    Phase = "rollback-verify"
	PhaseRollbackExit      Phase = "rollback-exit"
	PhaseSwitchPoll        Phase = "switch-poll"
	PhaseSwitchWait        Phase = "switch-wait"
	PhaseJournal           Phase = "journal"
	PhaseRecover           Phase = "recover"
	// PhaseReboot: the host rebooted while the switch ran; recovery decided
	// from the links what it came up with.
	PhaseReboot       Phase = "reboot"
	PhaseCurrentCheck Phase = "current-check"
	PhaseRestore      Phase = "restore"
)

// Phases lists every phase string of the wire contract, in pipeline order.
var Phases = []Phase{
	PhaseValidate, PhaseLockProbe, PhaseRealise, PhaseRealisedPath, PhaseClosureCheck, PhaseNixEnvSet, PhaseReadCurrent,
	PhaseDeferBootloader, PhaseSystemdRunFire, PhaseSwitchPollTimeout, PhaseVerify, PhaseSwitchExit,
	PhaseProfileCorrect, PhaseNixEnvRollback, PhaseDiscoverTarget, PhaseRollbackFire, PhaseRollbackPoll,
	PhaseRollbackVerify, PhaseRollbackExit, PhaseSwitchPoll, PhaseSwitchWait,
	PhaseJournal, PhaseRecover, PhaseReboot, PhaseCurrentCheck, PhaseRestore,
	PhaseAgentLock, PhaseEnvironment, // hardening (issue 10)
	PhaseHealth, PhaseConfirm, // health checks and confirmation (issue 18)
}

// ExitStatus is an exit status that may be unknown. It marshals to a JSON
// number, or to null when unknown: a status is never invented.
type ExitStatus struct {
	Known bool
	Code  int
}

// KnownExit returns a known exit status.
func KnownExit(code int) *ExitStatus { return &ExitStatus{Known: true, Code: code} }

// UnknownExit returns an unknown exit status (JSON null).
func UnknownExit() *ExitStatus { return &ExitStatus{} }

// String renders the code, or "null" when unknown (logs).
func (e ExitStatus) String() string {
	if !e.Known {
		return "null"
	}
	return strconv.Itoa(e.Code)
}

// MarshalJSON renders the code or null.
func (e ExitStatus) MarshalJSON() ([]byte, error) {
	if !e.Known {
		return []byte("null"), nil
	}
	return []byte(strconv.Itoa(e.Code)), nil
}

// UnmarshalJSON reads a number or null.
func (e *ExitStatus) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*e = ExitStatus{}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*e = ExitStatus{Known: true, Code: n}
	return nil
}

// SwitchReport is what became of the switch-to-configuration unit after the
// link settled: "link settled" and "switch finished with status N" are
// separate facts.
type SwitchReport struct {
	// Unit is the transient unit's name (without ".service").
	Unit string `json:"unit"`
	// State is "exited", "running" (poll budget ran out first) or "unknown".
	State UnitState `json:"state"`
	// Result is systemd's Result property ("success", "exit-code", ...).
	Result string `json:"result,omitempty"`
	// ExitCode is the unit's ExecMainStatus; null unless it exited normally.
	ExitCode *ExitStatus `json:"exit_code"`
	// Signal is set when the process was killed by a signal.
	Signal *int `json:"signal,omitempty"`
}

// CommandReport is a failed command other than switch-to-configuration:
// "command":{"name":...,"exit_code":...,"stderr_tail":...,"retryable":...}.
type CommandReport struct {
	// Name is the program and its operation ("nix-store --realise",
	// "nix-env --set", "systemctl stop", "systemd-run").
	Name string `json:"name"`
	// ExitCode is the command's exit status; null when it did not exit on
	// its own (timed out, could not be started).
	ExitCode *ExitStatus `json:"exit_code"`
	// StderrTail is the last MaxStderrTail bytes of its stderr, valid
	// UTF-8.
	StderrTail string `json:"stderr_tail,omitempty"`
	// Retryable tells a controller whether the same request may succeed
	// later without a person changing anything: realise failures per
	// RealiseFailure.Retryable, timeouts true, every other failed command
	// false.
	Retryable bool `json:"retryable"`
}

// ExitedCleanly reports whether the unit's main process exited with status
// 0 (a known ExecMainStatus, not a signal).
func (s SwitchReport) ExitedCleanly() bool {
	return s.State == UnitExited && s.ExitCode != nil && s.ExitCode.Known && s.ExitCode.Code == 0
}

// Outcome is the one result of Activate or Rollback. It marshals to a flat
// JSON object {"outcome": Kind, ...}; fields irrelevant to a Kind are
// omitted, except exit_code which is null when unknown.
type Outcome struct {
	Kind  Kind  `json:"outcome"`
	Phase Phase `json:"phase,omitempty"`
	// Closure is the target closure's basename (for a rollback: the
	// rolled-back-to closure, once discovered).
	Closure string `json:"closure,omitempty"`
	// Previous is /run/current-system's basename before the switch.
	Previous string `json:"previous,omitempty"`
	// Expected and Actual are set by verify-mismatch.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// LastObserved is /run/current-system's basename at the last poll of a
	// timeout ("" with a note in Reason when it could not be read).
	LastObserved string `json:"last_observed,omitempty"`
	// Booted is /run/booted-system's basename, set when recovery found the
	// host rebooted during the run ("" when unreadable).
	Booted string `json:"booted,omitempty"`
	// Reason is a human-readable explanation (not a contract).
	Reason string `json:"reason,omitempty"`
	// Failure classifies a realise failure (RealiseFailure strings).
	Failure RealiseFailure `json:"failure,omitempty"`
	// ExitCode is switch-to-configuration's status only (the unit's
	// ExecMainStatus, null when unknown), set on outcomes decided by a
	// fired switch; absent when no switch ran. A failing command is
	// reported in Command instead.
	ExitCode *ExitStatus `json:"exit_code,omitempty"`
	// Command reports the host command whose failure decided the outcome
	// (nix-store --realise, nix-env, systemd-run, systemctl).
	Command *CommandReport `json:"command,omitempty"`
	// Components lists what forced a deferral ("kernel", "systemd", ...).
	Components []string `json:"components,omitempty"`
	// Generation is the system profile's generation number when the
	// outcome is reported, set whenever the run changed the profile.
	Generation int `json:"generation,omitempty"`
	// Profile is the closure the system profile points at when the outcome
	// is reported, set whenever the run changed the profile, so a profile
	// left on a failed closure (or moved by the activation) is visible.
	Profile string `json:"profile,omitempty"`
	// Switch reports the unit after the link settled.
	Switch *SwitchReport `json:"switch,omitempty"`
	// RebootPending: the booted kernel, initrd or kernel modules differ from
	// the closure now current (or deferred to).
	RebootPending bool `json:"reboot_pending,omitempty"`
	// FailedUnits names the units systemd lists as failed after a switch
	// that exited 4 (settled-degraded, rollback-degraded), as
	// `systemctl list-units --state=failed` prints them ("foo.service");
	// absent when none were listed or the list could not be read (a
	// warning says so). `journalctl -u UNIT -b` shows why each failed.
	FailedUnits []string `json:"failed_units,omitempty"`
	// ProfileCorrected: the profile had moved off the closure after the
	// switch and was pointed back.
	ProfileCorrected bool `json:"profile_corrected,omitempty"`
	// Restored reports the restore after a failed run that moved the
	// profile while the host did not come to run the closure.
	Restored *Restore `json:"restored,omitempty"`
	// AlreadyRunning: current-system already was the closure, so only the
	// profile was set and the boot entry refreshed (boot action); nothing
	// was switched.
	AlreadyRunning bool `json:"already_running,omitempty"`
	// Warnings lists non-fatal problems (e.g. a failed self-correction).
	Warnings []string `json:"warnings,omitempty"`
	// ElapsedMS is the time from start to outcome, in milliseconds (virtual
	// time under simulation).
	ElapsedMS int64 `json:"elapsed_ms"`
	// Meta echoes the target's opaque fields (channel ref, ...).
	Meta map[string]string `json:"meta,omitempty"`
	// Recovered marks an outcome worked out after the fact from an
	// in-flight record of a run that did not finish (agent killed, host
	// rebooted).
	Recovered bool `json:"recovered,omitempty"`
	// Earlier is the recovered outcome of an unfinished earlier run,
	// resolved before this run started.
	Earlier *Outcome `json:"earlier,omitempty"`
	// LockHolders (skipped at lock-probe) are the processes holding the
	// switch lock, each with its kind, age and a hint (issue 19).
	LockHolders []lockdiag.Holder `json:"lock_holders,omitempty"`
	// Health reports the health checks, the system state and the
	// confirmation of a closure that declared them or a run that asked
	// (health.go): set on settled, settled-degraded (--on-unhealthy=keep),
	// rolled-back and the rollback-failed of an unhealthy closure.
	Health *HealthReport `json:"health,omitempty"`
}

// success reports whether the outcome is a clean success (settled or
// rollback-succeeded with exit 0, or already-current).
func (o Outcome) success() bool {
	return o.Kind == Settled || o.Kind == RollbackSucceeded || o.Kind == AlreadyCurrent
}
