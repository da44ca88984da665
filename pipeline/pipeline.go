// Package pipeline switches a NixOS host to a new system closure, safely and
// observably, and rolls it back. It holds the logic only: every effect
// crosses a seam (Nix, Backend, fsview.View, clock.Clock), so the same code
// runs on a real host and on the simulated one.
//
// Activate follows the mission's steps in order:
//
//  1. validate the closure basename (validate.go: nothing runs for a bad
//     one); refuse to start over an unresolved earlier run's in-flight
//     record (record.go);
//  2. probe the switch lock (lock.go): held => Skipped, with the holders'
//     diagnosis; unknown => go on (fail-open);
//     check that /run/current-system is readable (else nothing changes);
//     current-system and profile already the closure => AlreadyCurrent
//     (unless Options.Force); current-system alone => set the profile and
//     refresh the boot entry with the closure's boot action (current.go);
//  3. realise the store path (realise.go: fetch + signature check) under
//     a GC root in the state directory; trust failure => SignatureMismatch, other
//     failure => RealiseFailed; the realised path must equal the requested
//     one, and hold an executable bin/switch-to-configuration (else
//     InvalidClosure, nothing changed);
//  4. write the in-flight record (record.go, stored by recordfile.go), then
//     point the system profile at the closure (profile.go; the bootloader
//     entry's generation number comes from it);
//     the GC root is removed once the profile holds the closure (or the
//     run failed before);
//  5. read the pre-switch /run/current-system (abort if unreadable);
//  6. if the kernel, initrd, kernel modules, systemd or dbus change, run
//     switch-to-configuration boot instead and report DeferredPendingReboot
//     (boot.go);
//     otherwise release the unit name, record "firing", and fire
//     switch-to-configuration switch in a transient unit (fire.go);
//  7. follow the unit, then /run/current-system, every PollInterval
//     (follow.go): expected => settled, a third closure => VerifyMismatch, the unit ended
//     without the flip => SwitchFailed at switch-exit (status or signal) or
//     VerifyMismatch (exit 0), decided within one interval of its end; a
//     failed status read is read again sooner, never a verdict; budget spent
//     => SwitchFailed with the unit's status (running or unknown); with
//     Deps.Events each wait also wakes on a change of the link or the
//     unit's end (followevents.go), the interval being the fallback read;
//  8. wait (within the same budget) for the unit's exit status, re-point the
//     profile if the activation moved it (profile.go), verify the link once
//     more, and clear the record;
//  9. on a failure that left current-system where the run found it, point
//     the profile back at its starting generation and restore the boot
//     default (restore.go; Options.OnFailure), and write the last-activation
//     record that Rollback undoes (lastactivation.go).
//
// Rollback (rollback.go) fires the previous generation's own
// switch-to-configuration and follows it the same way. Recover (recover.go,
// reboot.go) works out the outcome of a run that died half-way from its
// record and the host as it is now, without firing anything again. A host
// that rebooted since (another boot ID) is judged at once from its links; a
// fired switch is otherwise followed for at most one budget from now.
package pipeline

import (
	"context"
	"log/slog"
	"path"
	"time"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Deps are the seams the pipeline acts through.
type Deps struct {
	Nix     Nix
	Backend Backend
	FS      *fsview.View
	Clock   clock.Clock
	// Journal keeps the in-flight record for crash recovery; nil records
	// nothing.
	Journal Journal
	// Log receives one structured record per step; nil discards.
	Log *slog.Logger
	// LastActivation keeps the record of the last activation that Rollback
	// undoes; nil keeps none.
	LastActivation LastActivationStore
	// AgentLock serialises runs on the host (AcquireAgentLock); nil runs
	// without one.
	AgentLock AgentLock
	// Confirm keeps the confirmation that --confirm-within waits for
	// (confirm.go); nil: no confirmation ever comes.
	Confirm ConfirmStore
	// Events wakes the waits for the switch early: on a change of
	// /run/current-system and on the end of the awaited unit. nil polls
	// every PollInterval only (--poll-only); with it the interval is the
	// fallback read.
	Events events.Source
}

// Target is what a fleet controller asks to activate.
type Target struct {
	// Closure is the system closure's store path basename,
	// "<hash>-nixos-system-<host>-<version>".
	Closure string `json:"closure"`
	// Meta holds opaque fields the controller passes through (channel ref,
	// rollout id, ...); they are echoed in the outcome.
	Meta map[string]string `json:"meta,omitempty"`
}

// Defaults for Options, following NixOS's own paths (NixOS 23.05+ for the
// lock file).
const (
	DefaultPollInterval  = 2 * time.Second
	DefaultPollBudget    = 300 * time.Second
	DefaultSwitchUnit    = "nixfleet-activate-switch"
	DefaultRollbackUnit  = "nixfleet-activate-rollback"
	DefaultStoreDir      = "/nix/store"
	DefaultProfile       = "/nix/var/nix/profiles/system"
	DefaultCurrentSystem = "/run/current-system"
	DefaultBootedSystem  = "/run/booted-system"
	DefaultLockPath      = "/run/nixos/switch-to-configuration.lock"
	// DefaultBootIDPath is the kernel's random ID of the current boot
	// (Linux: a UUID, new at every boot; proc(5)).
	DefaultBootIDPath = "/proc/sys/kernel/random/boot_id"
	// DefaultGCRootDir is DefaultStateDir's gcroots directory.
	DefaultGCRootDir = DefaultStateDir + "/gcroots"
)

// Options tune a run; the zero value of each field takes its default.
type Options struct {
	// PollInterval is the time between reads of /run/current-system
	// (default 2 s).
	PollInterval time.Duration
	// PollBudget bounds the time from firing the switch to the outcome,
	// including the wait for the unit's exit status (default 300 s).
	PollBudget time.Duration
	// SwitchUnit and RollbackUnit name the transient units (without
	// ".service").
	SwitchUnit, RollbackUnit string
	// StoreDir, Profile, CurrentSystem, BootedSystem and LockPath are paths
	// in the filesystem view.
	StoreDir, Profile, CurrentSystem, BootedSystem, LockPath string
	// GCRootDir is the directory of the GC roots that hold a closure from
	// its realise until the profile holds it, one symlink named after the
	// closure's basename (default DefaultGCRootDir, the state directory's
	// gcroots). It is a path in the filesystem view and, for nix-store
	// --add-root, on the host.
	GCRootDir string
	// BootIDPath is read through the filesystem view to tell whether the
	// host rebooted since a run's record was written (default
	// DefaultBootIDPath).
	BootIDPath string
	// RestoreUnit names the transient unit of a restore's boot action
	// (default DefaultRestoreUnit).
	RestoreUnit string
	// OnFailure says what a failed run does with the profile it moved
	// (default OnFailureRestore).
	OnFailure OnFailure
	// Force runs the switch even when the host already runs the closure
	// and the profile points at it (otherwise: already-current).
	Force bool
	// RollbackGeneration, when > 0, is the generation Rollback returns to
	// (rollback --generation N); 0 chooses from the last-activation record
	// or the previous generation.
	RollbackGeneration int
	// ProgressInterval is the time between progress log lines during a
	// long wait (the switch's poll and the wait for its unit): what is
	// awaited, the elapsed time of the budget and the unit's state
	// (default DefaultProgressInterval, 10 s).
	ProgressInterval time.Duration
	// RequireRunning: after the switch, `systemctl is-system-running` must
	// not say degraded (--require-running; health.go).
	RequireRunning bool
	// ConfirmWithin, when > 0, is how long a settled, healthy activation
	// waits for `nixfleet-activate confirm` before it counts as unhealthy
	// (--confirm-within; confirm.go).
	ConfirmWithin time.Duration
	// OnUnhealthy says what an unhealthy closure's activation does
	// (default OnUnhealthyRollback).
	OnUnhealthy OnUnhealthy
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollBudget <= 0 {
		o.PollBudget = DefaultPollBudget
	}
	def(&o.SwitchUnit, DefaultSwitchUnit)
	def(&o.RollbackUnit, DefaultRollbackUnit)
	def(&o.StoreDir, DefaultStoreDir)
	def(&o.Profile, DefaultProfile)
	def(&o.CurrentSystem, DefaultCurrentSystem)
	def(&o.BootedSystem, DefaultBootedSystem)
	def(&o.LockPath, DefaultLockPath)
	def(&o.GCRootDir, DefaultGCRootDir)
	def(&o.BootIDPath, DefaultBootIDPath)
	def(&o.RestoreUnit, DefaultRestoreUnit)
	if o.OnUnhealthy == "" {
		o.OnUnhealthy = OnUnhealthyRollback
	}
	if o.OnFailure == "" {
		o.OnFailure = OnFailureRestore
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	return o
}

// run is the state of one Activate or Rollback call.
type run struct {
	d     Deps
	o     Options
	log   *slog.Logger
	start time.Time
	// rec is this run's in-flight record, nil until the first write.
	rec *Record
	// warnings collects non-fatal problems for the outcome.
	warnings []string
	// meta is echoed in the outcome and stored in the record.
	meta map[string]string
	// restoreDone: the restore post-step has run (or been decided).
	restoreDone bool
	// rebooted: Recover found the host booted again since the record's
	// fire was begun (its unit and any switch it ran went with that boot).
	rebooted bool
	// alreadyRunning: current-system was the target closure when the run
	// started (only the profile and the boot entry change).
	alreadyRunning bool
	// progress paces the wait's progress lines (progress.go).
	progress progress
	// healthStart is when this invocation's health step began (zero:
	// none; healthflow.go).
	healthStart time.Time
	// changes is the running event watch's channel (nil: polling only);
	// watch is that watch (unitEvents asks it whether it reports the
	// unit's end).
	changes <-chan struct{}
	watch   events.Watch
	// eventsFailed: a watch failed to start; this run polls only.
	eventsFailed bool
	// onEvent: the last sleep ended on a change notification.
	onEvent bool
}

func newRun(d Deps, o Options) *run {
	return &run{d: d, o: o.WithDefaults(), log: d.logger(), start: d.Clock.Now()}
}

// logger is d.Log, or a logger that discards when it is nil.
func (d Deps) logger() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// finish stamps the elapsed time and the target's meta, and logs the outcome.
func (r *run) finish(out Outcome) Outcome {
	if r.rec != nil {
		r.reportProfile(&out)
	}
	r.saveLastActivation(&out)
	r.endRecord(&out)
	out.Warnings = append(r.warnings, out.Warnings...)
	out.ElapsedMS = r.d.Clock.Now().Sub(r.start).Milliseconds()
	out.Meta = r.meta
	running, _ := r.readBasename(r.o.CurrentSystem)
	// The attribute is "kind", not "outcome": a log line must not look like
	// a second outcome object in the unit's journal.
	r.log.Info(Summary(out, running), SummaryAttrs(out)...)
	return out
}

// reportProfile states where the profile is now: the activation script or
// a self-correction may have moved it since the run's own set.
func (r *run) reportProfile(out *Outcome) {
	if gen := r.profileGeneration(); gen != 0 {
		out.Generation = gen
	}
	out.Profile, _ = r.readBasename(r.o.Profile)
}

func (r *run) storePath(basename string) string { return path.Join(r.o.StoreDir, basename) }

// interrupted builds the outcome for a context that ended during phase.
func interrupted(phase Phase, closure string, ctx context.Context) Outcome {
	return Outcome{Kind: Interrupted, Phase: phase, Closure: closure, Reason: context.Cause(ctx).Error()}
}
