package pipeline

import (
	"context"
	"slices"
	"strings"
	"time"
)

// DefaultProgressInterval is the default time between progress lines of a
// long wait.
const DefaultProgressInterval = 10 * time.Second

// progress paces the progress lines of one wait.
type progress struct {
	// next is when the next line is due; zero before the wait's first.
	next time.Time
}

// waitProgress logs one progress line when one is due: what the run waits
// for, the time since the wait began (deadline minus the budget) out of the
// budget, and the unit's state. The first line is due one
// ProgressInterval into the wait.
func (r *run) waitProgress(what string, w watch, report SwitchReport) {
	now := r.d.Clock.Now()
	began := w.deadline.Add(-r.o.PollBudget)
	if r.progress.next.IsZero() {
		r.progress.next = began.Add(r.o.ProgressInterval)
	}
	if now.Before(r.progress.next) {
		return
	}
	for !now.Before(r.progress.next) {
		r.progress.next = r.progress.next.Add(r.o.ProgressInterval)
	}
	r.log.Info("waiting for "+what, "elapsed", now.Sub(began).Round(time.Second).String(),
		"budget", r.o.PollBudget.String(), "unit", report.Unit, "unit_state", report.State)
}

// FailedUnitsLister is an optional part of a Backend (a type assertion, so
// backends and fakes without it still fit): the units systemd lists as failed (`systemctl list-units --state=failed`, systemd 252),
// full names such as "foo.service". An error means the list could not be
// read.
type FailedUnitsLister interface {
	FailedUnits(ctx context.Context) ([]string, error)
}

// noteFailedUnits names the failed units of a switch that exited 4
// (SwitchExitUnitsFailed) in the outcome, when the backend can list them;
// a failed read becomes a warning, never a verdict.
func (r *run) noteFailedUnits(ctx context.Context, out *Outcome) {
	lister, ok := r.d.Backend.(FailedUnitsLister)
	if !ok || out.Switch == nil || out.Switch.ExitCode == nil || !out.Switch.ExitCode.Known ||
		out.Switch.ExitCode.Code != SwitchExitUnitsFailed {
		return
	}
	units, err := lister.FailedUnits(ctx)
	if err != nil {
		r.warnings = append(r.warnings, "failed units not listed: "+err.Error())
		return
	}
	own := out.Switch.Unit + ".service"
	units = slices.DeleteFunc(units, func(u string) bool { return u == own }) // the switch is reported apart
	out.FailedUnits = units
	if len(units) > 0 {
		r.log.Warn("units failed", "units", strings.Join(units, " "), "see", JournalctlHint(units))
	}
}
