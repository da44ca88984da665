package testscripts

import (
	"context"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

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
			return usagef("%q: want a duration such as 3.5s", args[1])
		}
		s.w.kill = sim.Kill{Mode: sim.KillAt, At: d, What: "at " + d.String()}
		return nil
	}
	if len(args) < 2 || (args[0] != "before" && args[0] != "after") {
		return usagef("want before|after PROGRAM [WORDS...] [nth=N], or at DURATION")
	}
	p, err := argSpec{"nth="}.parse(args[1:])
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return usagef("want a PROGRAM after %s", args[0])
	}
	nth, err := p.integer("nth", 1)
	if err != nil || nth == 0 {
		return usagef("nth=%q: want a count from 1", p.opts["nth"])
	}
	s.w.kill = sim.Kill{Mode: sim.KillMode(args[0]), Match: sim.Cmd(p.pos[0], p.pos[1:]...), Nth: nth,
		What: strings.Join(args, " ")}
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
