package pipeline

import (
	"context"
	"path"
)

// Component is a part of a NixOS system closure that switch-to-configuration
// cannot replace in a running system.
type Component struct {
	// Name is reported in the outcome ("kernel", "systemd", ...).
	Name string
	// Paths are candidate paths inside the closure, tried in order; the
	// first that exists on either side is compared by its canonicalised
	// link target.
	Paths []string
	// Boot marks components that only change by booting (the running kernel
	// is the booted one), compared with /run/booted-system for
	// reboot_pending.
	Boot bool
}

// CriticalComponents follows the NixOS system closure layout (nixos/modules/
// system/activation/top-level.nix): kernel, initrd and kernel-modules links
// at the top; systemd as the top-level "systemd" link (older closures and
// test closures: sw/lib/systemd/systemd); dbus through its unit file.
var CriticalComponents = []Component{
	{Name: "kernel", Paths: []string{"kernel"}, Boot: true},
	{Name: "initrd", Paths: []string{"initrd"}, Boot: true},
	{Name: "kernel-modules", Paths: []string{"kernel-modules"}, Boot: true},
	{Name: "systemd", Paths: []string{"systemd", "sw/lib/systemd/systemd"}},
	{Name: "dbus", Paths: []string{"etc/systemd/system/dbus.service"}},
}

// changedComponents compares the closure with the current system (what a
// live switch would change) and names the components that differ. A
// component that cannot be read on one side counts as changed: booting is
// the safe choice when in doubt.
func (r *run) changedComponents(current, closure string) []string {
	var changed []string
	for _, c := range CriticalComponents {
		if !r.sameComponent(c, r.storePath(current), r.storePath(closure)) {
			changed = append(changed, c.Name)
		}
	}
	return changed
}

// rebootPending reports whether the booted system's kernel, initrd or kernel
// modules differ from closure's: a kernel switched live earlier is still not
// the running one. False when /run/booted-system cannot be read.
func (r *run) rebootPending(closure string) bool {
	booted, err := r.d.FS.EvalSymlinks(r.o.BootedSystem)
	if err != nil {
		r.log.Debug("booted-system unreadable", "err", err)
		return false
	}
	for _, c := range CriticalComponents {
		if c.Boot && !r.sameComponent(c, booted, r.storePath(closure)) {
			return true
		}
	}
	return false
}

// sameComponent compares one component of two closures (store paths).
func (r *run) sameComponent(c Component, a, b string) bool {
	for _, p := range c.Paths {
		ta, errA := r.d.FS.EvalSymlinks(path.Join(a, p))
		tb, errB := r.d.FS.EvalSymlinks(path.Join(b, p))
		switch {
		case isNotExist(errA) && isNotExist(errB):
			continue // neither has this candidate: try the next
		case errA != nil || errB != nil:
			return false
		default:
			return ta == tb
		}
	}
	return true
}

// deferToBoot runs switch-to-configuration boot and waits for it: the new
// closure becomes the boot default and the running system is untouched.
func (r *run) deferToBoot(ctx context.Context, closure string, plan firePlan) Outcome {
	changed := plan.components
	r.log.Info("critical components change; deferring to next boot", "components", changed, "unit", plan.req.Unit)
	if err := r.fireNow(ctx, plan.req); err != nil {
		if ctx.Err() != nil {
			return interrupted(PhaseDeferBootloader, closure, ctx)
		}
		out := r.fireFailed(err, SwitchFailed, PhaseDeferBootloader, closure)
		out.Components = changed
		return out
	}
	return r.awaitBoot(ctx, r.firedWatch(closure, "", plan.req.Unit), changed)
}

// awaitBoot waits for a fired boot action's exit status, reading the unit
// every PollInterval (a failed read is retried sooner), so its end is
// decided within one interval.
func (r *run) awaitBoot(ctx context.Context, w watch, changed []string) Outcome {
	report, ok := r.waitUnit(ctx, w, newUnitReader(w))
	if !ok {
		return interrupted(PhaseDeferBootloader, w.expected, ctx)
	}
	if !report.ExitedCleanly() {
		reason := "switch-to-configuration boot did not exit 0"
		if report.ExitCode.Known && ExecSetupFailed(report.ExitCode.Code) {
			reason = "switch-to-configuration could not be executed"
		}
		return Outcome{Kind: SwitchFailed, Phase: PhaseDeferBootloader, Closure: w.expected, Components: changed,
			ExitCode: report.ExitCode, Switch: &report, Reason: reason}
	}
	return Outcome{Kind: DeferredPendingReboot, Phase: PhaseDeferBootloader, Closure: w.expected, Components: changed,
		Switch: &report, RebootPending: true}
}
