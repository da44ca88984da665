package pipeline

import (
	"context"
	"fmt"
	"time"
)

// Recover looks for the in-flight record of a run that did not finish (the
// agent was killed, the host rebooted) and works out that run's final
// outcome from the record and the host as it is now, without firing
// anything. A fired switch is followed to its end within what is left of
// its poll budget. It returns nil when there is no record. The record is
// cleared once the outcome is final; an interrupted recovery keeps it.
// Errors: *CorruptRecordError (the record was kept aside), or the journal's
// read error.
func Recover(ctx context.Context, d Deps, o Options) (*Outcome, error) {
	if d.Journal == nil {
		return nil, nil
	}
	rec, err := d.Journal.Load()
	if err != nil || rec == nil {
		if err == nil {
			dropStrayRoots(d, o.WithDefaults().GCRootDir)
		}
		return nil, err
	}
	o.PollInterval = time.Duration(rec.PollIntervalMS) * time.Millisecond
	o.PollBudget = time.Duration(rec.PollBudgetMS) * time.Millisecond
	if rec.RestoreUnit != "" {
		o.RestoreUnit = rec.RestoreUnit
	}
	r := newRun(d, o)
	r.meta, r.rec = rec.Meta, rec
	r.log.Info("recovering an unfinished run", "op", rec.Op, "closure", rec.Closure, "step", rec.Step)
	out := r.restoreOnFailure(ctx, r.healthAfterResume(ctx, *rec, r.recover(ctx, *rec)))
	r.dropRecordRoot(*rec)
	out.Recovered = true
	if out.Closure == "" {
		out.Closure = rec.Closure
	}
	out.Previous = rec.Previous
	out = r.finish(out)
	return &out, nil
}

// recover decides the outcome of the recorded run from its last step.
func (r *run) recover(ctx context.Context, rec Record) Outcome {
	if out := r.recoverHealth(ctx, rec); out != nil { // health step (issue 18)
		return *out
	}
	if (rec.Step == StepFiring || rec.Step == StepFired) && r.rebootedSince(rec) {
		r.rebooted = true
		if r.stoppedBeforeProfileSet(rec) {
			return r.abandonedBeforeSet(rec)
		}
		return r.afterReboot(rec)
	}
	switch rec.Step {
	case StepFiring:
		if !r.wasFired(ctx, rec) {
			return r.notFired(rec)
		}
		return r.resume(ctx, rec)
	case StepFired:
		return r.resume(ctx, rec)
	case StepRealised, StepProfileSet:
		return r.abandoned(rec, PhaseNixEnvSet, "the agent stopped before firing; nothing was switched")
	case StepRolledBack:
		return r.abandoned(rec, PhaseNixEnvRollback, "the agent stopped before firing the rollback; nothing was switched")
	case StepRestoringProfile, StepRestoringBoot:
		return r.resumeRestore(ctx, rec)
	}
	return Outcome{Kind: r.failKind(rec.Op), Phase: PhaseRecover, Reason: fmt.Sprintf("unknown step %q in the record", rec.Step)}
}

// stoppedBeforeProfileSet reports an activation recorded at "firing" whose
// profile is still where the run found it although the set would have
// moved it: its fire, which follows the profile set, never happened,
// whatever a reboot since took away. A profile that already held the
// closure proves nothing: it may not move at all (nix-env --set of the
// path its newest generation holds makes no generation; Nix 2.8,
// createGeneration).
func (r *run) stoppedBeforeProfileSet(rec Record) bool {
	return rec.Op == OpActivate && rec.Step == StepFiring && rec.PreviousProfile != rec.Closure && !r.profileMoved()
}

// notFired reports a run recorded at "firing" whose unit never started.
// An activation writes "firing" before its profile set, so a profile still
// on the generation the run found, which the set would have moved, means
// the agent stopped before or during the set (nix-env-set); otherwise it is
// reported at the fire.
func (r *run) notFired(rec Record) Outcome {
	switch {
	case rec.Op == OpRollback:
		return r.abandoned(rec, PhaseRollbackFire, "the agent stopped while firing; the unit never started")
	case r.stoppedBeforeProfileSet(rec):
		return r.abandonedBeforeSet(rec)
	}
	return r.abandoned(rec, PhaseSystemdRunFire, "the agent stopped while firing; the unit never started")
}

// abandonedBeforeSet reports an activation that stopped before its profile
// set (stoppedBeforeProfileSet): nothing was switched.
func (r *run) abandonedBeforeSet(rec Record) Outcome {
	return r.abandoned(rec, PhaseNixEnvSet, "the agent stopped before firing; nothing was switched")
}

// abandoned reports a run that changed at most the profile.
func (r *run) abandoned(rec Record, phase Phase, reason string) Outcome {
	now, err := r.readBasename(r.o.Profile)
	if err != nil {
		now = "(unreadable: " + err.Error() + ")"
	}
	return Outcome{Kind: Abandoned, Phase: phase, Closure: rec.Closure, Generation: r.profileGeneration(),
		Reason: fmt.Sprintf("%s; profile found at %s (was %s, generation %d)", reason, now, rec.PreviousProfile, rec.PreviousGeneration)}
}

// wasFired decides whether a fire that was under way when the agent died
// took effect: current-system already moved, the unit exists (it was
// released before "firing" was recorded, so a loaded unit is this run's),
// or a switch-to-configuration holds the switch lock (the unit's status may
// have been lost, e.g. to a garbage-collected unit, while it runs).
func (r *run) wasFired(ctx context.Context, rec Record) bool {
	if cur, err := r.readBasename(r.o.CurrentSystem); err == nil && cur == rec.Closure && cur != rec.Previous {
		return true
	}
	st, err := r.d.Backend.UnitStatus(ctx, rec.Unit)
	// GOTCHA: an unreadable status proves nothing: follow the run (a timeout
	// then reports null) rather than call a fired switch abandoned.
	if err != nil || st.State != UnitUnknown {
		return true
	}
	lock, err := r.d.Backend.SwitchLock(ctx, r.o.LockPath)
	return err == nil && lock == LockHeld
}

// resume follows a fired unit to its outcome, as the original run would
// have, within the rest of its budget.
func (r *run) resume(ctx context.Context, rec Record) Outcome {
	if out := r.neverExecuted(ctx, rec); out != nil {
		return *out
	}
	w := watch{expected: rec.Closure, previous: rec.Previous, unit: rec.Unit, deadline: r.resumeDeadline(rec),
		readFirst: true}
	switch {
	case rec.Action == ActionBoot && rec.AlreadyRunning:
		out := r.awaitRefresh(ctx, w)
		out.Previous = rec.Closure
		return out
	case rec.Action == ActionBoot:
		return r.awaitBoot(ctx, w, rec.Components)
	case rec.Op == OpRollback:
		return r.followRollback(ctx, w)
	}
	return r.followActivation(ctx, w)
}

// neverExecuted reports a fired unit whose switch-to-configuration could not
// be executed (an exec setup failure such as 203), as the fire's own failure
// would have been reported had the agent lived.
func (r *run) neverExecuted(ctx context.Context, rec Record) *Outcome {
	st, err := r.d.Backend.UnitStatus(ctx, rec.Unit)
	if err != nil || st.State != UnitExited || st.ExitCode == nil || !ExecSetupFailed(*st.ExitCode) {
		return nil
	}
	phase := PhaseSystemdRunFire
	if rec.Op == OpRollback {
		phase = PhaseRollbackFire
	}
	report := ReportUnit(rec.Unit, st)
	return &Outcome{Kind: r.failKind(rec.Op), Phase: phase, Closure: rec.Closure, ExitCode: report.ExitCode, Switch: &report,
		Reason: "switch-to-configuration could not be executed"}
}
