package pipeline

import (
	"context"
	"fmt"
)

// alreadyCurrent answers a target the host already runs. When both
// /run/current-system and the system profile resolve to the closure (and
// Options.Force is off) the run ends at once with AlreadyCurrent: nothing
// is set, nothing fired, and nothing realised either, since the closure of
// the running system is valid in the local store (/run/current-system is a
// GC root) and was verified when it was first activated; only its basename
// (preflight) and its presence in the store are checked. When only
// current-system is the closure, the run goes on with alreadyRunning set:
// realise (a no-op for a valid path), set the profile, and refresh the boot
// entry with the closure's own boot action instead of switching again.
func (r *run) alreadyCurrent(closure string) *Outcome {
	if r.o.Force {
		return nil
	}
	cur, err := r.readBasename(r.o.CurrentSystem)
	if err != nil || cur != closure {
		return nil
	}
	r.alreadyRunning = true
	prof, err := r.readBasename(r.o.Profile)
	if err != nil || prof != closure {
		return nil
	}
	if _, err := r.d.FS.Stat(r.storePath(closure)); err != nil {
		return nil
	}
	r.log.Info("already current", "closure", closure, "generation", r.profileGeneration())
	return &Outcome{Kind: AlreadyCurrent, Phase: PhaseCurrentCheck, Closure: closure, Previous: cur,
		Generation: r.profileGeneration(), Profile: prof,
		Reason: "current-system and the system profile already are the closure; nothing changed (--force switches anyway)"}
}

// refreshBoot is the already-running case after the profile set: the
// closure's own switch-to-configuration boot makes the new generation the
// boot default; current-system is not touched.
func (r *run) refreshBoot(ctx context.Context, closure string, plan firePlan) Outcome {
	unit := plan.req.Unit
	r.log.Info("already running; refreshing the boot entry", "unit", unit, "closure", closure)
	var out Outcome
	if err := r.fireNow(ctx, plan.req); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseDeferBootloader, closure, ctx)
		}
		out = Outcome{Kind: SettledDegraded, Phase: PhaseDeferBootloader, Closure: closure, AlreadyRunning: true,
			Reason: "current-system already was the closure and the profile is set, but the boot entry was not refreshed: " + err.Error()}
	} else {
		out = r.awaitRefresh(ctx, r.firedWatch(closure, "", unit))
	}
	out.Previous = closure
	return out
}

// awaitRefresh follows the boot action of an already-running closure: exit
// 0 is settled, anything else degraded (the host runs the closure and the
// profile holds it; only the boot entry may be stale). Success is only
// reported while current-system still is the closure.
func (r *run) awaitRefresh(ctx context.Context, w watch) Outcome {
	report, ok := r.waitUnit(ctx, w, newUnitReader(w))
	if !ok {
		return interrupted(PhaseDeferBootloader, w.expected, ctx)
	}
	out := Outcome{Kind: Settled, Closure: w.expected, Switch: &report, AlreadyRunning: true,
		RebootPending: r.rebootPending(w.expected),
		Reason:        "current-system already was the closure: profile set and boot entry refreshed, nothing switched"}
	// LOADBEARING: re-read last: success is only ever reported for the link as it is now.
	if now, err := r.readBasename(r.o.CurrentSystem); err != nil || now != w.expected {
		return Outcome{Kind: VerifyMismatch, Phase: PhaseVerify, Closure: w.expected, Expected: w.expected, Actual: now,
			Switch: &report, Reason: "current-system moved off the closure while its boot entry was refreshed"}
	}
	if !report.ExitedCleanly() {
		out.Kind, out.Phase = SettledDegraded, PhaseDeferBootloader
		out.Reason = fmt.Sprintf("current-system already was the closure and the profile is set, but its switch-to-configuration boot ended %s", report.State)
		if report.ExitCode.Known {
			out.Reason = fmt.Sprintf("current-system already was the closure and the profile is set, but its switch-to-configuration boot exited %d", report.ExitCode.Code)
		}
	}
	return out
}
