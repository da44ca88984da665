package real

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

var _ pipeline.LockDiagnoser = (*Backend)(nil)

// DiagnoseLock says who holds the switch lock at path (lockdiag.Diagnose
// over Config.LockDiag: the real /proc by default). ctx is unused: the
// diagnosis only reads files. Errors: the lock file or /proc/locks
// cannot be read.
func (b *Backend) DiagnoseLock(_ context.Context, path string, ownUnits []string) (*lockdiag.Diagnosis, error) {
	return lockdiag.Diagnose(b.cfg.LockDiag, path, ownUnits)
}

// UnblockRequest is what `nixfleet-activate unblock` asks.
type UnblockRequest struct {
	// Lock is the switch lock's path; OwnUnits this agent's switch and
	// rollback units.
	Lock     string
	OwnUnits []string
	// StopOwnUnit allows stopping an own-unit holder's unit that has held
	// the lock longer than OlderThan (a duration; 0 refuses every stop).
	StopOwnUnit bool
	OlderThan   time.Duration
}

// UnblockReport is unblock's JSON outcome.
type UnblockReport struct {
	// Outcome is "lock-free" (nothing held it), "lock-held" (diagnosed,
	// nothing stopped), "own-unit-stopped" (the lock was free after the
	// stop) or "own-unit-stopped-still-held".
	Outcome string `json:"outcome"`
	// Lock is the diagnosis before anything was done.
	Lock *lockdiag.Diagnosis `json:"lock"`
	// Stopped lists the units stopped (`systemctl stop UNIT`); only this
	// agent's own units are ever stopped, and no process is signalled
	// directly.
	Stopped []string `json:"stopped,omitempty"`
	// After is the diagnosis after a stop.
	After *lockdiag.Diagnosis `json:"after,omitempty"`
	// Reason says why nothing was stopped, when it was asked.
	Reason string `json:"reason,omitempty"`
}

// Unblock diagnoses the switch lock and, when asked, stops this agent's own
// unit holding it for longer than req.OlderThan: the only thing it ever
// stops. Errors: the diagnosis failed, or systemctl stop did
// (*pipeline.CommandError); the report says what was done before.
func (b *Backend) Unblock(ctx context.Context, req UnblockRequest) (UnblockReport, error) {
	d, err := b.DiagnoseLock(ctx, req.Lock, req.OwnUnits)
	if err != nil {
		return UnblockReport{Outcome: "lock-unknown"}, err
	}
	rep := UnblockReport{Outcome: "lock-held", Lock: d}
	if !d.Held {
		rep.Outcome = "lock-free"
		return rep, nil
	}
	if !req.StopOwnUnit {
		return rep, nil
	}
	units, why := stoppable(d, req.OlderThan)
	if len(units) == 0 {
		rep.Reason = why
		return rep, nil
	}
	for _, u := range units {
		if _, err := b.runChecked(ctx, b.StopCmd(strings.TrimSuffix(u, ".service"))); err != nil {
			return rep, err
		}
		rep.Stopped = append(rep.Stopped, u)
	}
	rep.After, err = b.DiagnoseLock(ctx, req.Lock, req.OwnUnits)
	rep.Outcome = "own-unit-stopped"
	if err == nil && rep.After.Held {
		rep.Outcome = "own-unit-stopped-still-held"
	}
	return rep, err
}

// stoppable lists the own units among the holders that have held the lock
// longer than olderThan, or says why there is none.
func stoppable(d *lockdiag.Diagnosis, olderThan time.Duration) ([]string, string) {
	var units []string
	why := "no holder runs in this agent's own unit"
	for _, h := range d.Holders {
		switch {
		case h.Kind != lockdiag.KindOwnUnit:
		case h.HeldForS == nil:
			why = fmt.Sprintf("own unit %s: its age is unknown, not stopped", h.Unit)
		case time.Duration(*h.HeldForS)*time.Second <= olderThan:
			why = fmt.Sprintf("own unit %s has held the lock %s, not longer than %s: not stopped",
				h.Unit, time.Duration(*h.HeldForS)*time.Second, olderThan)
		case !slices.Contains(units, h.Unit):
			units = append(units, h.Unit)
		}
	}
	return units, why
}
