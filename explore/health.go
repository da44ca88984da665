package explore

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// HealthSpec is new's health check and the run's confirmation (issue 18).
// The zero value: no check, no confirmation asked (the baseline).
type HealthSpec struct {
	// Check is new's one check "web" (nil: none).
	Check *sim.Check
	// ConfirmWithin, when > 0, is the run's --confirm-within.
	ConfirmWithin time.Duration
	// ConfirmAt, when > 0, is when `confirm` comes (host time).
	ConfirmAt time.Duration
}

// unhealthy reports whether the spec makes new unhealthy whatever else
// happens: its check fails, or the confirmation is asked for and never
// comes in time.
func (h HealthSpec) unhealthy() bool {
	failing := h.Check != nil && (h.Check.Hang || h.Check.Exit != 0 || h.Check.Signal != 0)
	return failing || (h.ConfirmWithin > 0 && h.ConfirmAt == 0)
}

// checkTimeout is the manifest timeout of the explorer's check.
const checkTimeout = 3 * time.Second

// healthFaults: a check that fails, hangs or is killed; a confirmation
// that never comes, or comes in time.
func healthFaults() []Fault {
	check := func(name string, c sim.Check) Fault {
		c.Name, c.Timeout = "web", checkTimeout
		if c.At == 0 {
			c.At = time.Second
		}
		return Fault{Name: "check=" + name, Group: "check", Point: "new's health check after the switch settles",
			ops: activateOnly, apply: func(s *Spec) { s.Health.Check = &c }}
	}
	confirm := func(name string, at time.Duration) Fault {
		return Fault{Name: "confirm=" + name, Group: "confirm", Point: "the confirmation of --confirm-within 10s",
			ops: activateOnly, apply: func(s *Spec) { s.Health.ConfirmWithin, s.Health.ConfirmAt = 10*time.Second, at }}
	}
	return []Fault{
		check("passes", sim.Check{}),
		check("fails", sim.Check{Exit: 1}),
		check("hangs", sim.Check{Hang: true}),
		check("killed", sim.Check{Signal: 9}),
		confirm("missing", 0),
		confirm("in-time", 12*time.Second),
	}
}

// checkArg renders the check as the scenario language's check= option.
func checkArg(c *sim.Check) string {
	if c == nil {
		return ""
	}
	arg := " check=" + c.Name
	switch {
	case c.Hang:
		arg += ":hang"
	case c.Signal != 0:
		arg += fmt.Sprintf(":signal=%d@%s", c.Signal, c.At)
	default:
		arg += fmt.Sprintf(":exit=%d@%s", c.Exit, c.At)
	}
	return arg + ":timeout=" + c.Timeout.String()
}

// confirmStep schedules the controller's `confirm`.
func (s Spec) confirmStep() []step {
	if s.Health.ConfirmAt <= 0 {
		return nil
	}
	return []step{scheduled(s.Health.ConfirmAt, "confirm", func(h *sim.Host) error {
		_, err := pipeline.Confirm(pipeline.Deps{Journal: fileJournal(h), Confirm: confirmStore(h), Clock: h.Clock()})
		if err == pipeline.ErrNothingToConfirm {
			return nil
		}
		return err
	})}
}

// confirmStore is the agent's confirmation file, next to its journal.
func confirmStore(h *sim.Host) pipeline.FileConfirm {
	return pipeline.FileConfirm{FS: h.FS(), Dir: pipeline.DefaultStateDir}
}

// runOptions are the pipeline options of the spec's runs.
func (s Spec) runOptions() pipeline.Options {
	o := options()
	o.ConfirmWithin = s.Health.ConfirmWithin
	return o
}

// healthTime is the time an outcome spent in its health step and the
// rollback of an unhealthy closure (both come after the switch's decision).
func healthTime(o *pipeline.Outcome) time.Duration {
	if o.Health == nil {
		return 0
	}
	return time.Duration(o.Health.ElapsedMS+o.Health.RollbackMS) * time.Millisecond
}

// healthUnit reports a unit the health step starts: a check, or the
// rollback of an unhealthy closure.
func healthUnit(name string, healthRollback bool) bool {
	return strings.HasPrefix(name, pipeline.DefaultCheckUnitPrefix) ||
		(healthRollback && name == pipeline.DefaultRollbackUnit+".service")
}

// healthRolledBack reports whether an outcome of the run found new
// unhealthy (so the rollback unit may have been started for it).
func (r *Run) healthRolledBack() bool {
	for _, o := range r.outcomes() {
		if o.out.Health != nil && len(o.out.Health.Failed) > 0 {
			return true
		}
	}
	return false
}

// checkUnhealthyNeverSettled: an activation whose closure is unhealthy
// (a failing check, a confirmation that never came) never ends settled or
// settled-degraded; rolled-back only when current-system is old again.
func checkUnhealthyNeverSettled(r *Run) []string {
	var out []string
	final := r.final()
	if final == nil {
		return nil
	}
	if r.Spec.Health.unhealthy() && (final.Kind == pipeline.Settled || final.Kind == pipeline.SettledDegraded) {
		out = append(out, fmt.Sprintf("unhealthy closure ended %s", final.Kind))
	}
	if final.Kind == pipeline.RolledBack && r.end.current != oldSys {
		out = append(out, "rolled-back while current-system is "+r.end.current)
	}
	return out
}

// healthFire reports a systemd-run of the health step: a check, or the
// rollback of an unhealthy closure.
func healthFire(argv []string, healthRollback bool) bool {
	if !isCmd(argv, "systemd-run") {
		return false
	}
	for _, a := range argv {
		if unit, ok := strings.CutPrefix(a, "--unit="); ok {
			return healthUnit(unit+".service", healthRollback)
		}
	}
	return false
}
