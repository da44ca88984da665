package pipeline

import (
	"errors"
	"fmt"
)

// noJournal is used when Deps.Journal is nil: nothing is recorded.
type noJournal struct{}

func (noJournal) Load() (*Record, error) { return nil, nil }
func (noJournal) Save(Record) error      { return nil }
func (noJournal) Clear() error           { return nil }

func (r *run) journal() Journal {
	if r.d.Journal == nil {
		return noJournal{}
	}
	return r.d.Journal
}

// beginRecord starts this run's in-flight record at step. It fails when the
// record cannot be written: nothing has changed on the host yet, and
// changing it without a record would make a crash unrecoverable.
func (r *run) beginRecord(rec Record, step Step) *Outcome {
	rec.PollIntervalMS, rec.PollBudgetMS = r.o.PollInterval.Milliseconds(), r.o.PollBudget.Milliseconds()
	rec.StartedAt, rec.BootID = r.start, r.bootID()
	rec.OnFailure, rec.RestoreUnit = r.o.OnFailure, r.o.RestoreUnit
	r.recordHealthOptions(&rec) // issue 18
	r.rec = &rec
	if err := r.saveStep(step); err != nil {
		r.rec = nil
		if bad := badEnvironment(err, rec.Closure); bad != nil { // hardening (issue 10)
			return bad
		}
		return &Outcome{Kind: r.failKind(rec.Op), Phase: PhaseJournal, Closure: rec.Closure,
			Reason: "cannot write the in-flight record, so nothing was changed: " + err.Error()}
	}
	return nil
}

func (r *run) failKind(op Op) Kind {
	if op == OpRollback {
		return RollbackFailed
	}
	return SwitchFailed
}

// saveStep records that the run passed step. After the first write a
// failure is a warning: stopping half-way would leave the host worse off.
func (r *run) saveStep(step Step) error {
	if r.rec == nil {
		return nil
	}
	r.rec.Step = step
	err := r.journal().Save(*r.rec)
	if err != nil {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: in-flight record at step %s: %v", PhaseJournal, step, err))
		r.log.Warn("in-flight record not written", "step", step, "err", err)
	}
	return err
}

// endRecord clears this run's record once out is final. An interrupted run
// keeps it: the next invocation recovers from it.
func (r *run) endRecord(out *Outcome) {
	if r.rec == nil || out.Kind == Interrupted {
		return
	}
	if err := r.journal().Clear(); err != nil {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s: clearing the in-flight record: %v", PhaseJournal, err))
	}
}

// unresolvedRecord returns Skipped when an earlier run's record is still
// there: a new run must not overwrite it (run Recover first). A corrupt
// record has been kept aside by the journal and does not block.
func (r *run) unresolvedRecord(closure string) *Outcome {
	rec, err := r.journal().Load()
	var corrupt *CorruptRecordError
	switch {
	case errors.As(err, &corrupt):
		r.warnings = append(r.warnings, corrupt.Error())
		return nil
	case badEnvironment(err, closure) != nil: // hardening (issue 10)
		return badEnvironment(err, closure)
	case err != nil:
		return &Outcome{Kind: Skipped, Phase: PhaseJournal, Closure: closure, Reason: "cannot read the in-flight record: " + err.Error()}
	case rec != nil:
		return &Outcome{Kind: Skipped, Phase: PhaseJournal, Closure: closure,
			Reason: fmt.Sprintf("an earlier %s of %q is unresolved (step %s); run recover first", rec.Op, rec.Closure, rec.Step)}
	}
	return nil
}

// newRecord starts an in-flight record with the profile as it is before
// the run changes it.
func (r *run) newRecord(op Op, closure, unit string) Record {
	prevProfile, _ := r.readBasename(r.o.Profile)
	return Record{Op: op, Closure: closure, Meta: r.meta, Unit: unit,
		PreviousProfile: prevProfile, PreviousGeneration: r.profileGeneration()}
}
