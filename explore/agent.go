package explore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
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
	killed   bool
}

// process is one invocation of the agent as the host sees it: it runs
// commands and lock probes on the host until it is killed. It implements
// proc.Runner and the real backend's Locker.
//
// GOTCHA: sim.Host.KillBefore/KillAfter kill every later caller of the host
// for good, so a fresh invocation could never run pipeline.Recover after
// them; the kill is therefore applied here, at the agent's own process
// boundary, with the same semantics (before: the command does not run;
// after: it takes effect, its caller never sees the result).
type process struct {
	h    *sim.Host
	kill KillSpec
	// match counts commands matching the kill rule; nil when there is none.
	match sim.Matcher
	seen  int
	dead  bool
	// done is set when the invocation returned: a later kill is moot, and
	// a later command is counted in late (and still runs).
	done bool
	late int
	// onKill ends the agent (cancel its context, freeze its journal).
	onKill func()
	cmds   []command
}

func newProcess(h *sim.Host, kill KillSpec, onKill func()) *process {
	p := &process{h: h, kill: kill, onKill: onKill}
	if kill.Mode == KillBefore || kill.Mode == KillAfter {
		p.match = sim.Cmd(kill.Program, kill.Words...)
	}
	return p
}

// die kills the process now, unless it has already returned.
func (p *process) die() {
	if p.dead || p.done {
		return
	}
	p.dead = true
	if p.onKill != nil {
		p.onKill()
	}
}

// hit reports whether argv is the command the kill rule names, counting it.
func (p *process) hit(argv []string) bool {
	if p.match == nil || !p.match(argv) {
		return false
	}
	p.seen++
	return p.seen == max(p.kill.Nth, 1)
}

// enter starts recording a command. It returns false when the command must
// not run: the process is dead, or dies before it; killAfter says the
// process dies once the command has taken effect.
func (p *process) enter(argv []string) (c command, killAfter, ok bool) {
	c = command{at: p.h.Elapsed(), argv: argv, exit: -1}
	if p.done {
		p.late++
	}
	killNow := p.hit(argv)
	if p.dead || (killNow && p.kill.Mode == KillBefore) {
		p.die()
		c.killed = true
		p.cmds = append(p.cmds, c)
		return c, false, false
	}
	return c, killNow && p.kill.Mode == KillAfter, true
}

// leave records the command's end; true when the process died after it.
func (p *process) leave(c command, killAfter bool) bool {
	if killAfter {
		p.die()
		c.killed = true
	}
	p.cmds = append(p.cmds, c)
	return killAfter
}

// Run implements proc.Runner.
func (p *process) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	c, killAfter, ok := p.enter(cmd.Argv)
	if !ok {
		return proc.Result{}, sim.ErrKilled
	}
	res, err := p.h.Run(ctx, cmd)
	if err == nil {
		c.exit, c.stdout, c.stderr = res.ExitCode, string(res.Stdout), string(res.Stderr)
		c.realised = p.realised(cmd.Argv, c.stdout)
	}
	if p.leave(c, killAfter) {
		return proc.Result{}, sim.ErrKilled
	}
	return res, err
}

// realised resolves what a nix-store --realise printed: the target of its
// --add-root link when it printed the root, else the printed path.
func (p *process) realised(argv []string, stdout string) string {
	printed := strings.TrimSpace(stdout)
	if i := slices.Index(argv, "--add-root"); i >= 0 && i+1 < len(argv) && printed == argv[i+1] {
		if target, err := p.h.FS().Readlink(printed); err == nil {
			return target
		}
	}
	return printed
}

// Probe implements the real backend's Locker over the host's lock; the
// command's exit is flock's (0 free, 1 held).
func (p *process) Probe(name string) (pipeline.LockState, error) {
	c, killAfter, ok := p.enter([]string{sim.LockProbeArgv0, name})
	if !ok {
		return pipeline.LockFree, sim.ErrKilled
	}
	state, err := p.h.Locker().Probe(name)
	if err == nil {
		c.exit = int(state)
	}
	if p.leave(c, killAfter) {
		return pipeline.LockFree, sim.ErrKilled
	}
	return state, err
}

// journal is the agent's in-flight journal: the host's file journal, with
// the state directory's failures, frozen once the agent is dead (a dead
// process writes nothing more), as pipeline/recover_test.go models it.
type journal struct {
	inner  pipeline.FileJournal
	fault  JournalFault
	frozen bool
	// written counts record writes that succeeded.
	written int
}

func (j *journal) Load() (*pipeline.Record, error) { return j.inner.Load() }

// failing reports the errno a change gets now (nil: none).
func (j *journal) failing() error {
	switch {
	case j.fault.Mode == "" || j.written < j.fault.After:
		return nil
	case j.fault.Mode == JournalFull:
		return syscall.ENOSPC
	}
	return syscall.EROFS
}

// Save fails once the fault applies.
func (j *journal) Save(r pipeline.Record) error {
	if j.frozen {
		return nil
	}
	if err := j.failing(); err != nil {
		return &fs.PathError{Op: "writefileatomic", Path: j.file(), Err: err}
	}
	if err := j.inner.Save(r); err != nil {
		return err
	}
	j.written++
	return nil
}

// Clear fails on a read-only state directory (removing works on a full
// disk).
func (j *journal) Clear() error {
	if j.frozen {
		return nil
	}
	if err := j.failing(); errors.Is(err, syscall.EROFS) {
		return &fs.PathError{Op: "remove", Path: j.file(), Err: err}
	}
	return j.inner.Clear()
}

func (j *journal) file() string { return path.Join(j.inner.Dir, pipeline.RecordFile) }

// fileJournal is the host's journal in the default state directory.
func fileJournal(h *sim.Host) pipeline.FileJournal {
	return pipeline.FileJournal{FS: h.FS(), Dir: pipeline.DefaultStateDir}
}

// errKilledAt explains the agent's context end.
func errKilledAt(at time.Duration) error {
	return fmt.Errorf("explore: agent killed at +%s: %w", at, errKilled)
}

var errKilled = errors.New("killed")
