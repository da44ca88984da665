package pipeline

import (
	"context"
	"fmt"
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
	// firedAt is when this run fired the unit (zero: not this run, as in a
	// recovery): the first round is due one interval after it, so the
	// bookkeeping between the fire and the first wait (the "fired" record)
	// comes out of that wait, as later reads come out of theirs.
	firedAt time.Time
}

// firedWatch is the watch of the unit this run has just fired
// (r.rec.FiredAt): its budget and its first round count from the fire.
func (r *run) firedWatch(expected, previous, unit string) watch {
	return watch{expected: expected, previous: previous, unit: unit,
		deadline: r.rec.FiredAt.Add(r.o.PollBudget), firedAt: r.rec.FiredAt}
}

// newUnitReader reads w's unit on a cadence that starts at the fire when w
// knows it (watch.firedAt), else at the first wait.
func newUnitReader(w watch) *unitReader {
	// GOTCHA: Round(0): the cadence is kept on the wall clock (unitReader.wait).
	return &unitReader{unit: w.unit, due: w.firedAt.Round(0)}
}

// verdicts maps poll results to the kinds and phases of one mode (activate
// or rollback).
type verdicts struct {
	clean, degraded, failed, mismatch Kind
	timeout, verify, exit, poll, wait Phase
	// fire is the phase a unit whose program never executed is reported at
	// (as the fire's own failure).
	fire Phase
}

var activateVerdicts = verdicts{
	clean: Settled, degraded: SettledDegraded, failed: SwitchFailed, mismatch: VerifyMismatch,
	timeout: PhaseSwitchPollTimeout, verify: PhaseVerify, exit: PhaseSwitchExit,
	poll: PhaseSwitchPoll, wait: PhaseSwitchWait, fire: PhaseSystemdRunFire,
}

var rollbackVerdicts = verdicts{
	clean: RollbackSucceeded, degraded: RollbackDegraded, failed: RollbackFailed, mismatch: RollbackFailed,
	timeout: PhaseRollbackPoll, verify: PhaseRollbackVerify, exit: PhaseRollbackExit,
	poll: PhaseSwitchPoll, wait: PhaseSwitchWait, fire: PhaseRollbackFire,
}

// follow polls the link and the unit until the link settles (or the unit
// ends without it), waits for the unit's exit status, runs beforeVerify
// (nil: nothing), and verifies the link again.
//
// With Deps.Events, one event watch spans both waits: each wakes on a
// change at once and reads at the latest one PollInterval after the last.
func (r *run) follow(ctx context.Context, w watch, v verdicts, beforeVerify func()) Outcome {
	stop, started := r.watchEvents(ctx, w.unit)
	defer stop()
	w.readFirst = w.readFirst || started
	u := newUnitReader(w)
	if out := r.pollLink(ctx, w, v, u); out != nil {
		return *out
	}
	report, ok := r.waitUnit(ctx, w, u)
	if !ok {
		out := interrupted(v.wait, w.expected, ctx)
		out.Switch = &report
		return out
	}
	if beforeVerify != nil {
		beforeVerify()
	}
	out := r.settledVerdict(w, report, v)
	r.noteFailedUnits(ctx, &out)
	return out
}

// sleep waits d on the clock, or less when an event watch reports a change
// (a change already pending ends it at once); false when ctx ended first.
func (r *run) sleep(ctx context.Context, d time.Duration) bool {
	r.onEvent = false
	if r.takeChange() {
		r.onEvent = true
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-r.d.Clock.After(d):
	case <-r.changes:
		r.onEvent = true
	}
	// LOADBEARING: drain before the read that follows: that read sees every change notified so far, and a simulated wake fills both channels at once.
	if r.takeChange() {
		r.onEvent = true
	}
	return ctx.Err() == nil
}

// pollLink reads the switch's unit, then /run/current-system, every
// PollInterval until the link shows the expected closure (nil: settled), a
// third closure, the unit has ended without the flip, or the deadline
// passes. A link read error mid-switch is not fatal: the activation script
// replaces the link and it may be briefly absent. A failed unit read is
// retried sooner (unitReader.wait).
func (r *run) pollLink(ctx context.Context, w watch, v verdicts, u *unitReader) *Outcome {
	for first := true; ; first = false {
		if !(first && w.readFirst) && !r.sleepRound(ctx, u, u.step(r.o.PollInterval), r.d.Clock.Now(), w.deadline) {
			out := interrupted(v.poll, w.expected, ctx)
			return &out
		}
		if r.flipSeen(w) {
			return nil
		}
		// LOADBEARING: unit before link: a switch flips the link and then exits, so a link read after an exit sees any flip.
		report, readOK := r.readUnit(ctx, u)
		last, lastErr := r.readBasename(r.o.CurrentSystem)
		switch {
		case lastErr == nil && last == w.expected:
			r.log.Info("current-system settled", "closure", last)
			u.keepExited(report, readOK)
			return nil
		case lastErr == nil && last != w.previous:
			return &Outcome{Kind: v.mismatch, Phase: v.verify, Closure: w.expected, Expected: w.expected, Actual: last,
				Switch: &report, Reason: "current-system became a third closure"}
		case lastErr != nil:
			r.log.Debug("current-system unreadable mid-switch", "err", lastErr)
		}
		if readOK && report.State == UnitExited {
			return r.endedWithoutFlip(w, v, report, last, lastErr)
		}
		if !r.d.Clock.Now().Before(w.deadline) {
			return r.pollTimeout(w, v, u, report, last, lastErr)
		}
		r.waitProgress("current-system to become "+w.expected, w, report)
	}
}

// endedWithoutFlip decides a unit that has ended while current-system is
// not the expected closure: its program never executed (an exec setup
// failure: the fire's failure), it failed (exit status or signal), or it
// exited 0 without switching (a mismatch).
func (r *run) endedWithoutFlip(w watch, v verdicts, report SwitchReport, last string, lastErr error) *Outcome {
	out := &Outcome{Closure: w.expected, LastObserved: last, Switch: &report, ExitCode: report.ExitCode}
	seen := "current-system is " + last
	if lastErr != nil {
		seen = "current-system unreadable: " + lastErr.Error()
	}
	r.log.Info("unit ended without the flip", "unit", w.unit, "exit", report.ExitCode, "signal", report.Signal)
	switch {
	case report.ExitCode.Known && ExecSetupFailed(report.ExitCode.Code):
		out.Kind, out.Phase = v.failed, v.fire
		out.Reason = "switch-to-configuration could not be executed"
	case report.ExitCode.Known && report.ExitCode.Code == 0:
		out.Kind, out.Phase, out.Expected, out.Actual, out.ExitCode = v.mismatch, v.verify, w.expected, last, nil
		out.LastObserved = ""
		out.Reason = "switch-to-configuration exited 0 without switching: " + seen
	case report.Signal != nil:
		out.Kind, out.Phase = v.failed, v.exit
		out.Reason = fmt.Sprintf("switch-to-configuration was killed by signal %d before switching; %s", *report.Signal, seen)
	case report.ExitCode.Known:
		out.Kind, out.Phase = v.failed, v.exit
		out.Reason = fmt.Sprintf("switch-to-configuration exited %d before switching; %s", report.ExitCode.Code, seen)
	default:
		out.Kind, out.Phase = v.failed, v.exit
		out.Reason = "switch-to-configuration ended with an unknown status before switching; " + seen
	}
	return out
}

// pollTimeout reports a spent budget with the unit's last known status
// (still running, or unknown).
func (r *run) pollTimeout(w watch, v verdicts, u *unitReader, report SwitchReport, last string, lastErr error) *Outcome {
	out := &Outcome{Kind: v.failed, Phase: v.timeout, Closure: w.expected, LastObserved: last,
		ExitCode: report.ExitCode, Switch: &report,
		Reason: "current-system did not become the expected closure within the poll budget"}
	if lastErr != nil {
		out.Reason += "; last read failed: " + lastErr.Error()
	}
	if u.lastErr != nil {
		out.Reason += "; unit status unreadable: " + u.lastErr.Error()
	}
	return out
}

// unitReader follows one unit's status reads: a failed read is no verdict,
// only a reason to read again sooner.
type unitReader struct {
	unit string
	// failures counts consecutive failed reads; lastErr is the latest.
	failures int
	lastErr  error
	// reads counts the unit backoff's waits since backoffFrom (run.unitWait).
	reads       int
	backoffFrom time.Time
	// due is when the current round began (the end of the last sleep, as
	// chosen before it); zero before the first sleep and after one that an
	// event ended early (its end is unknown without a clock read).
	due time.Time
	// exited is the poll's last read when it showed the unit's main
	// process exited right before the link read that settled (nil
	// otherwise); waitUnit takes it instead of reading the unit again.
	exited *SwitchReport
}

// keepExited keeps report for waitUnit when the read succeeded and the
// unit's main process has exited: with --remain-after-exit that state and
// its ExecMainStatus are final, so a second `systemctl show` right after
// would only repeat it (and cost one process start in every poll-only run).
func (u *unitReader) keepExited(report SwitchReport, ok bool) {
	if ok && report.State == UnitExited {
		u.exited = &report
	}
}

// takeExited returns the report keepExited kept, once.
func (u *unitReader) takeExited() (SwitchReport, bool) {
	if u.exited == nil {
		return SwitchReport{}, false
	}
	report := *u.exited
	u.exited = nil
	return report, true
}

// retryFirst is the first retry's share of the poll interval after a failed
// status read; each further failure doubles it, up to the interval.
const retryFirst = 4

// step returns the time from one round's start to the next: the poll
// interval, or after failed status reads interval/4, interval/2, then the
// interval.
func (u *unitReader) step(interval time.Duration) time.Duration {
	if u.failures == 0 {
		return interval
	}
	return min(interval/retryFirst<<min(u.failures-1, 2), interval)
}

// wait returns the sleep before the next round on a fixed cadence: the
// round is due step after the last round began (u.due), so the time the
// reads took (a `systemctl show` costs 10-25 ms in the container) comes out
// of the wait instead of adding to it, and rounds stay step apart as the
// plain script's `sleep` loop would not (it drifts by the reads' cost too,
// but never reads earlier). now is the clock read before the sleep; the
// wait is never negative and never past deadline. Without a known round
// start (the first wait, or after an event's wake-up) it is step from now.
//
// Reads that outlast step (a failed read that hung 25 s on systemd's D-Bus
// timeout, a slow read on a loaded host) leave a wait of 0: the next round
// starts at once. Rounds still never begin closer than step, since one
// begins only when the previous one's reads have ended, so this is no busy
// loop; and a verdict waits on no extra retry delay after a read that has
// already taken longer than that delay.
//
// The round's start is kept on the wall clock: a wall-clock step (NTP, an
// operator's date) costs at most one read at once (forward) or one wait of
// step (backward, the cap), never a wait longer than step.
func (u *unitReader) wait(now time.Time, step time.Duration, deadline time.Time) time.Duration {
	// GOTCHA: Round(0) drops the monotonic reading: a transcript records wall-clock offsets (transcript.Recorder), so only wall-clock differences replay to the nanosecond.
	wall := now.Round(0)
	d := step
	if !u.due.IsZero() {
		d = min(u.due.Add(step).Sub(wall), step)
	}
	d = max(min(d, deadline.Sub(now)), 0)
	u.due = wall.Add(d)
	return d
}

// sleepRound sleeps until u's next round (unitReader.wait) and forgets the
// round's start when an event ended the sleep early; false when ctx ended.
func (r *run) sleepRound(ctx context.Context, u *unitReader, step time.Duration, now, deadline time.Time) bool {
	ok := r.sleep(ctx, u.wait(now, step, deadline))
	if r.onEvent {
		u.due = time.Time{}
	}
	return ok
}

// readUnit reads the unit once. ok is false when the read failed (the
// report then says unknown, and the reader counts the failure).
func (r *run) readUnit(ctx context.Context, u *unitReader) (report SwitchReport, ok bool) {
	st, err := r.d.Backend.UnitStatus(ctx, u.unit)
	if err != nil {
		u.failures, u.lastErr = u.failures+1, err
		r.log.Warn("unit status unreadable, reading again", "unit", u.unit, "failures", u.failures, "err", err)
		return SwitchReport{Unit: u.unit, State: UnitUnknown, ExitCode: UnknownExit()}, false
	}
	u.failures, u.lastErr = 0, nil
	return ReportUnit(u.unit, st), true
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

// waitUnit reads the unit until its main process has exited, it is not
// loaded (unknown), or the deadline passes (then State is still "running",
// or unknown when the last reads failed). Failed reads are retried within
// the budget. With Deps.Events it wakes on the unit's end, or reads on a
// short backoff when the watch does not report it (run.unitWait).
func (r *run) waitUnit(ctx context.Context, w watch, u *unitReader) (SwitchReport, bool) {
	if report, ok := u.takeExited(); ok {
		return report, true
	}
	stop, _ := r.watchEvents(ctx, w.unit)
	defer stop()
	for {
		report, ok := r.readUnit(ctx, u)
		if (ok && report.State != UnitRunning) || !r.d.Clock.Now().Before(w.deadline) {
			return report, true
		}
		r.waitProgress("unit "+w.unit+" to exit", w, report)
		now := r.d.Clock.Now()
		if !r.sleepRound(ctx, u, r.unitStep(u), now, w.deadline) {
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
	case report.ExitedCleanly():
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
