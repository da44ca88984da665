package pipeline

import (
	"context"
)

// Activate switches the host to target.Closure and returns the one outcome.
// It never panics on bad input and never reports success unless
// /run/current-system is the expected closure when it returns.
func Activate(ctx context.Context, d Deps, target Target, o Options) Outcome {
	r := newRun(d, o)
	r.meta = target.Meta
	return r.finish(r.restoreOnFailure(ctx, r.activate(ctx, target.Closure)))
}

func (r *run) activate(ctx context.Context, closure string) Outcome {
	if out := r.preflight(ctx, closure); out != nil {
		return *out
	}
	if out := r.alreadyCurrent(closure); out != nil {
		return *out
	}
	plan, generation, out := r.realiseAndSet(ctx, closure)
	if out != nil {
		return *out
	}
	// No record write between the profile set and the fire: recovery of
	// "firing" tells a fired unit from none (wasFired; after a reboot, by
	// whether a profile the set would move has moved), and the generation,
	// the only field learnt since, reaches the disk with "fired".
	r.rec.Generation = generation
	if r.rec.AlreadyRunning {
		return r.refreshBoot(ctx, closure, plan)
	}
	return r.afterSwitch(ctx, r.switchTo(ctx, closure, plan)) // health checks, confirmation (issue 18)
}

// preflight runs the checks that change nothing: the basename, an
// unresolved earlier run, the switch lock, and a readable current-system
// (a host whose current-system cannot be read cannot be verified).
func (r *run) preflight(ctx context.Context, closure string) *Outcome {
	if err := ValidateBasename(closure); err != nil {
		return &Outcome{Kind: InvalidInput, Phase: PhaseValidate, Reason: err.Error()}
	}
	if out := r.unresolvedRecord(closure); out != nil {
		return out
	}
	if out := r.probeLock(ctx, closure); out != nil {
		return out
	}
	if _, err := r.readBasename(r.o.CurrentSystem); err != nil {
		return &Outcome{Kind: SwitchFailed, Phase: PhaseReadCurrent, Closure: closure,
			Reason: "nothing changed: current-system unreadable (not a NixOS host?): " + err.Error()}
	}
	return nil
}

// switchTo fires the plan: switch-to-configuration switch live, or boot
// when a critical component changes.
func (r *run) switchTo(ctx context.Context, closure string, plan firePlan) Outcome {
	var result Outcome
	if len(plan.components) > 0 {
		result = r.deferToBoot(ctx, closure, plan)
	} else {
		result = r.switchLive(ctx, closure, plan)
	}
	result.Previous = plan.previous
	return result
}

// switchLive fires switch-to-configuration switch and follows it to an outcome.
func (r *run) switchLive(ctx context.Context, closure string, plan firePlan) Outcome {
	r.log.Info("fire", "unit", plan.req.Unit, "closure", closure, "action", plan.req.Action)
	if err := r.fireNow(ctx, plan.req); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseSystemdRunFire, closure, ctx)
		}
		return r.fireFailed(err, SwitchFailed, PhaseSystemdRunFire, closure)
	}
	return r.followActivation(ctx, r.firedWatch(closure, plan.previous, plan.req.Unit))
}

// followActivation polls a fired switch to its outcome, mending the profile
// before the final verification.
func (r *run) followActivation(ctx context.Context, w watch) Outcome {
	out := r.followMending(ctx, w, activateVerdicts)
	out.RebootPending = r.rebootPending(w.expected)
	return out
}

// followMending follows a fired switch to its outcome, pointing the profile
// back at the closure before the final verification. A profile that could
// not be mended is not fatal (the host runs the closure) but turns a clean
// outcome degraded: success means current-system AND the profile.
func (r *run) followMending(ctx context.Context, w watch, v verdicts) Outcome {
	var corrected bool
	var warnings []string
	out := r.follow(ctx, w, v, func() { corrected, warnings = r.selfCorrectProfile(ctx, w.expected) })
	out.ProfileCorrected, out.Warnings = corrected, append(out.Warnings, warnings...)
	if len(warnings) > 0 && out.Kind == v.clean {
		out.Kind, out.Reason = v.degraded, "switched, but the system profile could not be pointed back at the closure"
	}
	return out
}
