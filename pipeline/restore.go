package pipeline

import (
	"context"
	"fmt"
)

// OnFailure says what a failed run does with a system profile it moved.
type OnFailure string

const (
	// OnFailureRestore points the profile back at the generation it was on
	// before the run and restores the boot default (the default).
	OnFailureRestore OnFailure = "restore"
	// OnFailureKeep leaves the profile where the failed run put it (the
	// seed's behaviour); the outcome says so.
	OnFailureKeep OnFailure = "keep"
)

// DefaultRestoreUnit names the transient unit that runs the previous
// closure's switch-to-configuration boot when a failed run is restored.
const DefaultRestoreUnit = "nixfleet-activate-restore"

// RestoreStatus is the overall result of a restore: the "restored.status"
// field of the wire format. The strings are a wire contract.
type RestoreStatus string

const (
	// RestoreDone: the profile is back on its starting generation and the
	// boot default is restored (or never changed).
	RestoreDone RestoreStatus = "restored"
	// RestorePartial: the profile is back, the boot default is not (Boot
	// says why).
	RestorePartial RestoreStatus = "partial"
	// RestoreFailed: the profile could not be pointed back.
	RestoreFailed RestoreStatus = "failed"
	// RestoreNotAttempted: nothing was restored because it was not safe
	// (the switch may still be changing the host, its state is unknown,
	// current-system is a third closure) or not possible (no generation
	// before the run). Reason says which.
	RestoreNotAttempted RestoreStatus = "not-attempted"
	// RestoreKept: --on-failure=keep; the profile was left on the failed
	// closure.
	RestoreKept RestoreStatus = "kept"
)

// BootRestore is what became of the boot default: "restored.boot".
type BootRestore string

const (
	// BootRestored: the previous closure's switch-to-configuration boot
	// exited 0.
	BootRestored BootRestore = "restored"
	// BootRestoreFailed: it did not exit 0 (BootSwitch says how it ended).
	BootRestoreFailed BootRestore = "failed"
	// BootNotNeeded: no switch-to-configuration of this run executed, so
	// the bootloader was never touched.
	BootNotNeeded BootRestore = "not-needed"
	// BootNotAttempted: the profile restore failed or was not attempted.
	BootNotAttempted BootRestore = "not-attempted"
)

// Restore reports the restore that follows a failed run which moved the
// system profile while the host did not come to run the closure.
type Restore struct {
	Status RestoreStatus `json:"status"`
	// Generation and Profile are the starting generation the profile was
	// (to be) pointed back at, and its closure's basename.
	Generation int    `json:"generation,omitempty"`
	Profile    string `json:"profile,omitempty"`
	// Boot is the boot default's restore.
	Boot BootRestore `json:"boot,omitempty"`
	// BootSwitch reports the restore unit running the previous closure's
	// switch-to-configuration boot, when it was fired.
	BootSwitch *SwitchReport `json:"boot_switch,omitempty"`
	// Reason explains a status other than restored.
	Reason string `json:"reason,omitempty"`
	// ElapsedMS is the time the restore took, in milliseconds (virtual time
	// under simulation).
	ElapsedMS int64 `json:"elapsed_ms"`
}

// restorableKinds are the failures after which a moved profile is pointed
// back: the host did not come to run the closure. Skipped is among them
// (a unit found busy by a fire after the profile set: a rollback's, or
// one started under an activation's released name before its fire), so
// that skipped keeps meaning "nothing changed".
var restorableKinds = map[Kind]bool{
	SwitchFailed: true, RollbackFailed: true, VerifyMismatch: true, Skipped: true, Abandoned: true,
}

// restoreOnFailure is the post-step of every run that may have moved the
// profile: on a failure outcome, when the profile is not where the run
// found it and current-system is still what it was before the run, it
// points the profile back and restores the boot default. It does not care
// how the failure was decided (budget, unit exit, refused fire, recovery):
// only whether the link flipped and whether the unit may still run.
func (r *run) restoreOnFailure(ctx context.Context, out Outcome) Outcome {
	if r.rec == nil || r.restoreDone || !restorableKinds[out.Kind] || !r.profileMoved() {
		return out
	}
	if cur, err := r.readBasename(r.o.CurrentSystem); err == nil && cur == r.rec.Closure {
		return out // the host runs the closure: nothing to restore
	}
	boot, why := r.restoreSafety(ctx)
	if why != "" {
		return r.withRestore(out, Restore{Status: RestoreNotAttempted, Generation: r.rec.PreviousGeneration,
			Profile: r.rec.PreviousProfile, Boot: BootNotAttempted, Reason: why})
	}
	if r.onFailure() == OnFailureKeep {
		return r.withRestore(out, Restore{Status: RestoreKept, Generation: r.rec.PreviousGeneration,
			Profile: r.rec.PreviousProfile, Boot: BootNotAttempted, Reason: "--on-failure=keep"})
	}
	pending := out
	r.rec.Pending, r.rec.RestoreBoot = &pending, boot
	res := r.restore(ctx, false)
	if ctx.Err() != nil {
		// The record stays at its restoring step: recover finishes the restore.
		stopped := interrupted(PhaseRestore, out.Closure, ctx)
		stopped.Restored = &res
		r.restoreDone = true
		return stopped
	}
	return r.withRestore(out, res)
}

// profileMoved reports whether the profile is off the generation or
// closure the run found it on.
func (r *run) profileMoved() bool {
	now, err := r.readBasename(r.o.Profile)
	return err != nil || now != r.rec.PreviousProfile || r.profileGeneration() != r.rec.PreviousGeneration
}

func (r *run) onFailure() OnFailure {
	if OnFailure(r.rec.OnFailure) == OnFailureKeep {
		return OnFailureKeep
	}
	return OnFailureRestore
}

// restoreSafety decides whether a restore may run now and whether the boot
// default needs restoring; a non-empty reason says why it may not.
// current-system must still be the closure the run started from, and this
// run's unit must have ended (or never started).
func (r *run) restoreSafety(ctx context.Context) (boot bool, reason string) {
	if r.rec.PreviousGeneration == 0 || r.rec.PreviousProfile == "" {
		return false, "the profile had no generation before the run"
	}
	cur, err := r.readBasename(r.o.CurrentSystem)
	switch {
	case err != nil:
		return false, "current-system unreadable, the host's state is unknown: " + err.Error()
	case r.rec.Previous != "" && cur != r.rec.Previous:
		return false, fmt.Sprintf("current-system is %s, neither the closure nor the one the run started from", cur)
	}
	if r.rec.Unit == "" {
		return false, ""
	}
	if r.rebooted {
		// GOTCHA: no unit to read after a reboot: nothing of the run still runs, and whether its switch made the closure the boot default is unknown, so that is restored too.
		return true, ""
	}
	st, err := r.d.Backend.UnitStatus(ctx, r.rec.Unit)
	fired := !r.rec.FiredAt.IsZero()
	switch {
	case r.rec.Step != StepFiring && !fired:
		// LOADBEARING: before "firing" the unit was never released, so a running one is an earlier run's, not this run's.
		return false, ""
	case err != nil && fired:
		return false, "the switch's unit state is unknown (it may still be changing the host): " + err.Error()
	case err != nil:
		// GOTCHA: a refused fire (systemd-run failed, e.g. no bus) leaves nothing to read; its failure is the fact.
		return false, ""
	case st.State == UnitRunning:
		return false, fmt.Sprintf("%s is still running: the switch may still be changing the host", r.rec.Unit)
	case st.State == UnitUnknown && (fired || r.switchRunning(ctx)):
		return false, fmt.Sprintf("%s's state is unknown (not loaded): the switch may still be changing the host", r.rec.Unit)
	case st.State == UnitExited:
		return st.ExitCode == nil || !ExecSetupFailed(*st.ExitCode), ""
	}
	return false, ""
}

// switchRunning reports whether a switch-to-configuration holds the switch
// lock: a fire recorded as under way whose unit status was lost may be it.
func (r *run) switchRunning(ctx context.Context) bool {
	state, err := r.d.Backend.SwitchLock(ctx, r.o.LockPath)
	return err == nil && state == LockHeld
}

// withRestore attaches the restore to out: a warning for anything short of
// a full restore, and a skipped outcome becomes a failure unless the
// restore was complete (skipped means nothing changed).
func (r *run) withRestore(out Outcome, res Restore) Outcome {
	out.Restored = &res
	r.restoreDone = true
	if w := restoreWarning(res); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	if out.Kind == Skipped && res.Status != RestoreDone {
		out.Kind = r.failKind(r.rec.Op)
		out.Reason = "the profile was moved and not fully restored: " + out.Reason
	}
	return out
}

// restoreWarning is the warning of a restore short of restored ("" for a
// full one).
func restoreWarning(res Restore) string {
	switch res.Status {
	case RestoreDone:
		return ""
	case RestorePartial:
		return fmt.Sprintf("restore partial: profile back on generation %d, boot default %s: %s", res.Generation, res.Boot, res.Reason)
	}
	return fmt.Sprintf("restore %s: profile not back on generation %d (%s): %s", res.Status, res.Generation, res.Profile, res.Reason)
}

// restore points the profile back at the starting generation and, when the
// run's switch-to-configuration executed, restores the boot default with
// the previous closure's own boot action. Both steps are idempotent and
// recorded, so recovery can run them again (resume: follow a restore unit
// that is already there instead of firing it anew).
func (r *run) restore(ctx context.Context, resume bool) (res Restore) {
	start := r.d.Clock.Now()
	res = Restore{Generation: r.rec.PreviousGeneration, Profile: r.rec.PreviousProfile, Boot: BootNotAttempted}
	// GOTCHA: res is a named result so the deferred stamp reaches the caller.
	defer func() { res.ElapsedMS = r.d.Clock.Now().Sub(start).Milliseconds() }()
	if !(resume && r.rec.Step == StepRestoringBoot) {
		if reason := r.restoreProfile(ctx); reason != "" {
			res.Status, res.Reason = RestoreFailed, reason
			return res
		}
	}
	if !r.rec.RestoreBoot {
		res.Status, res.Boot = RestoreDone, BootNotNeeded
		return res
	}
	report, reason := r.restoreBoot(ctx, resume && r.rec.Step == StepRestoringBoot)
	res.BootSwitch = report
	if reason != "" {
		res.Status, res.Boot, res.Reason = RestorePartial, BootRestoreFailed, reason
		return res
	}
	res.Status, res.Boot = RestoreDone, BootRestored
	return res
}

// restoreProfile runs nix-env --switch-generation to the starting
// generation ("" when the profile is back there).
func (r *run) restoreProfile(ctx context.Context) string {
	// LOADBEARING: the step is recorded before the switch-generation, so a kill during it is recovered by running it again.
	_ = r.saveStep(StepRestoringProfile)
	r.log.Info("restoring the profile", "profile", r.o.Profile, "generation", r.rec.PreviousGeneration)
	if err := r.d.Nix.SwitchGeneration(ctx, r.o.Profile, r.rec.PreviousGeneration); err != nil {
		return "nix-env --switch-generation failed: " + err.Error()
	}
	if now, err := r.readBasename(r.o.Profile); err != nil || now != r.rec.PreviousProfile {
		return fmt.Sprintf("generation %d no longer holds %s (profile resolves to %q)", r.rec.PreviousGeneration, r.rec.PreviousProfile, now)
	}
	return ""
}

// restoreBoot runs the previous closure's switch-to-configuration boot in
// the restore unit and follows it to its end within one poll budget.
func (r *run) restoreBoot(ctx context.Context, resume bool) (*SwitchReport, string) {
	unit := r.o.RestoreUnit
	if !resume || !r.restoreUnitThere(ctx, unit) {
		req := FireRequest{Unit: unit, Closure: r.storePath(r.rec.PreviousProfile), Action: ActionBoot}
		r.log.Info("restoring the boot default", "unit", unit, "closure", r.rec.PreviousProfile)
		// LOADBEARING: release before recording restoring-boot: after it a loaded restore unit can only be this run's.
		if err := r.d.Backend.ReleaseUnit(ctx, unit); err != nil {
			return nil, "restore unit not started: " + err.Error()
		}
		_ = r.saveStep(StepRestoringBoot)
		if err := r.d.Backend.Fire(ctx, req); err != nil {
			return nil, "restore unit not started: " + err.Error()
		}
		r.rec.RestoreFiredAt = r.d.Clock.Now()
		_ = r.saveStep(StepRestoringBoot)
	}
	fired := r.rec.RestoreFiredAt
	if fired.IsZero() || fired.After(r.d.Clock.Now()) {
		fired = r.d.Clock.Now()
	}
	w := watch{unit: unit, deadline: fired.Add(r.o.PollBudget), firedAt: fired}
	report, ok := r.waitUnit(ctx, w, newUnitReader(w))
	switch {
	case !ok:
		return &report, "interrupted while waiting for the restore unit"
	case report.ExitedCleanly():
		return &report, ""
	}
	return &report, "the previous closure's switch-to-configuration boot did not exit 0"
}

// restoreUnitThere reports whether the restore unit is loaded (running or
// exited): a resumed restore follows it rather than firing again.
func (r *run) restoreUnitThere(ctx context.Context, unit string) bool {
	st, err := r.d.Backend.UnitStatus(ctx, unit)
	return err == nil && st.State != UnitUnknown
}

// resumeRestore finishes the restore of a run killed while restoring, and
// reports the failure it was restoring from.
func (r *run) resumeRestore(ctx context.Context, rec Record) Outcome {
	out := Outcome{Kind: r.failKind(rec.Op), Phase: PhaseRecover, Closure: rec.Closure,
		Reason: "the agent stopped while restoring after a failure"}
	if rec.Pending != nil {
		out = *rec.Pending
	}
	return r.withRestore(out, r.restore(ctx, true))
}
