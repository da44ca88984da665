package main

import (
	"context"
	"path"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// runEarlierStopped runs, before the binary's own command, an activation of
// simNew that is stopped right after systemd-run started its switch (its
// context cancelled, as SIGTERM or a killed agent's service stop does): its
// in-flight record stays at "fired" and the switch unit goes on, so the
// command that follows (recover, or activate's "earlier") has a run to
// work out. Its log lines carry run=earlier.
func runEarlierStopped(h *sim.Host, env *environment) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	runner := proc.RunnerFunc(func(c context.Context, cmd proc.Cmd) (proc.Result, error) {
		res, err := h.Run(c, cmd)
		if path.Base(cmd.Argv[0]) == real.DefaultSystemdRun {
			stop()
		}
		return res, err
	})
	log := env.log.With("run", "earlier")
	b := real.New(real.Config{Runner: runner, Locker: h.Locker(), LockDiag: h.LockDiag(), Logger: log})
	deps := env.deps
	deps.Nix, deps.Backend, deps.Log = b, b, log
	pipeline.Activate(ctx, deps, pipeline.Target{Closure: simNew}, env.cfg.opts.WithDefaults())
}
