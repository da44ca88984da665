package pipeline

import (
	"context"
	"errors"
	"fmt"
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
	generation, out := r.realiseAndSet(ctx, closure)
	if out != nil {
		return *out
	}
	r.rec.Generation, r.rec.AlreadyRunning = generation, r.alreadyRunning
	_ = r.saveStep(StepProfileSet)
	if r.rec.AlreadyRunning {
		return r.refreshBoot(ctx, closure)
	}
	return r.afterSwitch(ctx, r.switchTo(ctx, closure)) // health checks, confirmation (issue 18)
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

// switchTo reads the pre-switch current-system, then switches live or
// defers to the next boot when a critical component changes.
func (r *run) switchTo(ctx context.Context, closure string) Outcome {
	previous, err := r.readBasename(r.o.CurrentSystem)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseReadCurrent, closure, ctx)
		}
		return Outcome{Kind: SwitchFailed, Phase: PhaseReadCurrent, Closure: closure, Reason: err.Error()}
	}
	r.log.Info("pre-switch current-system", "previous", previous)
	r.rec.Previous = previous
	var result Outcome
	if changed := r.changedComponents(previous, closure); len(changed) > 0 {
		result = r.deferToBoot(ctx, closure, changed)
	} else {
		result = r.switchLive(ctx, closure, previous)
	}
	result.Previous = previous
	return result
}

// probeLock returns Skipped when another switch holds the lock. An unknown
// lock state is logged and the run goes on (fail-open).
func (r *run) probeLock(ctx context.Context, closure string) *Outcome {
	state, err := r.d.Backend.SwitchLock(ctx, r.o.LockPath)
	switch {
	case err != nil:
		r.log.Warn("switch lock state unknown, going on", "lock", r.o.LockPath, "err", err)
		return nil
	case state == LockHeld:
		r.log.Info("another switch-to-configuration holds the lock", "lock", r.o.LockPath)
		out := &Outcome{Kind: Skipped, Phase: PhaseLockProbe, Closure: closure,
			Reason: "another switch-to-configuration holds " + r.o.LockPath}
		r.explainLock(ctx, out) // issue 19: who holds it, and what to do
		return out
	}
	return nil
}

// realise runs nix-store --realise under the GC root root ("" for none) and
// checks the realised path: the root's target when nix-store printed the
// root (Nix 2.3 to 2.8 with --add-root), else the printed path.
func (r *run) realise(ctx context.Context, closure, storePath, root string) *Outcome {
	r.log.Info("realise", "path", storePath, "gc_root", root)
	got, err := r.d.Nix.Realise(ctx, storePath, root)
	if err != nil {
		if ctx.Err() != nil {
			out := interrupted(PhaseRealise, closure, ctx)
			return &out
		}
		out := realiseOutcome(closure, err)
		return &out
	}
	switch {
	case root != "" && got == root:
		if got, err = r.d.FS.Readlink(root); err != nil {
			return &Outcome{Kind: RealiseFailed, Phase: PhaseRealisedPath, Closure: closure,
				Reason: fmt.Sprintf("nix-store --realise printed the GC root %q, which cannot be read: %v", root, err)}
		}
	case root != "":
		r.log.Warn("realised without a GC root", "root", root, "printed", got)
		r.warnings = append(r.warnings, "GC root "+root+" could not be made: the closure was not held against garbage collection until the profile set")
	}
	if got != storePath {
		return &Outcome{Kind: RealiseFailed, Phase: PhaseRealisedPath, Closure: closure, Actual: got,
			Reason: fmt.Sprintf("nix-store --realise produced %q, want %q", got, storePath)}
	}
	return nil
}

// nixStoreRealise names the realise command in an outcome.
const nixStoreRealise = "nix-store --realise"

// realiseOutcome maps a Realise error to SignatureMismatch or RealiseFailed.
func realiseOutcome(closure string, err error) Outcome {
	var re *RealiseError
	if !errors.As(err, &re) {
		return Outcome{Kind: RealiseFailed, Phase: PhaseRealise, Closure: closure, Failure: RealiseOther,
			Command: commandReport(nixStoreRealise, err), Reason: err.Error()}
	}
	kind := RealiseFailed
	if re.Kind == RealiseUntrusted {
		kind = SignatureMismatch
	}
	return Outcome{Kind: kind, Phase: PhaseRealise, Closure: closure, Failure: re.Kind,
		Command: commandReport(nixStoreRealise, err), Reason: re.Error()}
}

// setProfile points the system profile at storePath and returns the new
// generation number (0 when it cannot be read).
func (r *run) setProfile(ctx context.Context, closure, storePath string) (int, *Outcome) {
	r.log.Info("nix-env --set", "profile", r.o.Profile, "path", storePath)
	if err := r.d.Nix.SetProfile(ctx, r.o.Profile, storePath); err != nil {
		if ctx.Err() != nil {
			out := interrupted(PhaseNixEnvSet, closure, ctx)
			return 0, &out
		}
		return 0, &Outcome{Kind: SwitchFailed, Phase: PhaseNixEnvSet, Closure: closure,
			Command: commandReport("nix-env --set", err), Reason: err.Error()}
	}
	return r.profileGeneration(), nil
}

// switchLive fires switch-to-configuration switch and follows it to an outcome.
func (r *run) switchLive(ctx context.Context, closure, previous string) Outcome {
	unit := r.o.SwitchUnit
	req := FireRequest{Unit: unit, Closure: r.storePath(closure), Action: ActionSwitch}
	r.log.Info("fire", "unit", unit, "closure", closure, "action", ActionSwitch)
	if err := r.fire(ctx, req, nil); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseSystemdRunFire, closure, ctx)
		}
		return r.fireFailed(err, SwitchFailed, PhaseSystemdRunFire, closure)
	}
	w := watch{expected: closure, previous: previous, unit: unit, deadline: r.rec.FiredAt.Add(r.o.PollBudget)}
	return r.followActivation(ctx, w)
}

// journalError is a fire refused because its "firing" record could not be
// written: without it a crash after the fire would be unrecoverable.
type journalError struct{ err error }

func (e *journalError) Error() string {
	return "in-flight record not written, nothing fired: " + e.err.Error()
}

// fireFailed maps a failed fire to its outcome: a busy unit is Skipped, an
// unwritable record fails at the journal phase, anything else at phase.
func (r *run) fireFailed(err error, kind Kind, phase Phase, closure string) Outcome {
	var je *journalError
	switch {
	case errors.Is(err, ErrUnitBusy):
		return Outcome{Kind: Skipped, Phase: phase, Closure: closure, Reason: err.Error()}
	case errors.As(err, &je):
		return Outcome{Kind: kind, Phase: PhaseJournal, Closure: closure, Reason: err.Error()}
	}
	return Outcome{Kind: kind, Phase: phase, Closure: closure,
		Command: commandReport("systemd-run", err), Reason: err.Error()}
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

// newRecord starts an in-flight record with the profile as it is before
// the run changes it.
func (r *run) newRecord(op Op, closure, unit string) Record {
	prevProfile, _ := r.readBasename(r.o.Profile)
	return Record{Op: op, Closure: closure, Meta: r.meta, Unit: unit,
		PreviousProfile: prevProfile, PreviousGeneration: r.profileGeneration()}
}

// fire records the intent, fires req, and records the fire time (the poll
// deadline counts from it). r.rec must be set (beginRecord). components names
// what forced a deferral, if any.
func (r *run) fire(ctx context.Context, req FireRequest, components []string) error {
	r.rec.Unit, r.rec.Action, r.rec.Components = req.Unit, req.Action, components
	// LOADBEARING: release before "firing": after it a loaded unit can only be this run's, which recovery relies on.
	if err := r.d.Backend.ReleaseUnit(ctx, req.Unit); err != nil {
		return err
	}
	// LOADBEARING: "firing" is written before the fire, so a crash right after it is never taken for "not fired".
	if err := r.saveStep(StepFiring); err != nil {
		return &journalError{err}
	}
	if err := r.d.Backend.Fire(ctx, req); err != nil {
		return err
	}
	r.rec.FiredAt = r.d.Clock.Now()
	_ = r.saveStep(StepFired)
	return nil
}
