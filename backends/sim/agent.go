package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// KillMode is where a Kill stops the agent process.
type KillMode string

// Kill modes.
const (
	// KillNever: the process runs to its end.
	KillNever KillMode = ""
	// KillBefore: the process dies as it is about to issue the matched
	// command; the command never runs.
	KillBefore KillMode = "before"
	// KillAfter: the process dies once the matched command has taken
	// effect on the host (a systemd-run has started its unit); it never
	// sees the command's result.
	KillAfter KillMode = "after"
	// KillAt: the process dies at a virtual instant (Kill.At after its
	// start): a command under way completes on the host unseen, a wait
	// under way ends there.
	KillAt KillMode = "at"
)

// Kill is where an agent process dies (SIGKILL). The zero value never
// kills.
type Kill struct {
	Mode KillMode
	// Match picks the command of KillBefore and KillAfter (a lock probe is
	// the command LockProbeArgv0 PATH).
	Match Matcher
	// Nth counts matching commands from 1: the nth one is the kill point
	// (0 means 1).
	Nth int
	// At is the offset of a KillAt from the process's start (virtual
	// time).
	At time.Duration
	// What names the kill point in reports ("after systemd-run").
	What string
}

// ErrKilled is the cause of a killed agent process's context
// (context.Cause), and what Agent.Do reports when the body died.
var ErrKilled = errors.New("sim: agent process killed")

// Command is one command (or lock probe) an agent process issued on the
// host, with what it returned, as Agent.OnCommand sees it.
type Command struct {
	// At is when it was issued, virtual time since the host was created.
	At   time.Duration
	Argv []string
	// Ran: the host ran it (false for a command the process died before).
	Ran bool
	// Exit is its exit status (a probe's: 0 free, 1 held); -1 when it
	// returned none.
	Exit           int
	Stdout, Stderr string
	// Killed: the process died at this command, before it ran or before
	// it saw its result.
	Killed bool
	// Late: the process's Do had returned when it was issued.
	Late bool
}

// Agent is one invocation of the agent process on the host (one
// activate, rollback or recover), the only model of a killed agent that the
// explorer, the scenario suite and the pipeline's recovery tests share. It
// is the process's view of the host: its command runner (proc.Runner), its
// lock probe (the real backend's Locker), its clock (clock.Clock) and its
// state files (Journal, LastActivation); wire the pipeline through them
// and run it inside Do.
//
// A kill (Kill) means SIGKILL of this process and nothing else:
//   - it happens at one step boundary of the process: before a command or
//     lock probe is issued (KillBefore), once it has taken effect
//     (KillAfter), or at a virtual instant (KillAt), which lands inside a
//     clock wait (the wait ends there) or inside a command (the command
//     completes on the host, the process never sees its result);
//   - nothing of the process happens after the kill point: no further
//     command, probe, clock read or wait, record or last-activation access;
//     its context is cancelled with cause ErrKilled and the pipeline's
//     stack is unwound (a panic that Do recovers), so it returns no
//     outcome; deferred functions run as the stack unwinds and release what
//     the kernel releases for a dead process (a flock, a subscription),
//     and any step one of them tries unwinds again;
//   - the host goes on: a detached transient unit the process started keeps
//     running in virtual time, the store, the profile and every file stay
//     as the process left them;
//   - the in-flight record is what the process durably wrote before the
//     kill point (the last Save that returned nil), nothing more.
//
// A kill point reached after Do returned is moot. Filesystem access
// through the host's view is not a step of its own: virtual time stands
// still there, so a KillAt can only land in a command or a wait.
//
// GOTCHA: the unwinding panic must reach Do: code that recovers panics
// between Do and the kill point (none in pipeline/) would swallow the kill.
type Agent struct {
	h    *Host
	kill Kill
	// seen counts the commands the kill rule matched so far.
	seen int
	// killAt is the steady instant of a KillAt (zero: none).
	killAt time.Time
	cancel context.CancelCauseFunc
	// dead: the kill point has come; the process unwinds at its next step.
	dead bool
	// diedAt is when it died (virtual time since the host was created).
	diedAt time.Duration
	// done: Do has returned.
	done bool
	late int
	// OnCommand, when set, sees each command and lock probe as it ends
	// (one the process died before, too), while the host is as that
	// command left it.
	OnCommand func(Command)
}

// agentDied is the panic that unwinds a killed agent to Do.
type agentDied struct{ a *Agent }

// NewAgent starts an agent process on h that dies as kill says (the zero
// Kill: never). The returned context is parent's child that the kill
// cancels with cause ErrKilled; give it to the pipeline.
func NewAgent(parent context.Context, h *Host, kill Kill) (*Agent, context.Context) {
	ctx, cancel := context.WithCancelCause(parent)
	a := &Agent{h: h, kill: kill, cancel: cancel}
	if kill.Mode == KillAt {
		a.killAt = h.clk.Steady().Add(kill.At)
		h.clk.Schedule(kill.At, func() { a.die() })
	}
	return a, ctx
}

// Do runs body as the process's life. It reports whether the process was
// killed: body was then cut short at its kill point (or ran on past a kill
// it did not see, which means the same: a dead process reports nothing), and
// whatever it returned is not the process's. A panic other than the kill
// goes on up.
func (a *Agent) Do(body func()) (killed bool) {
	defer func() {
		a.done = true
		a.cancel(nil)
		if p := recover(); p != nil {
			if d, ok := p.(agentDied); !ok || d.a != a {
				panic(p)
			}
			killed = true
		}
	}()
	body()
	// LOADBEARING: a body that returns after the kill never reports: the process is gone.
	return a.dead
}

// Host is the host the process runs on.
func (a *Agent) Host() *Host { return a.h }

// Killed reports whether the process has died.
func (a *Agent) Killed() bool { return a.dead }

// KilledAt is when the process died, virtual time since the host was
// created (0 when it did not).
func (a *Agent) KilledAt() time.Duration { return a.diedAt }

// What names the kill rule's point (Kill.What).
func (a *Agent) What() string { return a.kill.What }

// Late counts commands and probes issued after Do returned (they still
// run): a process leaving work behind.
func (a *Agent) Late() int { return a.late }

// die kills the process now, unless it is dead or Do returned.
func (a *Agent) die() {
	if a.dead || a.done {
		return
	}
	a.dead, a.diedAt = true, a.h.Elapsed()
	a.cancel(ErrKilled)
}

// alive unwinds the process once it is dead.
func (a *Agent) alive() {
	if a.dead && !a.done {
		panic(agentDied{a})
	}
}

// hit reports whether argv is the kill rule's command, counting matches.
func (a *Agent) hit(argv []string) bool {
	if a.kill.Match == nil || (a.kill.Mode != KillBefore && a.kill.Mode != KillAfter) || !a.kill.Match(argv) {
		return false
	}
	a.seen++
	return a.seen == max(a.kill.Nth, 1)
}

// step runs one command or probe of the process: issue it (or die before
// it), run it on the host, die after it when its end is the kill point or
// the kill time came meanwhile.
func (a *Agent) step(argv []string, run func(c *Command)) {
	a.alive()
	c := Command{At: a.h.Elapsed(), Argv: argv, Exit: -1, Late: a.done}
	if a.done {
		a.late++
	}
	hit := a.hit(argv)
	if hit && a.kill.Mode == KillBefore {
		a.die()
		a.end(c, true)
	}
	run(&c)
	c.Ran = true
	if hit && a.kill.Mode == KillAfter {
		a.die()
	}
	a.end(c, a.dead && !a.done)
}

// end reports c to OnCommand and unwinds when the process died at it.
func (a *Agent) end(c Command, died bool) {
	c.Killed = died
	if a.OnCommand != nil {
		a.OnCommand(c)
	}
	a.alive()
}

// Run implements proc.Runner.
func (a *Agent) Run(ctx context.Context, cmd proc.Cmd) (res proc.Result, err error) {
	a.step(cmd.Argv, func(c *Command) {
		res, err = a.h.Run(ctx, cmd)
		if err == nil {
			c.Exit, c.Stdout, c.Stderr = res.ExitCode, string(res.Stdout), string(res.Stderr)
		}
	})
	return res, err
}

// Probe implements the real backend's Locker over the host's lock; the
// command's exit is flock's (0 free, 1 held).
func (a *Agent) Probe(name string) (state pipeline.LockState, err error) {
	a.step([]string{LockProbeArgv0, name}, func(c *Command) {
		state, err = a.h.Locker().Probe(name)
		if err == nil {
			c.Exit = int(state)
		}
	})
	return state, err
}

// Now implements clock.Clock.
func (a *Agent) Now() time.Time {
	a.alive()
	return a.h.clk.Now()
}

// After implements clock.Clock: a wait that spans the kill time ends the
// process at that very instant.
func (a *Agent) After(d time.Duration) <-chan time.Time {
	a.alive()
	if !a.killAt.IsZero() && !a.done {
		if until := a.killAt.Sub(a.h.clk.Steady()); until <= d {
			a.h.clk.Advance(until) // runs the kill event
			a.alive()
		}
	}
	return a.h.clk.After(d)
}

// Journal returns j as this process sees it: every access is a step (a
// dead process reads and writes nothing).
func (a *Agent) Journal(j pipeline.Journal) pipeline.Journal { return agentJournal{a: a, j: j} }

type agentJournal struct {
	a *Agent
	j pipeline.Journal
}

func (aj agentJournal) Load() (*pipeline.Record, error) { aj.a.alive(); return aj.j.Load() }
func (aj agentJournal) Save(r pipeline.Record) error    { aj.a.alive(); return aj.j.Save(r) }
func (aj agentJournal) Clear() error                    { aj.a.alive(); return aj.j.Clear() }

// LastActivation returns l as this process sees it.
func (a *Agent) LastActivation(l pipeline.LastActivationStore) pipeline.LastActivationStore {
	return agentLastActivation{a: a, l: l}
}

type agentLastActivation struct {
	a *Agent
	l pipeline.LastActivationStore
}

func (al agentLastActivation) Load() (*pipeline.LastActivation, error) {
	al.a.alive()
	return al.l.Load()
}

func (al agentLastActivation) Save(la pipeline.LastActivation) error {
	al.a.alive()
	return al.l.Save(la)
}

// String describes the kill rule for logs.
func (k Kill) String() string {
	if k.What != "" {
		return k.What
	}
	if k.Mode == KillAt {
		return fmt.Sprintf("at %s", k.At)
	}
	return string(k.Mode)
}
