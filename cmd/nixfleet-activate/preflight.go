package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Seams for tests of the environment checks.
var (
	geteuid  = os.Geteuid
	lookPath = exec.LookPath
)

// requiredTools are the programs a real run needs on PATH.
var requiredTools = []string{real.DefaultNixStore, real.DefaultNixEnv, real.DefaultSystemdRun, real.DefaultSystemctl}

// preflight refuses a real host that activate, rollback or recover cannot
// act on safely, before any command runs: not root, --root other than "/"
// (the tools would still act on the real /nix and systemd: --root is for
// --sim and --dry-run only), or a required tool missing from PATH. --sim
// and --dry-run skip it. It returns nil when the host is fit.
func (env *environment) preflight(closure string) *pipeline.Outcome {
	if env.cfg.sim != "" || env.cfg.dryRun {
		return nil
	}
	bad := func(reason string) *pipeline.Outcome {
		return &pipeline.Outcome{Kind: pipeline.BadEnvironment, Phase: pipeline.PhaseEnvironment, Closure: closure,
			Meta: env.cfg.meta, Reason: reason + "; nothing was run or changed"}
	}
	if uid := geteuid(); uid != 0 {
		return bad("must run as root (running as uid " + strconv.Itoa(uid) + "): it sets the system profile and starts transient units")
	}
	if env.cfg.root != "/" {
		return bad("--root " + pipeline.QuoteInput(env.cfg.root) + " is refused with the real backend: nix-env, nix-store and systemd-run would still act on the real host; use per-path flags, --sim or --dry-run")
	}
	for _, tool := range requiredTools {
		if _, err := lookPath(tool); err != nil {
			return bad(tool + " not found on PATH (" + errors.Unwrap(err).Error() + ")")
		}
	}
	return nil
}

// locked runs body holding the agent lock, after checking the state
// directory; a run that cannot take the lock or whose state directory is
// unsafe reports so (skipped or bad-environment) with nothing read or
// changed. closure is for the refusal's outcome ("" for rollback, recover).
func (env *environment) locked(ctx context.Context, stdout io.Writer, closure string, body func() int) int {
	if out := env.preflight(closure); out != nil {
		return env.refuse(stdout, *out)
	}
	release, out := pipeline.AcquireAgentLock(ctx, env.deps, env.cfg.waitLock)
	if out != nil {
		out.Closure, out.Meta = closure, env.cfg.meta
		return env.refuse(stdout, *out)
	}
	// LOADBEARING: the lock is held until the outcome is printed, so the
	// next run never sees this run's record half-way.
	defer release()
	if err := env.journal.CheckDir(false); err != nil {
		out := pipeline.Outcome{Kind: pipeline.BadEnvironment, Phase: pipeline.PhaseEnvironment, Closure: closure,
			Meta: env.cfg.meta, Reason: err.Error() + "; nothing was read or changed"}
		return env.refuse(stdout, out)
	}
	return body()
}

// reportWriteFailure logs an outcome that could not be written to stdout,
// so it is not lost, and returns ExitOutputFailed.
func (env *environment) reportWriteFailure(err error, outcome any) int {
	env.log.Error("outcome not written to stdout", "err", err, "outcome", outcome)
	return ExitOutputFailed
}
