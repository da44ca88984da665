package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/plan"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// planDoc is what --dry-run prints: the steps a run would take, in order,
// found by running the same code (the agent lock, the recovery of an
// earlier run, the pipeline, the real backend's command builders) against
// a planning host (backends/plan) that records each step instead of doing
// it and answers as a run where every step succeeds would see it. Nothing
// runs on the host and nothing on it changes; it is only read.
type planDoc struct {
	DryRun  bool   `json:"dry_run"`
	Command string `json:"command"`
	Closure string `json:"closure,omitempty"`
	// ExpectedOutcome is the outcome kind the planned run reports; for a
	// failure also its phase and reason (a host the run cannot act on).
	ExpectedOutcome pipeline.Kind  `json:"expected_outcome"`
	ExpectedPhase   pipeline.Phase `json:"expected_phase,omitempty"`
	ExpectedReason  string         `json:"expected_reason,omitempty"`
	// Assumptions are what the plan took for granted about the host.
	Assumptions []string   `json:"assumptions,omitempty"`
	Steps       []planStep `json:"steps"`
	// Deferred is the plan when a critical component changes, given when
	// the closure is not in the local store (its components are unknown).
	Deferred *planDoc `json:"deferred,omitempty"`
}

// planStep is one step: a command line (argv; the switch lock probe is
// ["flock(2)", PATH]), the agent lock taken, a change of a file (write,
// remove, mkdir, rename to, link to), or a wait of at most wait.
type planStep struct {
	Phase  pipeline.Phase `json:"phase,omitempty"`
	Argv   []string       `json:"argv,omitempty"`
	Lock   string         `json:"lock,omitempty"`
	Write  string         `json:"write,omitempty"`
	Step   pipeline.Step  `json:"step,omitempty"`
	Remove string         `json:"remove,omitempty"`
	Mkdir  string         `json:"mkdir,omitempty"`
	Rename string         `json:"rename,omitempty"`
	Link   string         `json:"link,omitempty"`
	To     string         `json:"to,omitempty"`
	Wait   string         `json:"wait,omitempty"`
	Note   string         `json:"note,omitempty"`
}

// Assumptions every plan states.
const (
	assumeSuccess = "every step succeeds: the switch lock is free, the agent lock is taken at once, no earlier unit of the same name is loaded (else its release also runs systemctl stop and reset-failed, reset-failed alone for a failed one)"
	assumeSwitch  = "the switch flips current-system and exits 0 by the first status read after the fire; a longer one adds status reads and waits, every poll interval up to the poll budget"
	assumeUnknown = "the closure is not in the local store: assumed to be a NixOS system with current-system's kernel, initrd, kernel-modules, systemd and dbus (when one differs the run defers instead: see deferred)"
	assumeChange  = "the closure brings another kernel (a different initrd, kernel-modules, systemd or dbus defers the same way)"
	assumeBoot    = "switch-to-configuration boot exits 0 by the second status read after the fire; a longer one adds status reads and waits, every poll interval up to the poll budget"
)

// activatePlan plans `activate basename`, and the deferred case too when
// the closure's components cannot be read yet and the planned run gets as
// far as comparing them (a run refused before, e.g. on a host without
// current-system, would be refused the same way: no deferred plan).
func (env *environment) activatePlan(ctx context.Context, basename string, opts pipeline.Options) planDoc {
	run := func(penv *environment, stdout io.Writer) int { return penv.runActivate(ctx, stdout, basename, opts) }
	p := env.planRun("activate", opts, false, run)
	p.Closure = basename
	if _, err := env.deps.FS.Lstat(path.Join(opts.StoreDir, basename)); err == nil || p.ExpectedOutcome != pipeline.Settled {
		return p
	}
	p.Assumptions = append(p.Assumptions, assumeUnknown)
	deferred := env.planRun("activate", opts, true, run)
	deferred.Closure = basename
	deferred.Assumptions = append(deferred.Assumptions, assumeChange)
	p.Deferred = &deferred
	return p
}

// rollbackPlan plans `rollback`.
func (env *environment) rollbackPlan(ctx context.Context, opts pipeline.Options) planDoc {
	return env.planRun("rollback", opts, false, func(penv *environment, stdout io.Writer) int {
		return penv.runRollback(ctx, stdout, opts)
	})
}

// planRun runs body on a copy of env whose host is a planning host over
// env's filesystem, and returns the steps it recorded and its outcome.
func (env *environment) planRun(command string, opts pipeline.Options, kernelChange bool, body func(*environment, io.Writer) int) planDoc {
	h := plan.New(env.deps.FS, plan.Config{StoreDir: opts.StoreDir, CurrentSystem: opts.CurrentSystem,
		Start: env.deps.Clock.Now(), Events: env.deps.Events != nil, AssumeKernelChange: kernelChange})
	penv := env.planningEnvironment(h)
	assumptions := []string{assumeSuccess}
	if earlier := penv.assumeRecovered(h); earlier != "" {
		assumptions = append(assumptions, earlier)
	}
	var stdout bytes.Buffer
	body(penv, &stdout)
	var out pipeline.Outcome
	_ = json.Unmarshal(stdout.Bytes(), &out)
	if out.Kind == pipeline.DeferredPendingReboot {
		assumptions = append(assumptions, assumeBoot)
	} else {
		assumptions = append(assumptions, assumeSwitch)
	}
	doc := planDoc{DryRun: true, Command: command, ExpectedOutcome: out.Kind,
		Assumptions: assumptions, Steps: planSteps(h.Steps(), opts, command, h.Events() != nil)}
	if !out.Success() {
		doc.ExpectedPhase, doc.ExpectedReason = out.Phase, out.Reason
	}
	return doc
}

// assumeRecovered takes an unfinished earlier run's in-flight record as
// resolved: the run recovers it first (as recover does), in steps that
// depend on what became of it, which a plan cannot know. It returns the
// assumption, "" when there is no record.
func (env *environment) assumeRecovered(h *plan.Host) string {
	rec, err := env.journal.Peek()
	if err != nil || rec == nil {
		return ""
	}
	_ = h.Assume(func(*fsview.View) error { return env.journal.Clear() })
	return "an unfinished earlier " + string(rec.Op) + " of " + rec.Closure + " (in-flight record at step " + string(rec.Step) +
		") is recovered first, as recover does; the plan starts after it"
}

// planningEnvironment is env acting on h: the same backend's command
// builders (real.Backend.WithRunner), no metrics file, no log.
func (env *environment) planningEnvironment(h *plan.Host) *environment {
	penv := *env
	penv.cfg.metricsFile, penv.simSummary = "", nil
	penv.log = slog.New(slog.DiscardHandler)
	penv.backend = env.backend.WithRunner(h, h, nil)
	uid := env.journal.UID
	if env.cfg.root == "/" {
		uid = 0 // a real run runs as root (preflight)
	}
	dir := env.cfg.stateDir
	penv.journal = pipeline.FileJournal{FS: h.FS(), Dir: dir, Now: h.Clock().Now, UID: uid}
	penv.deps = pipeline.Deps{Nix: penv.backend, Backend: penv.backend, FS: h.FS(), Clock: h.Clock(), Log: penv.log,
		Journal: penv.journal, AgentLock: h.AgentLock(env.cfg.agentLock), Events: h.Events(),
		LastActivation: pipeline.FileLastActivation{FS: h.FS(), Dir: dir, UID: uid},
		Confirm:        pipeline.FileConfirm{FS: h.FS(), Dir: dir, UID: uid}}
	return &penv
}

// planSteps turns the recorded steps into the plan's, naming each command's
// phase (where the outcome would report its failure).
func planSteps(steps []plan.Step, opts pipeline.Options, command string, events bool) []planStep {
	fired := map[string]pipeline.Phase{} // unit -> its fire's phase
	var afterFire pipeline.Phase
	out := make([]planStep, 0, len(steps))
	for i, s := range steps {
		switch s.Kind {
		case plan.KindProbe:
			out = append(out, planStep{Phase: pipeline.PhaseLockProbe, Argv: s.Argv,
				Note: "flock(2) LOCK_SH|LOCK_NB: when another switch-to-configuration holds it exclusively, the run stops there, skipped"})
		case plan.KindAgentLock:
			out = append(out, planStep{Phase: pipeline.PhaseAgentLock, Lock: s.Path,
				Note: "flock(2) LOCK_EX|LOCK_NB, held until the outcome is printed"})
		case plan.KindWait:
			out = append(out, planStep{Phase: afterFire, Wait: s.Wait.String(), Note: waitNote(events)})
		case plan.KindChange:
			out = append(out, changeStep(s.Change, opts))
		case plan.KindCommand:
			step := commandStep(s.Argv, opts, command, fired, steps[i+1:])
			if unit, ok := firedUnit(s.Argv); ok {
				fired[unit] = step.Phase
				afterFire = pipeline.PhaseSwitchPoll
				if step.Phase == pipeline.PhaseDeferBootloader {
					afterFire = pipeline.PhaseDeferBootloader
				}
			}
			out = append(out, step)
		}
	}
	return out
}

func waitNote(events bool) string {
	if events {
		return "at most the poll interval: the replacement of current-system or the unit's end ends it"
	}
	return "the poll interval"
}

// changeStep is a file change; the in-flight record's writes name its step.
func changeStep(c plan.Change, opts pipeline.Options) planStep {
	s := planStep{}
	switch c.Op {
	case "write":
		s.Write, s.Step = c.Path, c.RecordStep()
	case "remove":
		s.Remove = c.Path
	case "mkdir":
		s.Mkdir = c.Path
	case "rename":
		s.Rename, s.To = c.Path, c.To
	case "link":
		s.Link, s.To = c.Path, c.To
	}
	switch {
	case path.Base(c.Path) == pipeline.RecordFile:
		s.Phase, s.Note = pipeline.PhaseJournal, "the in-flight record, for recover"
	case path.Base(c.Path) == pipeline.LastActivationFile:
		s.Note = "the last-activation record that rollback undoes"
	case path.Dir(c.Path) == path.Clean(opts.GCRootDir) && c.Op == "remove":
		s.Note = "the GC root goes: the profile holds the closure now"
	}
	return s
}

// firedUnit returns the unit a systemd-run command line starts.
func firedUnit(argv []string) (string, bool) {
	if len(argv) == 0 || path.Base(argv[0]) != "systemd-run" {
		return "", false
	}
	for _, a := range argv[1:] {
		if u, ok := strings.CutPrefix(a, "--unit="); ok {
			return u, true
		}
	}
	return "", false
}

// commandStep names a command's phase: a fire by its unit and action, a
// status read or release before a fire by that fire, after it by the wait.
func commandStep(argv []string, opts pipeline.Options, command string, fired map[string]pipeline.Phase, rest []plan.Step) planStep {
	s := planStep{Argv: argv}
	if unit, ok := firedUnit(argv); ok {
		s.Phase = firePhase(unit, argv[len(argv)-1], opts)
		return s
	}
	switch prog := path.Base(argv[0]); {
	case prog == "nix-store":
		s.Phase = pipeline.PhaseRealise
	case prog == "nix-env" && contains(argv, "--set"):
		s.Phase = pipeline.PhaseNixEnvSet
	case prog == "nix-env" && command == "rollback":
		s.Phase = pipeline.PhaseNixEnvRollback
	case prog == "systemctl":
		unit := strings.TrimSuffix(argv[len(argv)-1], ".service")
		if phase, ok := fired[unit]; ok {
			s.Phase, s.Note = phase, "the unit's status, until it has exited (its ExecMainStatus)"
			if phase != pipeline.PhaseDeferBootloader {
				s.Phase = pipeline.PhaseSwitchPoll
			}
			return s
		}
		s.Phase, s.Note = nextFirePhase(unit, rest, opts), "release the unit name: a unit an earlier run left loaded is stopped and reset-failed (reset-failed alone when it failed)"
	}
	return s
}

func firePhase(unit, action string, opts pipeline.Options) pipeline.Phase {
	switch {
	case unit == opts.RollbackUnit:
		return pipeline.PhaseRollbackFire
	case action == string(pipeline.ActionBoot):
		return pipeline.PhaseDeferBootloader
	case unit == opts.SwitchUnit:
		return pipeline.PhaseSystemdRunFire
	}
	return pipeline.PhaseHealth
}

// nextFirePhase is the phase of the next fire of unit among rest.
func nextFirePhase(unit string, rest []plan.Step, opts pipeline.Options) pipeline.Phase {
	for _, s := range rest {
		if u, ok := firedUnit(s.Argv); ok && u == unit {
			return firePhase(u, s.Argv[len(s.Argv)-1], opts)
		}
	}
	return ""
}

func contains(argv []string, arg string) bool {
	for _, a := range argv {
		if a == arg {
			return true
		}
	}
	return false
}

func (env *environment) printPlan(w io.Writer, p planDoc) int {
	if err := printJSON(w, p); err != nil {
		return ExitInternal
	}
	return ExitSuccess
}
