package pipeline

import (
	"context"
	"time"
)

// recoverHealth finishes a run that died in its health step or in the
// rollback of an unhealthy closure; nil when the record is at another step.
// Checks are run again; a confirmation deadline is honoured as recorded;
// after a reboot an unconfirmed run is rolled back.
func (r *run) recoverHealth(ctx context.Context, rec Record) *Outcome {
	if rec.Switched == nil {
		return nil
	}
	r.healthOptions(rec)
	r.healthStart = r.d.Clock.Now()
	switched := *rec.Switched
	var out Outcome
	switch {
	case rec.HealthRollback:
		out = r.resumeUnhealthyRollback(ctx, rec, switched)
	case rec.Step == StepChecking:
		out = r.recheck(ctx, rec, switched)
	case rec.Step == StepAwaitingConfirmation:
		out = r.resumeConfirmation(ctx, rec, switched)
	default:
		return nil
	}
	return &out
}

// recheck runs the checks again, on the closure the host runs now.
func (r *run) recheck(ctx context.Context, rec Record, switched Outcome) Outcome {
	if cur, err := r.readBasename(r.o.CurrentSystem); err != nil || cur != rec.Closure {
		return Outcome{Kind: SwitchFailed, Phase: PhaseReboot, Closure: rec.Closure, LastObserved: cur,
			Reason: "the agent stopped during the health checks and current-system is no longer the closure"}
	}
	return r.checkHealth(ctx, switched)
}

// resumeConfirmation waits for the confirmation until the recorded
// deadline; a host rebooted since without one is rolled back at once.
func (r *run) resumeConfirmation(ctx context.Context, rec Record, switched Outcome) Outcome {
	rep := rec.Health
	if rep == nil {
		rep = &HealthReport{}
	}
	if r.rebootedSince(rec) && !r.confirmed() {
		no := false
		rep.Confirmed, rep.Failed = &no, append(rep.Failed, "confirmation")
		r.log.Info("host rebooted while awaiting confirmation, none came: rolling back")
		return r.healthVerdict(ctx, switched, rep)
	}
	return r.confirmPhase(ctx, switched, rep)
}

// resumeUnhealthyRollback finishes the rollback of an unhealthy closure:
// a fire under way is followed (judged from the links after a reboot),
// otherwise the rollback runs again from the profile (both steps are
// idempotent).
func (r *run) resumeUnhealthyRollback(ctx context.Context, rec Record, switched Outcome) Outcome {
	rep := rec.Health
	if rep == nil {
		rep = &HealthReport{}
	}
	r.restoreDone = true
	target := rec.PreviousProfile
	fired := rec.Step == StepFired || (rec.Step == StepFiring && r.rollbackUnitThere(ctx, rec))
	switch {
	case fired && r.rebootedSince(rec):
		cur, err := r.readBasename(r.o.CurrentSystem)
		report := SwitchReport{Unit: rec.Unit, State: UnitUnknown, ExitCode: UnknownExit()}
		kind := RollbackFailed
		if err == nil && cur == target {
			kind = RollbackDegraded
		}
		return r.unhealthyOutcome(switched, rep, Outcome{Kind: kind, Phase: PhaseReboot, Switch: &report,
			Reason: "host rebooted during the rollback; current-system is " + cur})
	case fired:
		deadline := rec.FiredAt.Add(time.Duration(rec.PollBudgetMS) * time.Millisecond)
		if rec.FiredAt.IsZero() || deadline.Before(r.d.Clock.Now()) {
			deadline = r.d.Clock.Now().Add(r.o.PollBudget)
		}
		w := watch{expected: target, previous: rec.Closure, unit: rec.Unit, deadline: deadline, readFirst: true}
		start := r.d.Clock.Now()
		res := r.followMending(ctx, w, rollbackVerdicts)
		rep.RollbackMS = r.d.Clock.Now().Sub(start).Milliseconds()
		return r.unhealthyOutcome(switched, rep, res)
	}
	return r.rollBackUnhealthy(ctx, switched, rep)
}

// rollbackUnitThere reports whether the rollback unit is loaded: it was
// released before "firing" was recorded, so a loaded one is this run's.
func (r *run) rollbackUnitThere(ctx context.Context, rec Record) bool {
	st, err := r.d.Backend.UnitStatus(ctx, rec.Unit)
	return err != nil || st.State != UnitUnknown
}

// recordHealthOptions keeps an activation's health options in its record
// from the start, so a run killed before its health step is checked by
// its recovery as it would have been.
func (r *run) recordHealthOptions(rec *Record) {
	if rec.Op != OpActivate {
		return
	}
	rec.RequireRunning, rec.ConfirmWithinMS, rec.OnUnhealthy = r.o.RequireRunning, r.o.ConfirmWithin.Milliseconds(), r.o.OnUnhealthy
}

// healthOptions takes the run's health options from its record.
func (r *run) healthOptions(rec Record) {
	r.o.RequireRunning, r.o.OnUnhealthy = rec.RequireRunning, rec.OnUnhealthy
	r.o.ConfirmWithin = time.Duration(rec.ConfirmWithinMS) * time.Millisecond
}

// healthAfterResume runs the health step after recovery followed an
// activation's live switch to its end (the agent died before its checks):
// the closure is checked as the run would have checked it.
func (r *run) healthAfterResume(ctx context.Context, rec Record, out Outcome) Outcome {
	if rec.Op != OpActivate || rec.Switched != nil || rec.AlreadyRunning || rec.Action != ActionSwitch {
		return out
	}
	r.healthOptions(rec)
	out.Previous = rec.Previous
	return r.afterSwitch(ctx, out)
}
