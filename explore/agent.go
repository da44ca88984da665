package explore

import (
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// command is one command an agent process ran on the host, with what it
// returned.
type command struct {
	at     time.Duration
	argv   []string
	exit   int // -1 when it returned no status
	stdout string
	stderr string
	// realised is the store path a nix-store --realise made valid: its
	// stdout, or the target of the --add-root link it printed (Nix 2.8
	// prints the root), read right after the command.
	realised string
	// killed: the agent died at this command (before it ran, or before it
	// saw its result).
	killed bool
}

// recordCommands makes a append each command of its process to *cmds; a
// command the agent died at after it ran keeps its result for the
// invariants (its caller never saw it).
func recordCommands(h *sim.Host, a *sim.Agent, cmds *[]command) {
	a.OnCommand = func(c sim.Command) {
		cmd := command{at: c.At, argv: c.Argv, exit: c.Exit, stdout: c.Stdout, stderr: c.Stderr, killed: c.Killed}
		if c.Ran && c.Exit != -1 {
			cmd.realised = realised(h, c.Argv, c.Stdout)
		}
		*cmds = append(*cmds, cmd)
	}
}

// realised resolves what a nix-store --realise printed: the target of its
// --add-root link when it printed the root, else the printed path.
func realised(h *sim.Host, argv []string, stdout string) string {
	printed := strings.TrimSpace(stdout)
	if i := slices.Index(argv, "--add-root"); i >= 0 && i+1 < len(argv) && printed == argv[i+1] {
		if target, err := h.FS().Readlink(printed); err == nil {
			return target
		}
	}
	return printed
}

// sim is the kill rule as the agent-process model takes it.
func (k KillSpec) sim() sim.Kill {
	kill := sim.Kill{Mode: k.Mode, Nth: k.Nth, At: k.At, What: strings.TrimPrefix(killLine(k), "kill-agent ")}
	if k.Mode == KillBefore || k.Mode == KillAfter {
		kill.Match = sim.Cmd(k.Program, k.Words...)
	}
	return kill
}

// errno is the state directory's errno for the fault (nil: none).
func (j JournalFault) errno() error {
	switch j.Mode {
	case JournalFull:
		return syscall.ENOSPC
	case JournalReadOnly:
		return syscall.EROFS
	}
	return nil
}

// stateDir is the host's state directory as the agent's process sees it.
func stateDir(h *sim.Host) *sim.StateDir {
	return sim.NewStateDir(h.FS(), pipeline.DefaultStateDir)
}

// fileJournal is the host's journal in the default state directory.
func fileJournal(h *sim.Host) pipeline.FileJournal {
	return pipeline.FileJournal{FS: h.FS(), Dir: pipeline.DefaultStateDir}
}
