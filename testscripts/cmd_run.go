package testscripts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// runCommands run the agent: the pipeline in-process through the real
// backend over the simulated host, or the nixfleet-activate binary.
func runCommands() []command {
	return []command{
		{name: "activate", prints: true, usage: "activate ALIAS [poll-interval=2s] [budget=300s] [unit=NAME] [interrupt-at=D] [meta=K:V] [on-failure=restore|keep] [force] [require-running] [confirm-within=D] [on-unhealthy=rollback|keep] [events=on|lose:N|fail|unit-fail|lock-fail]",
			summary: "runs pipeline.Activate for the closure through the real backend over the simulated host; prints the outcome JSON to stdout and keeps it for `outcome`; interrupt-at cancels the agent's context at D of virtual time (SIGTERM); on-failure=keep leaves a moved profile on the failed closure (--on-failure); force switches even when the host already runs the closure (--force); require-running, confirm-within= and on-unhealthy= are the health options (--require-running, --confirm-within, --on-unhealthy); events=on wakes the waits on the host's change events at their virtual instant, a wait-lock wait at the agent lock's release included (default: polling only, --poll-only), lose:N loses the next N events, fail makes the watch fail to start, unit-fail starts it without the unit's end (a failed D-Bus subscription), lock-fail makes the agent lock's watch fail to start (the wait retries every 100 ms)",
			run:     runActivate(false)},
		{name: "activate-raw", prints: true, usage: "activate-raw STRING [options of activate]",
			summary: "like activate, with STRING passed verbatim as the closure basename (malformed input)",
			run:     runActivate(true)},
		{name: "rollback", prints: true, usage: "rollback [poll-interval=2s] [budget=300s] [unit=NAME] [interrupt-at=D] [meta=K:V] [on-failure=restore|keep] [generation=N] [events=on|lose:N|fail|unit-fail|lock-fail]",
			summary: "runs pipeline.Rollback through the real backend over the simulated host; prints and keeps the outcome like activate; generation=N returns to that generation (--generation N) instead of the last activation's starting one",
			run:     runRollback},
		{name: "advance", usage: "advance DURATION",
			summary: "lets DURATION of virtual time pass (scheduled events and running units go on)",
			run:     runAdvance},
		{name: "cli", prints: true, usage: "cli exit=N ARGS...",
			summary: "runs the nixfleet-activate command line with ARGS (use --sim NAME: it cannot see this script's host), its stdout and stderr becoming the script's, and fails unless it exits N (the binary's exit-code contract)",
			run:     runCLI},
	}
}

// runSpec are the options of activate and rollback.
var runSpec = argSpec{"poll-interval=", "budget=", "unit=", "interrupt-at=", "meta=", "on-failure=", "force", "generation=", "wait-lock=",
	"require-running", "confirm-within=", "on-unhealthy=", "events="}

// runOptions reads the options shared by activate and rollback, over the
// agent's configuration (`agent`): an option given overrides its flag.
func runOptions(p parsed, rollback bool, agent pipeline.Options) (pipeline.Options, map[string]string, error) {
	o := agent
	var err error
	if o.PollInterval, err = p.duration("poll-interval", o.PollInterval); err != nil {
		return o, nil, err
	}
	if o.PollBudget, err = p.duration("budget", o.PollBudget); err != nil {
		return o, nil, err
	}
	if unit, ok := p.opts["unit"]; ok && rollback {
		o.RollbackUnit = unit
	} else if ok {
		o.SwitchUnit = unit
	}
	if err := runChoices(p, rollback, &o); err != nil {
		return o, nil, err
	}
	if err := healthChoices(p, &o); err != nil { // issue 18
		return o, nil, err
	}
	var meta map[string]string
	if raw, ok := p.opts["meta"]; ok {
		k, v, ok := strings.Cut(raw, ":")
		if !ok || k == "" {
			return o, nil, usagef("meta=%q: want KEY:VALUE", raw)
		}
		meta = map[string]string{k: v}
	}
	return o, meta, nil
}

// runChoices reads on-failure=, force (activate) and generation=
// (rollback).
func runChoices(p parsed, rollback bool, o *pipeline.Options) error {
	if f := pipeline.OnFailure(p.opts["on-failure"]); !validOnFailure(f) {
		return usagef("on-failure=%q: want restore or keep", f)
	} else if f != "" {
		o.OnFailure = f
	}
	_, hasGen := p.opts["generation"]
	switch {
	case rollback && p.flags["force"]:
		return usagef("force goes with activate")
	case !rollback && hasGen:
		return usagef("generation= goes with rollback")
	}
	o.Force = p.flags["force"]
	var err error
	o.RollbackGeneration, err = p.integer("generation", o.RollbackGeneration)
	return err
}

func runActivate(raw bool) func(*script, bool, []string) error {
	return func(s *script, _ bool, args []string) error {
		p, err := runSpec.parseN(args, 1, "one closure")
		if err != nil {
			return err
		}
		closure := p.pos[0]
		if !raw {
			if closure, err = s.w.basename(closure); err != nil {
				return err
			}
		}
		o, meta, err := runOptions(p, false, s.w.agent.opts)
		if err != nil {
			return err
		}
		return s.runAgent(p, func(ctx context.Context, d pipeline.Deps) (*pipeline.Outcome, error) {
			out := pipeline.Activate(ctx, d, pipeline.Target{Closure: closure, Meta: meta}, o)
			return &out, nil
		})
	}
}

func runRollback(s *script, _ bool, args []string) error {
	p, err := runSpec.parseN(args, 0, "no positional argument")
	if err != nil {
		return err
	}
	o, meta, err := runOptions(p, true, s.w.agent.opts)
	if err != nil {
		return err
	}
	return s.runAgent(p, func(ctx context.Context, d pipeline.Deps) (*pipeline.Outcome, error) {
		out := pipeline.Rollback(ctx, d, meta, o)
		return &out, nil
	})
}

// runAgent wires the pipeline to the host through the real backend, runs
// it, prints the outcome JSON and keeps it. The pipeline's log goes to the
// script's stderr, stamped with virtual time. A kill-agent rule applies to
// this run only; the journal is the host's state directory as `journal`
// left it.
func (s *script) runAgent(p parsed, agent func(context.Context, pipeline.Deps) (*pipeline.Outcome, error)) error {
	h := s.w.host()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	process, ctx := sim.NewAgent(ctx, h, s.w.takeKill())
	if _, ok := p.opts["interrupt-at"]; ok {
		at, err := p.duration("interrupt-at", 0)
		if err != nil {
			return err
		}
		h.Clock().Schedule(at, func() { cancel(errors.New("interrupted: SIGTERM")) })
	}
	b := real.New(real.Config{Runner: process, Locker: process, LockDiag: h.LockDiag(),
		Substituters: s.w.agent.substituters, TrustedPublicKeys: s.w.agent.trustedKeys,
		RealiseTimeout: s.w.agent.realiseTimeout, CommandTimeout: s.w.agent.commandTimeout})
	log := slog.New(slog.NewTextHandler(s.ts.Stderr(), &slog.HandlerOptions{ReplaceAttr: s.virtualTime}))
	deps := pipeline.Deps{Nix: b, Backend: b, FS: h.FS(), Clock: process, Log: log,
		Journal: process.Journal(s.w.state.Journal()), LastActivation: process.LastActivation(s.w.state.LastActivation()),
		Confirm: s.w.state.Confirm(), AgentLock: h.AgentLock(pipeline.DefaultAgentLockPath)}
	var err error
	if deps.Events, err = eventsSource(h, p.opts["events"]); err != nil {
		return err
	}
	wait, err := p.duration("wait-lock", s.w.agent.waitLock)
	if err != nil {
		return err
	}
	s.w.last = &lastRun{logStart: len(h.Log())}
	var out *pipeline.Outcome
	if process.Do(func() { out, err = lockedAgent(ctx, deps, wait, agent) }) {
		s.w.last.killed = process.What()
		_, err = fmt.Fprintf(s.ts.Stdout(), "agent killed (%s)\n", process.What())
		return err
	}
	var corrupt *pipeline.CorruptRecordError
	switch {
	case errors.As(err, &corrupt):
		// As the binary's recover: reported, kept aside, not fatal.
		_, err = fmt.Fprintln(s.ts.Stdout(), corrupt.Error())
		return err
	case errors.As(err, new(*pipeline.BadEnvironmentError)):
		// As the binary's recover (bad-environment): reported, nothing moved.
		_, err = fmt.Fprintln(s.ts.Stdout(), err.Error())
		return err
	case err != nil:
		return err
	case out == nil:
		_, err = fmt.Fprintln(s.ts.Stdout(), "no unfinished run")
		return err
	}
	return s.keep(*out)
}

// lockedAgent runs agent holding the host's agent lock, as the binary does
// for activate, rollback and recover; a run that cannot take it returns
// that outcome. The lock is released when the agent returns or dies (the
// kernel drops a dead process's flock).
func lockedAgent(ctx context.Context, d pipeline.Deps, wait time.Duration,
	agent func(context.Context, pipeline.Deps) (*pipeline.Outcome, error)) (*pipeline.Outcome, error) {
	release, out := pipeline.AcquireAgentLock(ctx, d, wait)
	if out != nil {
		return out, nil
	}
	defer release()
	return agent(ctx, d)
}

// keep prints the outcome and keeps it for `outcome`.
func (s *script) keep(out pipeline.Outcome) error {
	js, err := marshalOutcome(out)
	if err != nil {
		return err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(js, &fields); err != nil {
		return err
	}
	s.w.last.json, s.w.last.fields = js, fields
	_, err = fmt.Fprintf(s.ts.Stdout(), "%s\n", js)
	return err
}

// marshalOutcome renders the outcome as indented JSON without HTML escapes
// (reasons quote "<32-char hash>-<name>").
func marshalOutcome(out pipeline.Outcome) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// virtualTime replaces a log record's wall time with the host's virtual
// offset ("t=+6.275s") and store paths with aliases.
func (s *script) virtualTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.String("t", "+"+s.w.h.Elapsed().String())
	}
	if a.Value.Kind() == slog.KindString {
		return slog.String(a.Key, s.w.readable(a.Value.String()))
	}
	return a
}

func runAdvance(s *script, _ bool, args []string) error {
	if len(args) != 1 {
		return usagef("want DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		return usagef("%q: want a duration such as 10s", args[0])
	}
	s.w.host().Clock().Advance(d)
	return nil
}

func runCLI(s *script, _ bool, args []string) error {
	if len(args) < 1 || !strings.HasPrefix(args[0], "exit=") {
		return usagef("want exit=N ARGS...")
	}
	p, err := argSpec{"exit="}.parse(args[:1])
	if err != nil {
		return err
	}
	want, err := p.integer("exit", 0)
	if err != nil {
		return err
	}
	got, err := s.w.cli(context.Background(), s.ts.Getenv("WORK"), args[1:], s.ts.Stdout(), s.ts.Stderr())
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("nixfleet-activate %s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
	return nil
}
