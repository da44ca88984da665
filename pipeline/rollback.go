package pipeline

import (
	"context"
	"fmt"
	"path"
)

// Rollback undoes the last activation: it points the system profile back
// at the generation that activation started from (the last-activation
// record; Options.RollbackGeneration names another; with neither, the
// highest generation below the current one) with nix-env
// --switch-generation, discovers the closure it now points at through the
// two-level profile link, fires THAT closure's own switch-to-configuration
// switch in the rollback unit, and polls like Activate. When the profile
// and current-system already are that generation and its closure, the
// outcome is AlreadyCurrent and nothing changes. meta is echoed in the
// outcome.
func Rollback(ctx context.Context, d Deps, meta map[string]string, o Options) Outcome {
	r := newRun(d, o)
	r.meta = meta
	return r.finish(r.restoreOnFailure(ctx, r.rollback(ctx)))
}

func (r *run) rollback(ctx context.Context) Outcome {
	if out := r.unresolvedRecord(""); out != nil {
		return *out
	}
	if out := r.probeLock(ctx, ""); out != nil {
		return *out
	}
	previous, err := r.readBasename(r.o.CurrentSystem)
	if err != nil {
		return Outcome{Kind: RollbackFailed, Phase: PhaseReadCurrent, Reason: err.Error()}
	}
	gen, err := r.rollbackTarget()
	if err != nil {
		return Outcome{Kind: RollbackFailed, Phase: PhaseNixEnvRollback, Previous: previous, Reason: err.Error()}
	}
	if out := r.rollbackAlreadyCurrent(gen, previous); out != nil {
		return *out
	}
	rec := r.newRecord(OpRollback, "", r.o.RollbackUnit)
	rec.Previous = previous
	// LOADBEARING: record before nix-env --switch-generation, the first change to the host.
	if out := r.beginRecord(rec, StepRolledBack); out != nil {
		return *out
	}
	r.log.Info("nix-env --switch-generation", "profile", r.o.Profile, "generation", gen, "current", previous)
	if err := r.d.Nix.SwitchGeneration(ctx, r.o.Profile, gen); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseNixEnvRollback, "", ctx)
		}
		return Outcome{Kind: RollbackFailed, Phase: PhaseNixEnvRollback, Previous: previous,
			Command: commandReport("nix-env --switch-generation", err), Reason: err.Error()}
	}
	target, err := r.discoverTarget()
	if err != nil {
		return Outcome{Kind: RollbackFailed, Phase: PhaseDiscoverTarget, Previous: previous, Reason: err.Error()}
	}
	r.rec.Closure, r.rec.Generation = target, r.profileGeneration()
	out := r.fireRollback(ctx, target, previous)
	out.Previous = previous
	return out
}

// discoverTarget reads the closure the profile points at after the rollback
// (profile -> system-N-link -> store path) and validates its basename.
func (r *run) discoverTarget() (string, error) {
	target, err := r.readBasename(r.o.Profile)
	if err != nil {
		return "", fmt.Errorf("profile %s: %w", r.o.Profile, err)
	}
	if err := ValidateBasename(target); err != nil {
		return "", err
	}
	r.log.Info("rolled-back closure", "closure", target)
	return target, nil
}

// fireRollback runs the rolled-back closure's own switch-to-configuration
// and follows it.
func (r *run) fireRollback(ctx context.Context, target, previous string) Outcome {
	unit := r.o.RollbackUnit
	// LOADBEARING: the rolled-back closure's own binary: the current one knows only its own configuration.
	req := FireRequest{Unit: unit, Closure: path.Join(r.o.StoreDir, target), Action: ActionSwitch}
	if err := r.fire(ctx, req, nil); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseRollbackFire, target, ctx)
		}
		return r.fireFailed(err, RollbackFailed, PhaseRollbackFire, target)
	}
	return r.followRollback(ctx, r.firedWatch(target, previous, unit))
}

// followRollback follows a fired rollback like an activation, mending a
// profile that its activation script moved.
func (r *run) followRollback(ctx context.Context, w watch) Outcome {
	return r.followMending(ctx, w, rollbackVerdicts)
}
