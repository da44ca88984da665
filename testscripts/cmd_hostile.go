package testscripts

import (
	"fmt"
	"path"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// hostileCommands plant what issue 10's hardening defends against: another
// agent run, a link at the record's name.
func hostileCommands() []command {
	return []command{
		{name: "agent-lock", usage: "agent-lock held|free",
			summary: "another nixfleet-activate process holds the agent lock " + pipeline.DefaultAgentLockPath + " (held) or lets it go (free; as the kernel drops a flock(2) when its process exits); schedule `at D agent-lock free` to end a hold while a run waits (wait-lock=D)",
			effect:  agentLockEffect},
		{name: "meanwhile", prints: true, usage: "meanwhile DURATION activate|activate-raw|rollback|recover [ARGS...]",
			summary: "a second agent run starts at DURATION of virtual time after the next activate, rollback or recover starts, while that one goes on: it takes the agent lock as the binary does (a held lock reports skipped at once; wait-lock is not allowed here), prints its outcome first, and is not what `outcome` checks",
			run:     runMeanwhile},
		{name: "record-link", usage: "record-link TARGET",
			summary: "puts a symbolic link to TARGET at the in-flight record's name in " + pipeline.DefaultStateDir + ", as a local user could if the state directory were not checked; the journal neither reads nor writes through it",
			effect:  recordLinkEffect},
	}
}

func agentLockEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 || (args[0] != "held" && args[0] != "free") {
		return nil, usagef("want held or free")
	}
	h, held := s.w.host(), args[0] == "held"
	return func() error {
		if held {
			h.HoldAgentLock(pipeline.DefaultAgentLockPath)
		} else {
			h.ReleaseAgentLock(pipeline.DefaultAgentLockPath)
		}
		return nil
	}, nil
}

func recordLinkEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 || !path.IsAbs(args[0]) {
		return nil, usagef("want an absolute TARGET")
	}
	h, d := s.w.host(), s.w.state
	return func() error {
		if err := h.FS().MkdirAll(d.Dir(), 0o700); err != nil {
			return err
		}
		return h.FS().ReplaceLink(args[0], path.Join(d.Dir(), recordName))
	}, nil
}

// meanwhileRuns are the commands a second agent may run.
var meanwhileRuns = map[string]bool{"activate": true, "activate-raw": true, "rollback": true, "recover": true}

func runMeanwhile(s *script, _ bool, args []string) error {
	if len(args) < 2 {
		return usagef("want DURATION COMMAND [ARGS...]")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		return usagef("%q: want a duration such as 1s", args[0])
	}
	c, ok := lookup(args[1])
	if !ok || !meanwhileRuns[args[1]] {
		return usagef("%q: want activate, activate-raw, rollback or recover", args[1])
	}
	for _, a := range args[2:] {
		// GOTCHA: the virtual clock cannot advance inside one of its own
		// events, so the second run must not wait.
		if len(a) > len("wait-lock=") && a[:len("wait-lock=")] == "wait-lock=" {
			return fmt.Errorf("wait-lock= cannot be used with meanwhile")
		}
	}
	s.w.schedule(d, "meanwhile "+args[1], func() error {
		first := s.w.last
		defer func() { s.w.last = first }()
		return c.run(s, false, args[2:])
	})
	return nil
}
