package pipeline

import "context"

// firePlan is the fire an activation will issue, decided before it changes
// anything: the action, the components that forced a deferral to the next
// boot (empty: a live switch), and current-system before the switch.
type firePlan struct {
	req        FireRequest
	components []string
	previous   string
}

// phase is the phase a failure of this plan's fire is reported at.
func (p firePlan) phase() Phase {
	if p.req.Action == ActionBoot {
		return PhaseDeferBootloader
	}
	return PhaseSystemdRunFire
}

// planFire reads the pre-switch current-system and decides the action: a
// live switch, or switch-to-configuration boot when a critical component
// changes (or when the host already runs the closure: the boot entry
// refresh). An unreadable current-system fails here, before any change.
func (r *run) planFire(ctx context.Context, closure string) (firePlan, *Outcome) {
	req := FireRequest{Unit: r.o.SwitchUnit, Closure: r.storePath(closure), Action: ActionSwitch}
	if r.alreadyRunning {
		req.Action = ActionBoot
		return firePlan{req: req, previous: closure}, nil
	}
	previous, err := r.readBasename(r.o.CurrentSystem)
	if err != nil {
		if ctx.Err() != nil {
			out := interrupted(PhaseReadCurrent, closure, ctx)
			return firePlan{}, &out
		}
		return firePlan{}, &Outcome{Kind: SwitchFailed, Phase: PhaseReadCurrent, Closure: closure,
			Reason: "nothing changed: " + err.Error()}
	}
	r.log.Info("pre-switch current-system", "previous", previous)
	plan := firePlan{req: req, previous: previous, components: r.changedComponents(previous, closure)}
	if len(plan.components) > 0 {
		plan.req.Action = ActionBoot
	}
	return plan, nil
}

// releaseFor frees the plan's unit name (Backend.ReleaseUnit) before the
// first record: a busy unit skips the run with nothing changed.
func (r *run) releaseFor(ctx context.Context, plan firePlan, closure string) *Outcome {
	err := r.d.Backend.ReleaseUnit(ctx, plan.req.Unit)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		out := interrupted(plan.phase(), closure, ctx)
		return &out
	}
	out := r.fireFailed(err, SwitchFailed, plan.phase(), closure)
	out.Components = plan.components
	return &out
}

// firingRecord is the activation's in-flight record at its first write:
// the unit name is released and the fire is planned. Everything recovery
// needs to follow the fire is in it (the unit, the action, the components,
// the previous closure, AlreadyRunning: a boot action of a running closure
// is a refresh, not a deferral); the profile's new generation reaches the
// disk with "fired".
func (r *run) firingRecord(closure string, plan firePlan) Record {
	rec := r.newRecord(OpActivate, closure, plan.req.Unit)
	rec.Action, rec.Components, rec.Previous = plan.req.Action, plan.components, plan.previous
	rec.AlreadyRunning = r.alreadyRunning
	return rec
}
