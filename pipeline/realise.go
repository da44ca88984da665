package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
)

// SwitchProgramRel is where a NixOS system closure holds its activation
// program (nixos/modules/system/activation/top-level.nix): the file every
// fire runs and the mark of a system closure.
const SwitchProgramRel = "bin/switch-to-configuration"

// realiseAndSet realises the closure under a GC root, checks that it is a
// NixOS system closure, plans the fire and releases its unit name, writes
// the in-flight record and points the profile at the closure. The GC root
// holds the closure from the realise until the profile does; it is removed
// once realiseAndSet is done, whatever the outcome (a killed agent leaves
// it, as a real process would).
func (r *run) realiseAndSet(ctx context.Context, closure string) (firePlan, int, *Outcome) {
	root := r.gcRoot(closure)
	plan, gen, out := r.realiseAndSetRooted(ctx, closure, r.storePath(closure), root)
	// LOADBEARING: the root goes only after the profile set: a GC in between would delete the realised closure.
	r.dropRoot(root)
	return plan, gen, out
}

func (r *run) realiseAndSetRooted(ctx context.Context, closure, storePath, root string) (firePlan, int, *Outcome) {
	// LOADBEARING: realise before the profile set: the profile must never point at an unrealised path.
	if out := r.realise(ctx, closure, storePath, root); out != nil {
		return firePlan{}, 0, out
	}
	// LOADBEARING: check before the record and the profile set: a refused closure changes nothing.
	if out := r.checkSystemClosure(closure, storePath); out != nil {
		return firePlan{}, 0, out
	}
	plan, out := r.planFire(ctx, closure)
	if out != nil {
		return firePlan{}, 0, out
	}
	// LOADBEARING: release before the record: from "firing" on, a loaded unit can only be this run's, which recovery relies on.
	if out := r.releaseFor(ctx, plan, closure); out != nil {
		return firePlan{}, 0, out
	}
	// LOADBEARING: one record, "firing", before the first change to the host (the profile set), so a crash from here on is recoverable.
	if out := r.beginRecord(r.firingRecord(closure, plan), StepFiring); out != nil {
		return firePlan{}, 0, out
	}
	// LOADBEARING: set the profile before the switch: the bootloader entry's generation comes from it.
	gen, out := r.setProfile(ctx, closure, storePath)
	return plan, gen, out
}

// checkSystemClosure returns InvalidClosure unless storePath holds an
// executable SwitchProgramRel: a regular file, or a link resolving to one,
// with an execute bit. A path that cannot be read is refused too (nothing
// has changed yet, so refusing is safe).
func (r *run) checkSystemClosure(closure, storePath string) *Outcome {
	prog := path.Join(storePath, SwitchProgramRel)
	info, err := r.d.FS.Stat(prog)
	var why string
	switch {
	case err != nil:
		why = "cannot use " + prog + ": " + err.Error()
	case !info.Mode().IsRegular():
		why = prog + " is not a regular file (" + info.Mode().String() + ")"
	case info.Mode().Perm()&0o111 == 0:
		why = prog + " is not executable (" + info.Mode().String() + ")"
	default:
		return nil
	}
	r.log.Warn("not a NixOS system closure", "closure", closure, "why", why)
	return &Outcome{Kind: InvalidClosure, Phase: PhaseClosureCheck, Closure: closure,
		Reason: "not a NixOS system closure, nothing changed: " + why}
}

// gcRoot is the GC root that holds closure between realise and profile set.
func (r *run) gcRoot(closure string) string { return path.Join(r.o.GCRootDir, closure) }

// dropRoot removes a GC root made by realise. A root that is not there
// (the realise failed before making it) is fine; any other failure is a
// warning (the root keeps the closure from GC until removed by hand).
func (r *run) dropRoot(root string) {
	err := r.d.FS.Remove(root)
	if err == nil || isNotExist(err) {
		return
	}
	r.log.Warn("GC root not removed", "root", root, "err", err)
	r.warnings = append(r.warnings, "GC root "+root+" not removed (it keeps the closure from garbage collection): "+err.Error())
}

// dropRecordRoot removes the GC root an activation killed between its
// realise and the end of its profile set left behind; once its outcome is
// worked out, the profile (or nothing) holds the closure.
func (r *run) dropRecordRoot(rec Record) {
	if rec.Op == OpActivate && rec.Closure != "" {
		r.dropRoot(r.gcRoot(rec.Closure))
	}
}

// dropStrayRoots removes the GC roots in dir when no in-flight record
// exists: a root lives only from a run's realise to its profile set, under
// the agent lock, so one found here was left by an agent killed between
// its realise and its first record write (nothing else changed then but
// the release of the unit name, an earlier run's ended unit; the root only
// kept the closure from garbage collection). Each removal is
// logged; a failure is logged too and left for the next run.
func dropStrayRoots(d Deps, dir string) {
	entries, err := d.FS.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return // GOTCHA: no directory yet is the common case, not an error
	}
	log := d.logger()
	for _, e := range entries {
		root := path.Join(dir, e.Name())
		if err := d.FS.Remove(root); err != nil && !isNotExist(err) {
			log.Warn("stray GC root not removed", "root", root, "err", err)
			continue
		}
		log.Info("removed a GC root left by a killed run (no in-flight record)", "root", root)
	}
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

// nixStoreRealise names the realise command in an outcome.
const nixStoreRealise = "nix-store --realise"
