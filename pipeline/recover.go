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
		return nil, err
	}
	o.PollInterval = time.Duration(rec.PollIntervalMS) * time.Millisecond
	o.PollBudget = time.Duration(rec.PollBudgetMS) * time.Millisecond
	r := newRun(d, o)
	r.meta, r.rec = rec.Meta, rec
	r.log.Info("recovering an unfinished run", "op", rec.Op, "closure", rec.Closure, "step", rec.Step)
	out := r.recover(ctx, *rec)
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
	switch rec.Step {
	case StepFiring:
		if !r.wasFired(ctx, rec) {
			phase := PhaseSystemdRunFire
			if rec.Op == OpRollback {
				phase = PhaseRollbackFire
			}
			return r.abandoned(rec, phase, "the agent stopped while firing; the unit never started")
		}
		return r.resume(ctx, rec)
	case StepFired:
		return r.resume(ctx, rec)
	case StepRealised, StepProfileSet:
		return r.abandoned(rec, PhaseNixEnvSet, "the agent stopped before firing; nothing was switched")
	case StepRolledBack:
		return r.abandoned(rec, PhaseNixEnvRollback, "the agent stopped before firing the rollback; nothing was switched")
	}
	return Outcome{Kind: r.failKind(rec.Op), Phase: PhaseRecover, Reason: fmt.Sprintf("unknown step %q in the record", rec.Step)}
}

// abandoned reports a run that changed at most the profile.
func (r *run) abandoned(rec Record, phase Phase, reason string) Outcome {
	now, err := r.readBasename(r.o.Profile)
	if err != nil {
		now = "(unreadable: " + err.Error() + ")"
	}
	return Outcome{Kind: Abandoned, Phase: phase, Closure: rec.Closure, Generation: r.profileGeneration(),
		Reason: fmt.Sprintf("%s; profile now at %s (was %s, generation %d)", reason, now, rec.PreviousProfile, rec.PreviousGeneration)}
}

// wasFired decides whether a fire that was under way when the agent died
// took effect: the unit exists, or current-system already moved. The unit
// was released before "firing" was recorded, so a loaded unit is this
// run's; the units are never --collect'ed, so a missing one never started.
func (r *run) wasFired(ctx context.Context, rec Record) bool {
	if cur, err := r.readBasename(r.o.CurrentSystem); err == nil && cur == rec.Closure && cur != rec.Previous {
		return true
	}
	st, err := r.d.Backend.UnitStatus(ctx, rec.Unit)
	// GOTCHA: an unreadable status proves nothing: follow the run (a timeout
	// then reports null) rather than call a fired switch abandoned.
	return err != nil || st.State != UnitUnknown
}

// resume follows a fired unit to its outcome, as the original run would
// have, within the rest of its budget.
func (r *run) resume(ctx context.Context, rec Record) Outcome {
	fired := rec.FiredAt
	if fired.IsZero() {
		fired = rec.StartedAt
	}
	w := watch{expected: rec.Closure, previous: rec.Previous, unit: rec.Unit, deadline: fired.Add(r.o.PollBudget),
		readFirst: true}
	switch {
	case rec.Action == ActionBoot:
		return r.awaitBoot(ctx, w, rec.Components)
	case rec.Op == OpRollback:
		return r.followRollback(ctx, w)
	}
	return r.followActivation(ctx, w)
}
