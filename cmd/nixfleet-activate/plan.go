package main

import (
	"io"
	"path"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// plan is what --dry-run prints: the steps and exact command lines a run
// would issue, in order. Nothing is run and nothing changes.
type plan struct {
	DryRun  bool       `json:"dry_run"`
	Command string     `json:"command"`
	Closure string     `json:"closure,omitempty"`
	Steps   []planStep `json:"steps"`
}

// planStep is one step: a command line, or a read of the filesystem view.
type planStep struct {
	Phase pipeline.Phase `json:"phase"`
	Argv  []string       `json:"argv,omitempty"`
	Note  string         `json:"note,omitempty"`
}

func cmdSteps(phase pipeline.Phase, note string, cmds ...proc.Cmd) []planStep {
	steps := make([]planStep, 0, len(cmds))
	for _, c := range cmds {
		steps = append(steps, planStep{Phase: phase, Argv: c.Argv, Note: note})
	}
	return steps
}

func (env *environment) activatePlan(basename string, o pipeline.Options) plan {
	b := env.backend
	storePath := path.Join(o.StoreDir, basename)
	fire := pipeline.FireRequest{Unit: o.SwitchUnit, Closure: storePath, Action: pipeline.ActionSwitch}
	boot := fire
	boot.Action = pipeline.ActionBoot
	p := plan{DryRun: true, Command: "activate", Closure: basename}
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseLockProbe, Note: "flock(2) LOCK_SH|LOCK_NB probe of " + o.LockPath})
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseRealise, "", b.RealiseCmd(storePath, path.Join(o.GCRootDir, basename)))...)
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseClosureCheck, Note: "stat " + path.Join(storePath, pipeline.SwitchProgramRel) + ": an executable file, else invalid-closure"})
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseNixEnvSet, "", b.SetProfileCmd(o.Profile, storePath))...)
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseNixEnvSet, Note: "remove the GC root " + path.Join(o.GCRootDir, basename) + " (the profile holds the closure now)"})
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseReadCurrent, Note: "resolve " + o.CurrentSystem})
	p.Steps = append(p.Steps, env.releaseSteps(pipeline.PhaseSystemdRunFire, o.SwitchUnit)...)
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseSystemdRunFire, "when no critical component changes", b.RunCmd(fire))...)
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseDeferBootloader, "instead, when kernel, initrd, kernel-modules, systemd or dbus change", b.RunCmd(boot))...)
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseSwitchPoll,
		Note: "resolve " + o.CurrentSystem + " every " + o.PollInterval.String() + " for up to " + o.PollBudget.String()})
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseSwitchWait, "", b.UnitStatusCmd(o.SwitchUnit))...)
	return p
}

func (env *environment) rollbackPlan(o pipeline.Options) plan {
	b := env.backend
	p := plan{DryRun: true, Command: "rollback"}
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseLockProbe, Note: "flock(2) LOCK_SH|LOCK_NB probe of " + o.LockPath})
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseReadCurrent, Note: "resolve " + o.CurrentSystem})
	switchGen := b.SwitchGenerationCmd(o.Profile, o.RollbackGeneration)
	if o.RollbackGeneration <= 0 {
		switchGen.Argv[len(switchGen.Argv)-1] = "<N>"
	}
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseNixEnvRollback, "N: --generation, else where the last activation started, else the generation below the current one",
		switchGen)...)
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseDiscoverTarget, Note: "resolve " + o.Profile + " -> system-N-link -> store path"})
	rb := pipeline.FireRequest{Unit: o.RollbackUnit, Closure: path.Join(o.StoreDir, "<rolled-back-closure>"), Action: pipeline.ActionSwitch}
	p.Steps = append(p.Steps, env.releaseSteps(pipeline.PhaseRollbackFire, o.RollbackUnit)...)
	p.Steps = append(p.Steps, cmdSteps(pipeline.PhaseRollbackFire, "", b.RunCmd(rb))...)
	p.Steps = append(p.Steps, planStep{Phase: pipeline.PhaseSwitchPoll,
		Note: "resolve " + o.CurrentSystem + " every " + o.PollInterval.String() + " for up to " + o.PollBudget.String()})
	return p
}

// releaseSteps is the pipeline's release of the unit name before a fire
// (Backend.ReleaseUnit): one status read, then stop and reset-failed only
// when the unit is still loaded from an earlier run.
func (env *environment) releaseSteps(phase pipeline.Phase, unit string) []planStep {
	b := env.backend
	steps := cmdSteps(phase, "release the unit name: status read", b.UnitStatusCmd(unit))
	return append(steps, cmdSteps(phase, "only when the unit is still loaded (exited)", b.StopCmd(unit), b.ResetFailedCmd(unit))...)
}

func (env *environment) printPlan(w io.Writer, p plan) int {
	if err := printJSON(w, p); err != nil {
		return ExitInternal
	}
	return ExitSuccess
}
