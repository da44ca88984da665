package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// environment is one host to act on: real or simulated.
type environment struct {
	cfg     config
	log     *slog.Logger
	deps    pipeline.Deps
	backend *real.Backend
	// simSummary, when set, prints the simulated host's command timeline to
	// stderr after the outcome.
	simSummary func(w io.Writer)
	stderr     io.Writer
	// journal is deps.Journal (the state directory's checks, Peek).
	journal pipeline.FileJournal
	// rec is --record's recorder (record.go); nil records nothing.
	rec *recording
}

func newEnvironment(cfg config, stderr io.Writer) (*environment, error) {
	if cfg.sim != "" {
		return newSimEnvironment(cfg, stderr)
	}
	env := &environment{cfg: cfg, stderr: stderr}
	env.log = newLogger(cfg, stderr, nil)
	env.rec = newRecording(cfg)
	env.backend = real.New(real.Config{
		Runner:            env.rec.runner(proc.Exec{}),
		Locker:            env.rec.locker(rootedLocker{root: cfg.root, inner: real.Flock{}}),
		LockDiag:          env.rec.lockDiag(lockdiag.OSHost{Root: cfg.root}),
		Substituters:      strings.Fields(cfg.substituters),
		TrustedPublicKeys: strings.Fields(cfg.trustedKeys),
		RealiseTimeout:    cfg.realiseTimeout,
		CommandTimeout:    cfg.commandTimeout,
		Logger:            env.log,
	})
	view := env.rec.view(cfg.root)
	env.journal = pipeline.FileJournal{FS: view, Dir: cfg.stateDir, Now: time.Now, UID: geteuid()}
	env.deps = pipeline.Deps{Nix: env.backend, Backend: env.backend, FS: view, Clock: env.rec.clock(clock.Real()), Log: env.log,
		Journal: env.journal, AgentLock: real.FileAgentLock{Path: filepath.Join(cfg.root, cfg.agentLock)},
		LastActivation: pipeline.FileLastActivation{FS: view, Dir: cfg.stateDir, UID: geteuid()},
		Confirm:        pipeline.FileConfirm{FS: view, Dir: cfg.stateDir, UID: geteuid()}}
	if !cfg.pollOnly {
		env.deps.Events = env.rec.events(events.OS{Root: cfg.root, SystemdBus: events.SystemdPrivateSocket})
	}
	return env, nil
}

// rootedLocker probes lock paths under a root directory (tests run the real
// backend against a temp dir as root).
type rootedLocker struct {
	root  string
	inner real.Locker
}

func (l rootedLocker) Probe(path string) (pipeline.LockState, error) {
	return l.inner.Probe(filepath.Join(l.root, path))
}

// newLogger builds the stderr logger: text on a terminal, JSON otherwise
// (or as --log-format says). A non-nil virtual clock replaces the wall time
// with the virtual offset, so simulated timelines read "t=+6s".
func newLogger(cfg config, w io.Writer, virt *clock.Virtual) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(cfg.logLevel)}
	if virt != nil {
		start := virt.Now()
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.String("t", "+"+virt.Now().Sub(start).String())
			}
			return a
		}
	}
	format := cfg.logFormat
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printJSON writes v as one JSON object (indented on a terminal), with
// <, > and & as themselves: every JSON the binary prints (outcome,
// status --json, the plan, unblock, confirm) goes through it.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	// GOTCHA: the encoder escapes <, > and & as \u003c... by default (for
	// HTML); an outcome's reason "want <32-char hash>-<name>" read so.
	enc.SetEscapeHTML(false)
	if isTerminal(w) {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

// report prints the outcome and returns its exit code.
func (env *environment) report(stdout io.Writer, out pipeline.Outcome) int {
	if env.simSummary != nil {
		env.simSummary(env.stderr)
	}
	env.writeMetrics(out)
	if err := printJSON(stdout, out); err != nil {
		return env.reportWriteFailure(err, out)
	}
	return exitCode(out.Kind)
}

// refuse reports an outcome decided before the pipeline ran (bad input,
// bad environment, agent lock held), with the summary line the pipeline
// gives its own outcomes.
func (env *environment) refuse(stdout io.Writer, out pipeline.Outcome) int {
	running, _ := linkBasename(env.deps.FS, env.cfg.opts.WithDefaults().CurrentSystem)
	env.log.Info(refusalSummary(out, running), pipeline.SummaryAttrs(out)...)
	return env.report(stdout, out)
}

// refusalSummary is a refusal's summary line: the pipeline's, ending with
// the refusal's reason (not root, a tool missing, the agent lock held,
// ...). When current-system could not be read it leaves the host out
// instead of saying "current-system unreadable": a refusal never reads it,
// and its reason says what is wrong (a non-root run on a host without
// /run/current-system read as if the host were broken).
func refusalSummary(out pipeline.Outcome, running string) string {
	if out.Reason == "" {
		return pipeline.Summary(out, running)
	}
	if running == "" {
		return fmt.Sprintf("%s at %s after %s: %s", out.Kind, out.Phase, time.Duration(out.ElapsedMS)*time.Millisecond, out.Reason)
	}
	return pipeline.Summary(out, running) + "; " + out.Reason
}

func (env *environment) activate(ctx context.Context, stdout io.Writer) int {
	opts := env.cfg.opts.WithDefaults()
	basename, err := pipeline.ParseClosure(opts.StoreDir, env.cfg.closure)
	if err != nil {
		out := pipeline.Outcome{Kind: pipeline.InvalidInput, Phase: pipeline.PhaseValidate, Reason: err.Error(), Meta: env.cfg.meta}
		return env.refuse(stdout, out)
	}
	if env.cfg.dryRun {
		return env.printPlan(stdout, env.activatePlan(ctx, basename, opts))
	}
	return env.runActivate(ctx, stdout, basename, opts)
}

// runActivate is activate after its argument was parsed: what a run does,
// and what a dry run runs against the planning host (plan.go).
func (env *environment) runActivate(ctx context.Context, stdout io.Writer, basename string, opts pipeline.Options) int {
	target := pipeline.Target{Closure: basename, Meta: env.cfg.meta}
	return env.locked(ctx, stdout, basename, func() int {
		return env.withEarlier(ctx, stdout, basename, func() pipeline.Outcome {
			return env.recordedOutcome(ctx, "activate", basename, func(ctx context.Context) pipeline.Outcome { return pipeline.Activate(ctx, env.deps, target, opts) })
		})
	})
}

func (env *environment) rollback(ctx context.Context, stdout io.Writer) int {
	opts := env.cfg.opts.WithDefaults()
	if env.cfg.dryRun {
		return env.printPlan(stdout, env.rollbackPlan(ctx, opts))
	}
	return env.runRollback(ctx, stdout, opts)
}

// runRollback is rollback's run (also planned by a dry run).
func (env *environment) runRollback(ctx context.Context, stdout io.Writer, opts pipeline.Options) int {
	return env.locked(ctx, stdout, "", func() int {
		return env.withEarlier(ctx, stdout, "", func() pipeline.Outcome {
			return env.recordedOutcome(ctx, "rollback", "", func(ctx context.Context) pipeline.Outcome {
				return pipeline.Rollback(ctx, env.deps, env.cfg.meta, opts)
			})
		})
	})
}
