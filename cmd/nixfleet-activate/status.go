package main

import (
	"context"
	"io"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// hostStatus is what `status` prints.
type hostStatus struct {
	CurrentSystem string                           `json:"current_system"`
	BootedSystem  string                           `json:"booted_system"`
	Profile       profileStatus                    `json:"profile"`
	Lock          string                           `json:"lock"` // free, held, unknown
	Units         map[string]pipeline.SwitchReport `json:"units"`
	// InFlight is the record of an unfinished run, if any.
	InFlight *pipeline.Record `json:"in_flight,omitempty"`
	Errors   []string         `json:"errors,omitempty"`
	// LockDiagnosis says who holds the lock, when it is held (issue 19).
	LockDiagnosis *lockdiag.Diagnosis `json:"lock_diagnosis,omitempty"`
}

type profileStatus struct {
	Path        string       `json:"path"`
	Closure     string       `json:"closure"`
	Generations []generation `json:"generations"`
}

type generation struct {
	Number  int    `json:"number"`
	Created string `json:"created"`
	Current bool   `json:"current"`
}

func (env *environment) status(ctx context.Context, stdout io.Writer) int {
	o := env.cfg.opts.WithDefaults()
	st := hostStatus{Units: map[string]pipeline.SwitchReport{}, Profile: profileStatus{Path: o.Profile, Generations: []generation{}}}
	note := func(err error) {
		if err != nil {
			st.Errors = append(st.Errors, err.Error())
		}
	}
	var err error
	st.CurrentSystem, err = linkBasename(env.deps.FS, o.CurrentSystem)
	note(err)
	st.BootedSystem, err = linkBasename(env.deps.FS, o.BootedSystem)
	note(err)
	st.Profile.Closure, err = linkBasename(env.deps.FS, o.Profile)
	note(err)
	gens, err := env.backend.ListGenerations(ctx, o.Profile)
	note(err)
	for _, g := range gens {
		st.Profile.Generations = append(st.Profile.Generations,
			generation{Number: g.Number, Created: g.Created.Format("2006-01-02T15:04:05"), Current: g.Current})
	}
	st.Lock = lockString(env.deps.Backend.SwitchLock(ctx, o.LockPath))
	if st.Lock == "held" {
		st.LockDiagnosis, err = env.backend.DiagnoseLock(ctx, o.LockPath, []string{o.SwitchUnit, o.RollbackUnit})
		note(err)
	}
	for _, unit := range []string{o.SwitchUnit, o.RollbackUnit} {
		us, err := env.deps.Backend.UnitStatus(ctx, unit)
		note(err)
		st.Units[unit] = pipeline.ReportUnit(unit, us)
	}
	st.InFlight, err = env.deps.Journal.Load()
	note(err)
	if err := printJSON(stdout, st); err != nil {
		return ExitInternal
	}
	return ExitSuccess
}

func linkBasename(v *fsview.View, link string) (string, error) {
	target, err := v.EvalSymlinks(link)
	if err != nil {
		return "", err
	}
	return fsview.Basename(target), nil
}

func lockString(state pipeline.LockState, err error) string {
	switch {
	case err != nil:
		return "unknown"
	case state == pipeline.LockHeld:
		return "held"
	}
	return "free"
}
