package pipeline

import (
	"context"
	"time"
)

// watch is what a poll follows: the link should move from previous to
// expected, and unit runs the switch.
type watch struct {
	expected, previous, unit string
	// deadline ends the poll budget (fire time + PollBudget).
	deadline time.Time
	// readFirst reads the link before the first wait (a resumed run may
	// already be past its deadline).
	readFirst bool
}

// verdicts maps poll results to the kinds and phases of one mode (activate
// or rollback).
type verdicts struct {
	clean, degraded, failed, mismatch Kind
	timeout, verify, exit, poll, wait Phase
}

var activateVerdicts = verdicts{
	clean: Settled, degraded: SettledDegraded, failed: SwitchFailed, mismatch: VerifyMismatch,
	timeout: PhaseSwitchPollTimeout, verify: PhaseVerify, exit: PhaseSwitchExit,
	poll: PhaseSwitchPoll, wait: PhaseSwitchWait,
}

var rollbackVerdicts = verdicts{
	clean: RollbackSucceeded, degraded: RollbackDegraded, failed: RollbackFailed, mismatch: RollbackFailed,
	timeout: PhaseRollbackPoll, verify: PhaseRollbackVerify, exit: PhaseRollbackExit,
	poll: PhaseSwitchPoll, wait: PhaseSwitchWait,
}

// follow polls the link until it settles, waits for the unit's exit
// status, runs beforeVerify (nil: nothing), and verifies the link again.
func (r *run) follow(ctx context.Context, w watch, v verdicts, beforeVerify func()) Outcome {
	if out := r.pollLink(ctx, w, v); out != nil {
		return *out
	}
	report, ok := r.waitUnit(ctx, w)
	if !ok {
		out := interrupted(v.wait, w.expected, ctx)
		out.Switch = &report
		return out
	}
	if beforeVerify != nil {
		beforeVerify()
	}
	return r.settledVerdict(w, report, v)
}

// sleep waits d on the clock; false when ctx ended first.
func (r *run) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-r.d.Clock.After(d):
		return ctx.Err() == nil
	}
}

// pollLink reads /run/current-system every PollInterval until it shows the
// expected closure (nil: settled), a third closure, or the deadline passes.
// A read error mid-switch is not fatal: the activation script replaces the
// link and it may be briefly absent.
func (r *run) pollLink(ctx context.Context, w watch, v verdicts) *Outcome {
	var last string
	var lastErr error
	for first := true; ; first = false {
		if !(first && w.readFirst) && !r.sleep(ctx, r.o.PollInterval) {
			out := interrupted(v.poll, w.expected, ctx)
			return &out
		}
		last, lastErr = r.readBasename(r.o.CurrentSystem)
		switch {
		case lastErr != nil:
			r.log.Debug("current-system unreadable mid-switch", "err", lastErr)
		case last == w.expected:
			r.log.Info("current-system settled", "closure", last)
			return nil
		case last != w.previous:
			return &Outcome{Kind: v.mismatch, Phase: v.verify, Closure: w.expected, Expected: w.expected, Actual: last,
				Reason: "current-system became a third closure"}
		}
		if !r.d.Clock.Now().Before(w.deadline) {
			return r.pollTimeout(ctx, w, v, last, lastErr)
		}
	}
}

// pollTimeout reports a spent budget with the unit's true status.
func (r *run) pollTimeout(ctx context.Context, w watch, v verdicts, last string, lastErr error) *Outcome {
	report := r.unitReport(ctx, w.unit)
	out := &Outcome{Kind: v.failed, Phase: v.timeout, Closure: w.expected, LastObserved: last,
		ExitCode: report.ExitCode, Switch: &report,
		Reason: "current-system did not become the expected closure within the poll budget"}
	if lastErr != nil {
		out.Reason += "; last read failed: " + lastErr.Error()
	}
	return out
}

// unitReport reads the unit once; an error reads as unknown.
func (r *run) unitReport(ctx context.Context, unit string) SwitchReport {
	st, err := r.d.Backend.UnitStatus(ctx, unit)
	if err != nil {
		r.log.Warn("unit status unreadable", "unit", unit, "err", err)
		return SwitchReport{Unit: unit, State: UnitUnknown, ExitCode: UnknownExit()}
	}
	return ReportUnit(unit, st)
}

// ReportUnit turns a unit's status into its wire form: an exit code only
// when ExecMainStatus is known, else null.
func ReportUnit(unit string, st UnitStatus) SwitchReport {
	report := SwitchReport{Unit: unit, State: st.State, Result: st.Result, ExitCode: UnknownExit(), Signal: st.Signal}
	if st.ExitCode != nil {
		report.ExitCode = KnownExit(*st.ExitCode)
	}
	if report.State == "" {
		report.State = UnitUnknown
	}
	return report
}

// waitUnit reads the unit until its main process has exited, its status is
// unknown, or the deadline passes (then State is still "running").
func (r *run) waitUnit(ctx context.Context, w watch) (SwitchReport, bool) {
	for {
		report := r.unitReport(ctx, w.unit)
		if report.State != UnitRunning || !r.d.Clock.Now().Before(w.deadline) {
			return report, true
		}
		if !r.sleep(ctx, r.o.PollInterval) {
			return report, false
		}
	}
}

// settledVerdict turns the unit's report into the final outcome, after one
// last check that the link still shows the expected closure.
func (r *run) settledVerdict(w watch, report SwitchReport, v verdicts) Outcome {
	// LOADBEARING: re-read last: success is only ever reported for the link as it is now.
	now, err := r.readBasename(r.o.CurrentSystem)
	if err != nil || now != w.expected {
		reason := "current-system moved off the expected closure after settling"
		if err != nil {
			reason = "current-system unreadable at final verification: " + err.Error()
		}
		return Outcome{Kind: v.mismatch, Phase: v.verify, Closure: w.expected, Expected: w.expected, Actual: now,
			Switch: &report, Reason: reason}
	}
	out := Outcome{Closure: w.expected, Switch: &report}
	switch {
	case report.State == UnitExited && report.ExitCode.Known && report.ExitCode.Code == 0:
		out.Kind = v.clean
	case report.State == UnitExited && report.ExitCode.Known && report.ExitCode.Code == SwitchExitUnitsFailed:
		out.Kind, out.Reason = v.degraded, "switched, but some units failed (switch-to-configuration exit 4)"
	case report.State == UnitExited:
		out.Kind, out.Phase, out.ExitCode = v.failed, v.exit, report.ExitCode
		out.Reason = "switch-to-configuration failed after current-system settled"
	case report.State == UnitRunning:
		out.Kind, out.Reason = v.degraded, "switch-to-configuration still running when the poll budget ran out"
	default:
		out.Kind, out.Reason = v.degraded, "switch-to-configuration's exit status is unknown"
	}
	return out
}

// SwitchExitUnitsFailed is switch-to-configuration's exit status when the
// new configuration is active but some units failed to start (NixOS
// switch-to-configuration, all releases since 2013).
const SwitchExitUnitsFailed = 4
