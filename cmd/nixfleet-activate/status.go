package main

import (
	"context"
	"io"
	"time"

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
	// LastActivation is the record of the last activation that reached
	// the host (pipeline/lastactivation.go), what rollback undoes.
	LastActivation *pipeline.LastActivation `json:"last_activation,omitempty"`
}

// unitNotLoaded is status's state for a unit systemd does not have loaded
// (LoadState=not-found: never started, or collected): a fact, where a run
// would say unknown because it cannot trust a status it expected.
const unitNotLoaded pipeline.UnitState = "not-loaded"

type profileStatus struct {
	Path        string       `json:"path"`
	Closure     string       `json:"closure"`
	Generations []generation `json:"generations"`
}

type generation struct {
	Number int `json:"number"`
	// Created is RFC 3339 with the host's zone offset (nix-env prints
	// local time).
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
			generation{Number: g.Number, Created: g.Created.Format(time.RFC3339), Current: g.Current})
	}
	st.Lock = lockString(env.deps.Backend.SwitchLock(ctx, o.LockPath))
	if st.Lock == "held" {
		st.LockDiagnosis, err = env.backend.DiagnoseLock(ctx, o.LockPath, []string{o.SwitchUnit, o.RollbackUnit})
		note(err)
	}
	for _, unit := range []string{o.SwitchUnit, o.RollbackUnit} {
		us, err := env.deps.Backend.UnitStatus(ctx, unit)
		note(err)
		report := pipeline.ReportUnit(unit, us)
		if err == nil && report.State == pipeline.UnitUnknown {
			report.State = unitNotLoaded
		}
		st.Units[unit] = report
	}
	// GOTCHA: Peek, not Load: status never blocks and never changes
	// anything (Load moves a corrupt record aside).
	st.InFlight, err = env.journal.Peek()
	note(err)
	if env.deps.LastActivation != nil {
		st.LastActivation, err = env.deps.LastActivation.Load()
		note(err)
	}
	if err := env.printStatus(stdout, st); err != nil {
		return env.reportWriteFailure(err, st)
	}
	if st.nothingRead() {
		return ExitInternal
	}
	return ExitSuccess
}

// nothingRead: neither a link nor a generation nor a unit could be read
// (wrong --root, no NixOS here, systemctl missing).
func (st hostStatus) nothingRead() bool {
	for _, u := range st.Units {
		if u.State != pipeline.UnitUnknown {
			return false
		}
	}
	return st.CurrentSystem == "" && st.BootedSystem == "" && st.Profile.Closure == "" && len(st.Profile.Generations) == 0
}

// printStatus writes st as JSON for programs (--json, or stdout not a
// terminal), else as a table for a person.
func (env *environment) printStatus(w io.Writer, st hostStatus) error {
	if env.cfg.json || !isTerminal(w) {
		return printJSON(w, st)
	}
	return writeStatusTable(w, st)
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
