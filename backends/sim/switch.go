package sim

import (
	"path"
	"time"
)

// SwitchBehaviour is how a closure's `switch-to-configuration switch` (and
// `test`) behaves over virtual time, offsets counted from the unit's start.
// Events at offsets after the process has ended (Duration, unless Never)
// do not happen.
type SwitchBehaviour struct {
	// Duration is the time from start until the process ends. GOTCHA: a
	// failing end at 0 under `systemd-run --service-type=exec` (as the real
	// backend fires) fails systemd-run's start job itself (observed with
	// systemd 252); give failures a Duration > 0 to see them in the unit.
	Duration time.Duration
	// Never: the process never ends on its own (Duration is ignored).
	Never bool
	// Exit is the exit status at Duration (0, 1, 2, 4, 100, ...).
	Exit int
	// Signal, when > 0, kills the process with this signal at Duration
	// instead (ExecMainCode 2, or 3 with CoreDump).
	Signal   int
	CoreDump bool
	// Flip is how /run/current-system moves.
	Flip Flip
	// ProfileMove, when set, re-points the system profile during the run,
	// as an activation script that runs nix-env itself would.
	ProfileMove *ProfileMove
	// Events are extra effects at chosen offsets, for scenarios the fields
	// above do not cover.
	Events []Event
	// BootloaderFails: the bootloader step (install-bootloader, run before
	// activation) fails, so the boot default stays what it was; how the
	// process ends is still Exit/Signal (a real failing install makes
	// switch-to-configuration die before it activates anything: pair with
	// Flip.Never and Exit 1).
	BootloaderFails bool
	// FailedUnits are the units ("nginx.service") the activation fails to
	// start: from the process's end on, `systemctl list-units
	// --state=failed` lists them (pair with Exit 4, switch-to-configuration's
	// "some units failed").
	FailedUnits []string
	// Lingers, when > 0, is a process the activation leaves in the unit's
	// cgroup that ignores SIGTERM: once the main process has ended cleanly
	// (active/exited), a `systemctl stop` of the unit takes Lingers (the
	// unit's TimeoutStopSec), kills it, and leaves the unit loaded and
	// failed with Result=timeout, as systemd 252 does (observed,
	// backends/real/realtest/OBSERVED.md). Not modelled: a Lingers beyond
	// the agent's command timeout (the real agent kills its systemctl), a
	// stop while the main process runs, and a failing end (the real unit
	// then stays deactivating for Lingers); the scenario language refuses
	// lingers= with those ends.
	Lingers time.Duration
	// TakesNoLock: the program is a test script standing in for
	// switch-to-configuration that neither takes nor waits for the switch
	// lock (the fidelity tests' closures); the real one always does.
	TakesNoLock bool
}

// Flip is when and where switch-to-configuration re-points
// /run/current-system (the activation script's atomic `ln -sfn`).
type Flip struct {
	// At is the offset of the flip.
	At time.Duration
	// Never: the link is not touched.
	Never bool
	// To is the basename flipped to ("" = the closure itself; another
	// basename flips to a third closure, which is put in the store).
	To string
	// AbsentFor, when > 0, removes the link at At and recreates it at
	// At+AbsentFor instead of replacing it atomically.
	AbsentFor time.Duration
	// BackAt, when > 0, flips the link back to the closure it pointed at
	// when the unit started, at this offset.
	BackAt time.Duration
}

// ProfileMove re-points the system profile at offset At: to a new
// generation for basename To (as nix-env --set), or to the existing
// Generation (as --switch-generation).
type ProfileMove struct {
	At         time.Duration
	To         string
	Generation int
}

// Event is a custom effect at an offset from the unit's start; Do runs on
// the host's goroutine while the clock advances.
type Event struct {
	At time.Duration
	Do func(h *Host)
}

// BootBehaviour is how `switch-to-configuration boot` behaves: it only
// makes the closure the boot default (when it exits 0), never touching
// /run/current-system.
type BootBehaviour struct {
	Duration time.Duration
	Exit     int
	Signal   int
	CoreDump bool
	Never    bool
}

// DefaultSwitch is a well-behaved switch: flips the link to itself at 3 s,
// exits 0 at 5 s.
func DefaultSwitch() SwitchBehaviour {
	return SwitchBehaviour{Duration: 5 * time.Second, Flip: Flip{At: 3 * time.Second}}
}

// DefaultBoot is a well-behaved boot action: exits 0 after 1 s.
func DefaultBoot() BootBehaviour { return BootBehaviour{Duration: time.Second} }

// runSwitch schedules the closure's switch-to-configuration ACTION in u:
// switch and test follow SwitchBehaviour (switch also makes it the boot
// default at once, as the bootloader is installed before activation,
// whatever the exit status),
// boot follows BootBehaviour, dry-activate exits 0 at once; any other
// action prints usage and exits 1. The process holds the switch lock
// exclusively while it runs, and waits for it first while another holds it.
// A BrokenBinary never runs: status 203 at once.
func (h *Host) runSwitch(u *unit, c *closure, action string) {
	if c.spec.BrokenBinary {
		h.after(u, 0, func() { h.mainExited(u, CodeExited, exitExec, false) })
		return
	}
	// switch-to-configuration creates /run/nixos and its lock file, then
	// holds the lock exclusively until it exits.
	_ = h.fs.MkdirAll(path.Dir(h.cfg.LockPath), 0o755)
	if !h.exists(h.cfg.LockPath) {
		_ = h.fs.WriteFile(h.cfg.LockPath, nil, 0o644)
	}
	// GOTCHA: the real switch takes the lock with a blocking flock(LOCK_EX) (NixOS 23.05+ perl and
	// switch-to-configuration-ng alike): while another holds it, it waits and changes nothing; it never fails for it.
	lockless := action == "switch" && c.switchBehaviour().TakesNoLock
	if !lockless && h.lockHeldBesides(u) {
		h.after(u, lockWaitRetry, func() { h.runSwitch(u, c, action) })
		return
	}
	u.proc.locks = !lockless
	switch action {
	case "switch", "test":
		if action == "switch" && !c.switchBehaviour().BootloaderFails {
			h.bootDefault = c.spec.Basename
		}
		h.scheduleSwitch(u, c, c.switchBehaviour())
	case "boot":
		h.scheduleBoot(u, c, c.bootBehaviour())
	case "dry-activate":
		h.after(u, 0, func() { h.mainExited(u, CodeExited, 0, false) })
	default:
		h.after(u, 0, func() { h.mainExited(u, CodeExited, 1, false) })
	}
}

// lockWaitRetry is how often a switch waiting for the switch lock looks
// again (virtual time; the real flock(2) wakes at once on release, so a
// scenario sees the start at most this much late).
const lockWaitRetry = 10 * time.Millisecond

// exitExec is the status systemd gives a main process it could not
// execute (EXIT_EXEC, observed with systemd 252).
const exitExec = 203

// after schedules fn at offset d while u's process is alive.
func (h *Host) after(u *unit, d time.Duration, fn func()) {
	p := u.proc
	h.clk.Schedule(d, func() {
		if p.alive {
			fn()
		}
	})
}

// scheduleSwitch puts b's events on the clock.
//
// LOADBEARING: events are scheduled in this order so that at equal offsets
// the link flips before the profile moves, custom events run next, and the
// process ends last (clock.Virtual runs same-instant events in insertion
// order).
func (h *Host) scheduleSwitch(u *unit, c *closure, b SwitchBehaviour) {
	u.lingers = b.Lingers
	within := func(d time.Duration) bool { return b.Never || d <= b.Duration }
	if !b.Flip.Never {
		h.scheduleFlip(u, c, b.Flip, within)
	}
	if m := b.ProfileMove; m != nil && within(m.At) {
		h.after(u, m.At, func() { h.moveProfile(*m) })
	}
	for _, ev := range b.Events {
		if within(ev.At) {
			h.after(u, ev.At, func() { ev.Do(h) })
		}
	}
	if len(b.FailedUnits) > 0 && !b.Never {
		h.after(u, b.Duration, func() { h.failedUnits = append(h.failedUnits, b.FailedUnits...) })
	}
	if !b.Never {
		h.after(u, b.Duration, func() { h.endMain(u, b.Exit, b.Signal, b.CoreDump) })
	}
}

func (h *Host) scheduleFlip(u *unit, c *closure, f Flip, within func(time.Duration) bool) {
	previous, _ := h.fs.Readlink(DefaultCurrentSystem)
	toBase := orDefault(f.To, c.spec.Basename)
	to := storePath(toBase)
	// A closure the link flips to exists in the store (a bad To dangles).
	_ = h.ensureValid(toBase)
	if f.AbsentFor > 0 {
		if within(f.At) {
			h.after(u, f.At, func() { _ = h.fs.Remove(DefaultCurrentSystem) })
		}
		if within(f.At + f.AbsentFor) {
			h.after(u, f.At+f.AbsentFor, func() { h.pointCurrent(to) })
		}
	} else if within(f.At) {
		h.after(u, f.At, func() { h.pointCurrent(to) })
	}
	if f.BackAt > 0 && within(f.BackAt) {
		h.after(u, f.BackAt, func() { h.pointCurrent(previous) })
	}
}

// pointCurrent re-points /run/current-system atomically at target; an
// empty target removes the link (there was none to go back to).
func (h *Host) pointCurrent(target string) {
	if target == "" {
		_ = h.fs.Remove(DefaultCurrentSystem)
		return
	}
	_ = h.fs.ReplaceLink(target, DefaultCurrentSystem)
}

func (h *Host) moveProfile(m ProfileMove) {
	if m.To != "" {
		_, _ = h.SetProfile(m.To)
		return
	}
	h.switchGeneration(h.cfg.Profile, m.Generation)
}

func (h *Host) scheduleBoot(u *unit, c *closure, b BootBehaviour) {
	if b.Never {
		return
	}
	h.after(u, b.Duration, func() {
		if b.Exit == 0 && b.Signal == 0 {
			h.bootDefault = c.spec.Basename
		}
		h.endMain(u, b.Exit, b.Signal, b.CoreDump)
	})
}

// endMain ends u's main process by exit status or signal.
func (h *Host) endMain(u *unit, exit, signal int, coreDump bool) {
	switch {
	case signal > 0 && coreDump:
		h.mainExited(u, CodeDumped, signal, false)
	case signal > 0:
		h.mainExited(u, CodeKilled, signal, false)
	default:
		h.mainExited(u, CodeExited, exit, false)
	}
}

// BootDefault returns the basename the bootloader boots next ("" when no
// switch or boot action has set one).
func (h *Host) BootDefault() string { return h.bootDefault }

// SetBootDefault makes basename what the bootloader boots next, as an
// earlier switch or boot action left it. Errors: a bad basename.
func (h *Host) SetBootDefault(basename string) error {
	if err := h.ensureValid(basename); err != nil {
		return err
	}
	h.bootDefault = basename
	return nil
}
