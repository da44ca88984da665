package testscripts

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// killRule is where the next agent process dies.
type killRule struct {
	match sim.Matcher
	// after: the matched command takes effect first (its caller never
	// sees the result); otherwise it is never issued.
	after bool
	what  string
}

// agentDied is what a mortal agent panics with at its kill point.
type agentDied struct{ at string }

// mortalAgent is the agent process's view of the host: the host's runner
// and lock probe, with an optional point at which the process dies.
//
// GOTCHA: the simulator's own KillBefore/KillAfter make every later
// command of the host fail for good, so a second agent (recover) could not
// run; the harness kills only this agent instead, by unwinding its stack
// with a panic that runAgent recovers: nothing after the kill point runs in
// the agent, while the host's units go on in virtual time.
type mortalAgent struct {
	h    *sim.Host
	kill *killRule
}

var (
	_ proc.Runner = (*mortalAgent)(nil)
	_ real.Locker = (*mortalAgent)(nil)
)

// Run implements proc.Runner.
func (m *mortalAgent) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	m.dieAt(cmd.Argv, false)
	res, err := m.h.Run(ctx, cmd)
	m.dieAt(cmd.Argv, true)
	return res, err
}

// Probe implements the real backend's Locker seam.
func (m *mortalAgent) Probe(path string) (pipeline.LockState, error) {
	argv := []string{sim.LockProbeArgv0, path}
	m.dieAt(argv, false)
	st, err := m.h.Locker().Probe(path)
	m.dieAt(argv, true)
	return st, err
}

func (m *mortalAgent) dieAt(argv []string, after bool) {
	if k := m.kill; k != nil && k.after == after && k.match(argv) {
		panic(agentDied{at: k.what})
	}
}

// runMortal runs agent and reports whether the process died instead of
// returning.
func runMortal(agent func() (*pipeline.Outcome, error)) (out *pipeline.Outcome, err error, died string) {
	defer func() {
		if p := recover(); p != nil {
			d, ok := p.(agentDied)
			if !ok {
				panic(p)
			}
			died = d.at
		}
	}()
	out, err = agent()
	return out, err, ""
}

// killAgentCommand is the `kill-agent` command.
func killAgentCommand() command {
	return command{name: "kill-agent", usage: "kill-agent before|after PROGRAM [WORDS...]",
		summary: "the next activate, rollback or recover dies (SIGKILL) at the first command of PROGRAM whose arguments contain WORDS in order (flock(2) is the lock probe): before it is issued, or after it took effect; that run prints `agent killed` and no outcome, its in-flight record stays, and the units it started go on",
		run:     runKillAgent}
}

func runKillAgent(s *script, _ bool, args []string) error {
	if len(args) < 2 || (args[0] != "before" && args[0] != "after") {
		return fmt.Errorf("want before|after PROGRAM [WORDS...]")
	}
	s.w.kill = &killRule{match: sim.Cmd(args[1], args[2:]...), after: args[0] == "after",
		what: strings.Join(args, " ")}
	return nil
}

// recoverCommand is the `recover` command.
func recoverCommand() command {
	return command{name: "recover", prints: true, usage: "recover",
		summary: "runs pipeline.Recover: works out the outcome of an unfinished earlier run from its in-flight record and the host as it is now, without firing anything; prints and keeps the outcome like activate, or prints `no unfinished run`",
		run:     runRecover}
}

func runRecover(s *script, _ bool, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("takes no arguments")
	}
	return s.runAgent(parsed{}, func(ctx context.Context, d pipeline.Deps) (*pipeline.Outcome, error) {
		return pipeline.Recover(ctx, d, pipeline.Options{})
	})
}
