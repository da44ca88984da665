package explore

import (
	"context"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/nixprofile"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Run is one explored run: the faults, the world they made, what the agent
// and the fresh invocation after it reported, what the host looked like,
// and the invariants it broke.
type Run struct {
	// Index is the run's position in the exhaustive order (-1 otherwise).
	Index int
	// Seed is the random-mode seed that drew the run (0 otherwise).
	Seed uint64
	// Combo is the fault set as ascending catalogue indices.
	Combo []int
	// Faults are the catalogue's faults of Combo.
	Faults []Fault
	Spec   Spec
	// Outcome is what the agent's Activate or Rollback returned.
	Outcome pipeline.Outcome
	// Killed reports that the agent was killed, at KilledAt (virtual time
	// since the host was created).
	Killed   bool
	KilledAt time.Duration
	// Recovered is what the next invocation's pipeline.Recover reported
	// (nil: there was no in-flight record); RecoverErr its error.
	Recovered  *pipeline.Outcome
	RecoverErr error
	// Violations are the invariants the run broke, in invariant order.
	Violations []Violation
	// Summary is the host's state at the end (sim.Host.Summary) and Log its
	// command log.
	Summary string
	Log     []sim.LogEntry

	start, agentEnd, end observation
	// agentCmds and recoverCmds are each invocation's commands.
	agentCmds, recoverCmds []command
	// recoverStart is when the fresh invocation began.
	recoverStart time.Duration
	// lateCommands counts commands an invocation's process issued after the
	// invocation had returned its outcome (the host then goes on for a
	// budget and an interval, so anything left behind gets its chance).
	lateCommands int
	// host is kept until the checks are done (the summary and log of a
	// violating run are read from it).
	host *sim.Host
	// buildErr is set when the world could not be built.
	buildErr error
}

// observation is the host as the invariants see it at one instant.
type observation struct {
	at         time.Duration
	current    string // basename, "" when missing or not a store path
	profile    string // basename the profile resolves to, "" when none
	generation int
	runs       []sim.UnitRun
	// record is the in-flight record (read at the end only).
	record *pipeline.Record
}

// observe reads the host. The profile's generation is the number of the
// generation link it points at ("system-N-link", Nix 2.8), read from the
// link itself: cheaper than listing the generations (sim.Host.Profile).
func observe(h *sim.Host) observation {
	o := observation{at: h.Elapsed(), current: storeBase(h.CurrentSystem()), runs: h.Runs()}
	if target, err := h.FS().EvalSymlinks(sim.DefaultProfile); err == nil {
		o.profile = storeBase(target)
	}
	if link, err := h.FS().Readlink(sim.DefaultProfile); err == nil {
		o.generation, _ = nixprofile.Generation(sim.DefaultProfile, link)
	}
	return o
}

// storeBase returns the basename of a store path, "" otherwise.
func storeBase(p string) string {
	rest, ok := strings.CutPrefix(p, sim.StoreDir+"/")
	if !ok || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

// execute runs the spec: the agent, then a fresh invocation's recovery,
// then the host alone for a budget and an interval.
func execute(s Spec, wrap func(pipeline.Deps) pipeline.Deps) *Run {
	h, err := s.build()
	return executeOn(h, err, s, wrap)
}

// executeOn is execute on a host already built (err: the build's error).
func executeOn(h *sim.Host, err error, s Spec, wrap func(pipeline.Deps) pipeline.Deps) *Run {
	r := &Run{Index: -1, Spec: s}
	if err != nil {
		r.buildErr = err
		return r
	}
	r.host, r.start = h, observe(h)
	agent := r.runAgent(h, wrap)
	r.agentEnd = observe(h)
	// Only a killed agent leaves a run to recover; after a final outcome a
	// reboot is no part of the run.
	if err := r.Spec.Between.apply(h, r.Killed); err != nil {
		r.buildErr = err
		return r
	}
	recovery := r.runRecovery(h, wrap)
	r.end = observe(h)
	r.end.record, _ = fileJournal(h).Load()
	h.Clock().Advance(PollBudget + PollInterval)
	r.lateCommands = agent.Late() + recovery.Late()
	return r
}

// runAgent runs Activate or Rollback in a process that the spec may kill
// (sim.Agent), its state directory failing as the spec's journal fault
// says.
func (r *Run) runAgent(h *sim.Host, wrap func(pipeline.Deps) pipeline.Deps) *sim.Agent {
	state := stateDir(h)
	state.Fail(r.Spec.Journal.errno(), r.Spec.Journal.After)
	a, ctx := sim.NewAgent(context.Background(), h, r.Spec.Kill.sim())
	recordCommands(h, a, &r.agentCmds)
	deps := agentDeps(h, a, state, wrap)
	r.Killed = a.Do(func() {
		if r.Spec.Op == OpRollback {
			r.Outcome = pipeline.Rollback(ctx, deps, nil, r.Spec.runOptions())
		} else {
			r.Outcome = pipeline.Activate(ctx, deps, pipeline.Target{Closure: newSys}, r.Spec.runOptions())
		}
	})
	if r.Killed {
		r.Outcome, r.KilledAt = pipeline.Outcome{}, a.KilledAt()
	}
	return a
}

// runRecovery is the next invocation of the binary: it resolves an
// unfinished earlier run first, as every invocation does. Its state
// directory is writable again.
func (r *Run) runRecovery(h *sim.Host, wrap func(pipeline.Deps) pipeline.Deps) *sim.Agent {
	r.recoverStart = h.Elapsed()
	a, ctx := sim.NewAgent(context.Background(), h, sim.Kill{})
	recordCommands(h, a, &r.recoverCmds)
	deps := agentDeps(h, a, stateDir(h), wrap)
	a.Do(func() { r.Recovered, r.RecoverErr = pipeline.Recover(ctx, deps, r.Spec.runOptions()) })
	return a
}

// agentDeps wires the pipeline through the real backend over the host, as
// backends/sim/e2e_test.go does, with a as the process boundary.
func agentDeps(h *sim.Host, a *sim.Agent, state *sim.StateDir, wrap func(pipeline.Deps) pipeline.Deps) pipeline.Deps {
	b := real.New(real.Config{Runner: a, Locker: a})
	d := pipeline.Deps{Nix: b, Backend: b, FS: h.FS(), Clock: a, Journal: a.Journal(state.Journal()), Confirm: state.Confirm()}
	if wrap != nil {
		d = wrap(d)
	}
	return d
}

// expected is the closure a successful run ends on.
func (r *Run) expected() string {
	if r.Spec.Op == OpRollback {
		return oldSys
	}
	return newSys
}

// final is the last final outcome of the run: the recovered one when the
// agent was killed or interrupted, else the agent's; nil when nothing was
// recovered from a killed or interrupted agent.
func (r *Run) final() *pipeline.Outcome {
	if !r.Killed && r.Outcome.Kind != pipeline.Interrupted {
		return &r.Outcome
	}
	return r.Recovered
}

// Names returns the run's fault names joined with "+" ("baseline" for none).
func (r *Run) Names() string {
	if len(r.Faults) == 0 {
		return "baseline"
	}
	names := make([]string, len(r.Faults))
	for i, f := range r.Faults {
		names[i] = f.Name
	}
	return strings.Join(names, "+")
}

// apply makes the host reboot and its clock step, as b says, when the
// agent was killed.
func (b BetweenSpec) apply(h *sim.Host, killed bool) error {
	if !killed {
		return nil
	}
	if b.ClockStep != 0 {
		h.Clock().StepWall(b.ClockStep)
	}
	if !b.Reboot {
		return nil
	}
	into := ""
	if b.RebootInto != "" {
		into = basenameOf(b.RebootInto)
	}
	return h.Reboot(into)
}
