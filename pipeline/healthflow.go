package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// RolledBack: the closure switched, but it was unhealthy (a health check
// failed, the system was degraded with --require-running, or no
// confirmation came within --confirm-within), so the host was returned to
// the generation it was on: the profile (nix-env --switch-generation), and
// the previous closure's own switch-to-configuration switch, after which
// /run/current-system is the previous closure. Health says what failed.
const RolledBack Kind = "rolled-back"

// Health phases: the outcome was decided by the health checks or by the
// wait for a confirmation.
const (
	PhaseHealth  Phase = "health-check"
	PhaseConfirm Phase = "confirmation"
)

// Health steps of the in-flight record (stored on disk: never rename one).
const (
	// StepChecking: the switch settled; the health checks run.
	StepChecking Step = "checking"
	// StepAwaitingConfirmation: the checks passed; the run waits until
	// ConfirmDeadline for a confirmation.
	StepAwaitingConfirmation Step = "awaiting-confirmation"
	// StepUnhealthyRollback: the closure was found unhealthy
	// (HealthRollback); nix-env --switch-generation back to
	// PreviousGeneration may have run. The rollback's fire is then
	// recorded as firing/fired with HealthRollback set.
	StepUnhealthyRollback Step = "rolling-back-unhealthy"
)

// afterSwitch runs the health step of a switch that settled: checks,
// system state, confirmation; an unhealthy closure is rolled back (or kept,
// degraded). A run with nothing to check returns out unchanged.
func (r *run) afterSwitch(ctx context.Context, out Outcome) Outcome {
	if (out.Kind != Settled && out.Kind != SettledDegraded) || r.rec == nil || !r.wantsHealth(out.Closure) {
		return out
	}
	switched := out
	r.rec.Switched = &switched
	r.rec.RequireRunning, r.rec.ConfirmWithinMS = r.o.RequireRunning, r.o.ConfirmWithin.Milliseconds()
	r.rec.OnUnhealthy = r.o.OnUnhealthy
	// LOADBEARING: "checking" is recorded before the first check, so a kill during the checks re-runs them.
	_ = r.saveStep(StepChecking)
	return r.checkHealth(ctx, out)
}

// stampHealth sets rep's elapsed time since this invocation's health step
// began (its first check, or recovery's start).
func (r *run) stampHealth(rep *HealthReport) {
	if !r.healthStart.IsZero() {
		rep.ElapsedMS = r.d.Clock.Now().Sub(r.healthStart).Milliseconds()
	}
}

// checkHealth runs the checks, then waits for a confirmation when asked.
func (r *run) checkHealth(ctx context.Context, out Outcome) Outcome {
	if r.healthStart.IsZero() {
		r.healthStart = r.d.Clock.Now()
	}
	rep := r.runHealth(ctx, out.Closure)
	if ctx.Err() != nil {
		return r.healthInterrupted(ctx, PhaseHealth, out, rep)
	}
	if !rep.healthy() || r.rec.ConfirmWithinMS <= 0 {
		return r.healthVerdict(ctx, out, rep)
	}
	r.rec.ConfirmDeadline = r.d.Clock.Now().Add(time.Duration(r.rec.ConfirmWithinMS) * time.Millisecond)
	r.rec.Health = rep
	_ = r.saveStep(StepAwaitingConfirmation)
	return r.confirmPhase(ctx, out, rep)
}

// confirmPhase waits for the confirmation until the recorded deadline.
func (r *run) confirmPhase(ctx context.Context, out Outcome, rep *HealthReport) Outcome {
	r.log.Info("awaiting confirmation", "deadline", r.rec.ConfirmDeadline)
	ok, live := r.awaitConfirmation(ctx)
	if !live {
		return r.healthInterrupted(ctx, PhaseConfirm, out, rep)
	}
	rep.Confirmed = &ok
	if !ok {
		rep.Failed = append(rep.Failed, "confirmation")
	}
	return r.healthVerdict(ctx, out, rep)
}

// healthInterrupted reports a run stopped during the health step; its
// record stays, so recover finishes it.
func (r *run) healthInterrupted(ctx context.Context, phase Phase, out Outcome, rep *HealthReport) Outcome {
	stopped := interrupted(phase, out.Closure, ctx)
	r.stampHealth(rep)
	stopped.Health = rep
	return stopped
}

// healthVerdict turns the report into the outcome: healthy keeps out;
// unhealthy rolls back, or with --on-unhealthy=keep is settled-degraded.
func (r *run) healthVerdict(ctx context.Context, out Outcome, rep *HealthReport) Outcome {
	r.clearConfirmation()
	r.stampHealth(rep)
	out.Health = rep
	if rep.healthy() {
		return r.stillCurrent(out)
	}
	what := strings.Join(rep.Failed, ", ")
	r.log.Warn("the new closure is unhealthy", "failed", what)
	if r.rec.OnUnhealthy == OnUnhealthyKeep {
		out.Kind, out.Reason = SettledDegraded, "unhealthy ("+what+"), kept: --on-unhealthy=keep"
		return out
	}
	return r.rollBackUnhealthy(ctx, out, rep)
}

// stillCurrent re-reads current-system after a healthy health step: the
// checks and the wait for a confirmation take time, and success is only
// ever reported for the link as it is now (a reboot or another switch may
// have moved it meanwhile).
func (r *run) stillCurrent(out Outcome) Outcome {
	// LOADBEARING: re-read last: a healthy verdict is no success for a link that moved off the closure.
	now, err := r.readBasename(r.o.CurrentSystem)
	if err == nil && now == out.Closure {
		return out
	}
	out.Kind, out.Phase, out.Expected, out.Actual = VerifyMismatch, PhaseVerify, out.Closure, now
	out.Reason = "current-system is no longer the closure after the health step"
	if err != nil {
		out.Reason = "current-system unreadable after the health step: " + err.Error()
	}
	return out
}

// healthPhase is the phase an unhealthy verdict is reported at.
func healthPhase(rep *HealthReport) Phase {
	if rep.Confirmed != nil && !*rep.Confirmed {
		return PhaseConfirm
	}
	return PhaseHealth
}

// rollBackUnhealthy returns the host to the generation it was on: the
// profile back with nix-env --switch-generation, then the previous
// closure's own switch-to-configuration switch in the rollback unit,
// followed like a rollback (it also makes that closure the boot default).
// Every step is recorded, so recover can finish it.
func (r *run) rollBackUnhealthy(ctx context.Context, out Outcome, rep *HealthReport) Outcome {
	start := r.d.Clock.Now()
	r.restoreDone = true // LOADBEARING: the restore post-step must not act on this run's profile again.
	r.rec.Health, r.rec.HealthRollback = rep, true
	r.rec.Switched = &out
	// LOADBEARING: recorded before nix-env --switch-generation, the rollback's first change.
	_ = r.saveStep(StepUnhealthyRollback)
	target := r.rec.PreviousProfile
	if r.rec.PreviousGeneration == 0 || target == "" {
		return r.unhealthyFailed(out, rep, PhaseNixEnvRollback, "the profile had no generation before the run", nil)
	}
	r.log.Info("rolling back the unhealthy closure", "generation", r.rec.PreviousGeneration, "closure", target)
	if err := r.d.Nix.SwitchGeneration(ctx, r.o.Profile, r.rec.PreviousGeneration); err != nil {
		if ctx.Err() != nil {
			return r.healthInterrupted(ctx, PhaseNixEnvRollback, out, rep)
		}
		return r.unhealthyFailed(out, rep, PhaseNixEnvRollback, err.Error(), commandReport("nix-env --switch-generation", err))
	}
	req := FireRequest{Unit: r.o.RollbackUnit, Closure: r.storePath(target), Action: ActionSwitch}
	// LOADBEARING: the previous closure's own binary: the unhealthy one knows only its own configuration.
	if err := r.fire(ctx, req, nil); err != nil {
		if ctx.Err() != nil {
			return r.healthInterrupted(ctx, PhaseRollbackFire, out, rep)
		}
		failed := r.fireFailed(err, RollbackFailed, PhaseRollbackFire, target)
		return r.unhealthyFailed(out, rep, failed.Phase, failed.Reason, failed.Command)
	}
	res := r.followMending(ctx, r.firedWatch(target, out.Closure, r.o.RollbackUnit), rollbackVerdicts)
	rep.RollbackMS = r.d.Clock.Now().Sub(start).Milliseconds()
	return r.unhealthyOutcome(out, rep, res)
}

// unhealthyOutcome reports a followed rollback: rolled-back once
// current-system is the previous closure, else the rollback's failure.
func (r *run) unhealthyOutcome(out Outcome, rep *HealthReport, res Outcome) Outcome {
	rep.Rollback = res.Switch
	switch res.Kind {
	case RollbackSucceeded, RollbackDegraded:
		rolled := Outcome{Kind: RolledBack, Phase: healthPhase(rep), Closure: out.Closure, Previous: out.Previous,
			Health: rep, ProfileCorrected: res.ProfileCorrected, Warnings: res.Warnings,
			Reason: fmt.Sprintf("unhealthy (%s); rolled back to %s", strings.Join(rep.Failed, ", "), r.rec.PreviousProfile)}
		if res.Kind == RollbackDegraded {
			rolled.Reason += ": " + res.Reason
		}
		return rolled
	case Interrupted:
		res.Closure, res.Health = out.Closure, rep
		return res
	}
	return r.unhealthyFailed(out, rep, res.Phase, res.Reason, res.Command)
}

// unhealthyFailed reports an unhealthy closure whose rollback failed: the
// host may still run it (rollback-failed, with the health report).
func (r *run) unhealthyFailed(out Outcome, rep *HealthReport, phase Phase, reason string, cmd *CommandReport) Outcome {
	actual, _ := r.readBasename(r.o.CurrentSystem)
	return Outcome{Kind: RollbackFailed, Phase: phase, Closure: out.Closure, Previous: out.Previous, Health: rep,
		Command: cmd, LastObserved: actual,
		Reason: fmt.Sprintf("unhealthy (%s), and the rollback to %s failed: %s", strings.Join(rep.Failed, ", "), r.rec.PreviousProfile, reason)}
}
