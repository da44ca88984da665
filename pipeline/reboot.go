package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// bootID reads the kernel's boot ID through the view; "" when unreadable
// (not Linux, or a view without /proc): the reboot check is then skipped.
func (r *run) bootID() string {
	b, err := r.d.FS.ReadFile(r.o.BootIDPath)
	if err != nil {
		r.log.Debug("boot ID unreadable", "path", r.o.BootIDPath, "err", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// rebootedSince reports whether the host booted again since rec was begun:
// both boot IDs known and different.
func (r *run) rebootedSince(rec Record) bool {
	now := r.bootID()
	return rec.BootID != "" && now != "" && now != rec.BootID
}

// afterReboot decides a fired (or firing) run whose host rebooted since (a
// firing activation whose profile never moved, though the set would have
// moved it, never fired: Recover reports it abandoned instead,
// stoppedBeforeProfileSet): its
// unit, and any switch it ran, are gone with the old boot, so nothing is
// waited for; the links say what the host came up with. current-system the
// closure: degraded (it runs, the switch's status is unknown), except for a
// rollback not known to be fired (rebootedIntoRollbackTarget); otherwise a
// failure at PhaseReboot naming what it booted.
func (r *run) afterReboot(rec Record) Outcome {
	booted, _ := r.readBasename(r.o.BootedSystem)
	current, err := r.readBasename(r.o.CurrentSystem)
	report := SwitchReport{Unit: rec.Unit, State: UnitUnknown, ExitCode: UnknownExit()}
	r.log.Info("host rebooted since the run began", "booted", booted, "current", current)
	if err == nil && current == rec.Closure && rec.Op == OpRollback && rec.Step == StepFiring {
		return r.rebootedIntoRollbackTarget(rec, booted, report)
	}
	if err == nil && current == rec.Closure {
		kind := SettledDegraded
		if rec.Op == OpRollback {
			kind = RollbackDegraded
		}
		return Outcome{Kind: kind, Closure: rec.Closure, Booted: booted, Switch: &report,
			Reason: "host rebooted during the switch; switch status unknown"}
	}
	seen := "current-system is " + current
	if err != nil {
		seen = "current-system unreadable: " + err.Error()
	}
	return Outcome{Kind: r.failKind(rec.Op), Phase: PhaseReboot, Closure: rec.Closure, Booted: booted,
		LastObserved: current, ExitCode: UnknownExit(), Switch: &report,
		Reason: fmt.Sprintf("host rebooted during the switch and booted %s; %s, not the closure", orUnreadable(booted), seen)}
}

// rebootedIntoRollbackTarget decides a rollback whose record stopped at
// "firing" and whose host came up on the rollback's target after a reboot.
// The target is an earlier generation with its own boot entry, so booting
// it does not show that the rollback's switch ran (the unit, if any, went
// with the old boot): rollback-failed at PhaseReboot with the switch's
// status unknown, never a verdict on a switch that may not have run (the
// activate case, recover_reboot-while-firing, fails there too). The boot
// default may still be the closure rolled back from.
func (r *run) rebootedIntoRollbackTarget(rec Record, booted string, report SwitchReport) Outcome {
	return Outcome{Kind: RollbackFailed, Phase: PhaseReboot, Closure: rec.Closure, Booted: booted,
		LastObserved: rec.Closure, ExitCode: UnknownExit(), Switch: &report,
		Reason: fmt.Sprintf("host rebooted while the rollback was being fired and came up on %s, the rollback's target; "+
			"the fire was never confirmed and its unit went with the boot, so whether the rollback's switch ran "+
			"(and made it the boot default) is unknown: the boot default may still be %s",
			orUnreadable(booted), orUnreadable(rec.Previous))}
}

func orUnreadable(basename string) string {
	if basename == "" {
		return "(unreadable)"
	}
	return basename
}

// resumeDeadline is the end of a resumed run's budget: one budget after its
// fire (its start when no fire time was recorded), but never more than one
// budget from now: a fire time in the future means the wall clock stepped
// backwards since, and must not stretch the wait.
func (r *run) resumeDeadline(rec Record) time.Time {
	fired := rec.FiredAt
	if fired.IsZero() {
		fired = rec.StartedAt
	}
	now := r.d.Clock.Now()
	deadline := fired.Add(r.o.PollBudget)
	if limit := now.Add(r.o.PollBudget); deadline.After(limit) {
		r.log.Warn("recorded fire time is in the future (clock stepped back); waiting one budget from now",
			"fired_at", fired, "now", now)
		return limit
	}
	return deadline
}
