package testscripts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// killRule is where the next agent process dies: at a command, or at a
// virtual time.
type killRule struct {
	// match picks the command; nil for a kill at a virtual time.
	match sim.Matcher
	// nth counts matching commands from 1: the nth one is the kill point.
	nth int
	// after: the matched command takes effect first (its caller never
	// sees the result); otherwise it is never issued.
	after bool
	// at is the offset from the run's start of a kill at a virtual time.
	at   time.Duration
	what string
}

// agentDied is what a mortal agent panics with at its kill point.
type agentDied struct{ at string }

// errKilled ends a killed agent's context.
var errKilled = errors.New("killed: SIGKILL")

// mortalAgent is the agent process's view of the host: the host's runner,
// lock probe and clock, and its in-flight journal, with an optional point
// at which the process dies.
//
// GOTCHA: the simulator's own KillBefore/KillAfter make every later
// command of the host fail for good, so a second agent (recover) could not
// run; the harness kills only this agent instead, by unwinding its stack
// with a panic that runMortal recovers: nothing after the kill point runs in
// the agent, while the host's units go on in virtual time.
type mortalAgent struct {
	h    *sim.Host
	kill *killRule
	// seen counts the commands the kill rule matched so far.
	seen int
	// killAt is the virtual instant of a kill at a time (zero: none).
	killAt time.Time
	// dead: the kill time has come; the agent dies at its next step
	// (command, lock probe, clock read or wait, journal access).
	dead bool
	// done: the run has returned; a kill time reached later is moot.
	done bool
}

var (
	_ proc.Runner      = (*mortalAgent)(nil)
	_ real.Locker      = (*mortalAgent)(nil)
	_ clock.Clock      = (*mortalAgent)(nil)
	_ pipeline.Journal = mortalJournal{}
)

// newMortalAgent starts an agent process that dies as kill says (nil:
// never); cancel ends its context when it dies at a virtual time.
func newMortalAgent(h *sim.Host, kill *killRule, cancel context.CancelCauseFunc) *mortalAgent {
	m := &mortalAgent{h: h, kill: kill}
	if kill != nil && kill.match == nil {
		m.killAt = h.Clock().Steady().Add(kill.at)
		h.Clock().Schedule(kill.at, func() {
			if !m.done {
				m.dead = true
				cancel(errKilled)
			}
		})
	}
	return m
}

// Run implements proc.Runner.
func (m *mortalAgent) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	hit := m.hit(cmd.Argv)
	m.dieAt(hit, false)
	res, err := m.h.Run(ctx, cmd)
	m.dieAt(hit, true)
	return res, err
}

// Probe implements the real backend's Locker seam.
func (m *mortalAgent) Probe(path string) (pipeline.LockState, error) {
	hit := m.hit([]string{sim.LockProbeArgv0, path})
	m.dieAt(hit, false)
	st, err := m.h.Locker().Probe(path)
	m.dieAt(hit, true)
	return st, err
}

// Now implements clock.Clock.
func (m *mortalAgent) Now() time.Time {
	m.alive()
	return m.h.Clock().Now()
}

// After implements clock.Clock: a wait that spans the kill time ends the
// agent at that very instant, so time kills are exact mid-poll.
func (m *mortalAgent) After(d time.Duration) <-chan time.Time {
	m.alive()
	clk := m.h.Clock()
	if !m.killAt.IsZero() {
		if until := m.killAt.Sub(clk.Steady()); until <= d {
			clk.Advance(until) // runs the kill event
			m.alive()
		}
	}
	return clk.After(d)
}

// hit reports whether argv is the kill rule's command, counting matches.
func (m *mortalAgent) hit(argv []string) bool {
	if m.kill == nil || m.kill.match == nil || !m.kill.match(argv) {
		return false
	}
	m.seen++
	return m.seen == m.kill.nth
}

// dieAt kills the agent before or after a command: at its kill point, or
// because its kill time came (during the command, for after).
func (m *mortalAgent) dieAt(hit, after bool) {
	if hit && m.kill.after == after {
		m.dead = true
	}
	m.alive()
}

// alive unwinds the agent once it is dead.
func (m *mortalAgent) alive() {
	if m.dead {
		panic(agentDied{at: m.kill.what})
	}
}

// journal returns j as this process sees it: a dead agent writes nothing.
func (m *mortalAgent) journal(j pipeline.Journal) pipeline.Journal {
	return mortalJournal{m: m, j: j}
}

// mortalJournal is the agent's in-flight journal, gone with the agent.
type mortalJournal struct {
	m *mortalAgent
	j pipeline.Journal
}

func (mj mortalJournal) Load() (*pipeline.Record, error) { mj.m.alive(); return mj.j.Load() }
func (mj mortalJournal) Save(r pipeline.Record) error    { mj.m.alive(); return mj.j.Save(r) }
func (mj mortalJournal) Clear() error                    { mj.m.alive(); return mj.j.Clear() }

// lastActivation returns the last-activation store as this process sees
// it: a dead agent writes nothing.
func (m *mortalAgent) lastActivation(l pipeline.LastActivationStore) pipeline.LastActivationStore {
	return mortalLastActivation{m: m, l: l}
}

// mortalLastActivation is the agent's last-activation store, gone with the
// agent.
type mortalLastActivation struct {
	m *mortalAgent
	l pipeline.LastActivationStore
}

func (ml mortalLastActivation) Load() (*pipeline.LastActivation, error) {
	ml.m.alive()
	return ml.l.Load()
}

func (ml mortalLastActivation) Save(la pipeline.LastActivation) error {
	ml.m.alive()
	return ml.l.Save(la)
}

// runMortal runs agent and reports whether the process died instead of
// returning.
func (m *mortalAgent) runMortal(agent func() (*pipeline.Outcome, error)) (out *pipeline.Outcome, err error, died string) {
	defer func() {
		m.done = true
		if p := recover(); p != nil {
			d, ok := p.(agentDied)
			if !ok {
				panic(p)
			}
			died = d.at
		}
	}()
	out, err = agent()
	// LOADBEARING: a run that returns after its kill time never reports:
	// the process is gone.
	m.alive()
	return out, err, ""
}

// killAgentCommand is the `kill-agent` command.
func killAgentCommand() command {
	return command{name: "kill-agent", usage: "kill-agent before|after PROGRAM [WORDS...] [nth=1] | kill-agent at DURATION",
		summary: "the next activate, rollback or recover dies (SIGKILL): at the nth command of PROGRAM whose arguments contain WORDS in order (flock(2) is the lock probe), before it is issued or after it took effect; or at DURATION of virtual time from its start (mid-poll, mid-wait: its next step never happens, a command under way completes unseen); that run prints `agent killed` and no outcome, its journal writes stop, its in-flight record stays, and the units it started go on",
		run:     runKillAgent}
}

func runKillAgent(s *script, _ bool, args []string) error {
	if len(args) == 2 && args[0] == "at" {
		d, err := time.ParseDuration(args[1])
		if err != nil || d < 0 {
			return fmt.Errorf("%q: want a duration such as 3.5s", args[1])
		}
		s.w.kill = &killRule{at: d, what: "at " + d.String()}
		return nil
	}
	if len(args) < 2 || (args[0] != "before" && args[0] != "after") {
		return fmt.Errorf("want before|after PROGRAM [WORDS...] [nth=N], or at DURATION")
	}
	p, err := argSpec{"nth="}.parse(args[1:])
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return fmt.Errorf("want a PROGRAM after %s", args[0])
	}
	nth, err := p.integer("nth", 1)
	if err != nil || nth == 0 {
		return fmt.Errorf("nth=%q: want a count from 1", p.opts["nth"])
	}
	s.w.kill = &killRule{match: sim.Cmd(p.pos[0], p.pos[1:]...), nth: nth, after: args[0] == "after",
		what: strings.Join(args, " ")}
	return nil
}

// recoverSpec are recover's options.
var recoverSpec = argSpec{"interrupt-at="}

// recoverCommand is the `recover` command.
func recoverCommand() command {
	return command{name: "recover", prints: true, usage: "recover [interrupt-at=D]",
		summary: "runs pipeline.Recover with the agent's flags (`agent`): works out the outcome of an unfinished earlier run from its in-flight record and the host as it is now, without firing its switch again (it may finish a restore: switch-generation and the previous closure's boot action, both idempotent); prints and keeps the outcome like activate, or prints `no unfinished run`, or for a record it cannot use the journal's report (`in-flight record ... unusable (kept as ...)`); interrupt-at cancels it at D of virtual time (SIGTERM), as activate's",
		run:     runRecover}
}

func runRecover(s *script, _ bool, args []string) error {
	p, err := recoverSpec.parseN(args, 0, "no positional argument")
	if err != nil {
		return err
	}
	return s.runAgent(p, func(ctx context.Context, d pipeline.Deps) (*pipeline.Outcome, error) {
		return pipeline.Recover(ctx, d, s.w.agent.opts)
	})
}
