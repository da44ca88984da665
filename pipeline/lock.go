package pipeline

import (
	"context"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
)

// LockDiagnoser is implemented by a Backend that can say who holds a held
// switch lock (backends/real over /proc). It is optional: the pipeline
// asks only when the probe found the lock held, and a Backend without it,
// or a diagnosis that fails, leaves the skipped outcome as it was.
type LockDiagnoser interface {
	// DiagnoseLock reads who holds the lock file at path; ownUnits are this
	// agent's switch and rollback units. Errors: the holders are unknown.
	DiagnoseLock(ctx context.Context, path string, ownUnits []string) (*lockdiag.Diagnosis, error)
}

// explainLock adds the lock's holders and the first holder's hint to a
// skipped lock-probe outcome, when the Backend can diagnose.
func (r *run) explainLock(ctx context.Context, out *Outcome) {
	ld, ok := r.d.Backend.(LockDiagnoser)
	if !ok {
		return
	}
	d, err := ld.DiagnoseLock(ctx, r.o.LockPath, []string{r.o.SwitchUnit, r.o.RollbackUnit})
	if err != nil {
		r.log.Warn("switch lock holders unknown", "lock", r.o.LockPath, "err", err)
		return
	}
	for _, h := range d.Holders {
		r.log.Info("switch lock holder", "pid", h.PID, "comm", h.Comm, "kind", h.Kind, "unit", h.Unit, "hint", h.Hint)
	}
	if len(d.Holders) == 0 {
		return
	}
	out.LockHolders = d.Holders
	out.Reason = LockReason(r.o.LockPath, d)
}

// LockReason is the reason of a skipped lock-probe outcome with a
// diagnosis: the first holder's hint after who holds the lock.
func LockReason(lockPath string, d *lockdiag.Diagnosis) string {
	if len(d.Holders) == 0 {
		return "another switch-to-configuration holds " + lockPath
	}
	who := "the switch lock " + lockPath + " is held"
	if d.Kind == lockdiag.KindSwitch {
		who = "another switch-to-configuration holds " + lockPath
	}
	return who + ": " + d.Holders[0].Hint
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
