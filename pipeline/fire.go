package pipeline

import (
	"context"
	"errors"
)

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
	return r.fireNow(ctx, req)
}

// fireNow fires req, whose unit name was released and whose "firing" step
// is recorded, and records the fire time (the poll deadline counts from
// it) in the "fired" step.
func (r *run) fireNow(ctx context.Context, req FireRequest) error {
	if err := r.d.Backend.Fire(ctx, req); err != nil {
		return err
	}
	r.rec.FiredAt = r.d.Clock.Now()
	_ = r.saveStep(StepFired)
	return nil
}
