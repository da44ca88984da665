package sim

import (
	"errors"
	"fmt"
	"path"
	"syscall"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// LockState is the state a scenario puts the switch lock in.
type LockState string

const (
	// LockFree: the lock file exists and nobody holds it.
	LockFree LockState = "free"
	// LockShared: someone holds it shared (a probe still gets it).
	LockShared LockState = "shared"
	// LockExclusive: a switch-to-configuration outside the simulation holds
	// it exclusively.
	LockExclusive LockState = "exclusive"
	// LockStale: the file was left behind by a process that died; flock
	// locks die with their holder, so it is free.
	LockStale LockState = "stale"
	// LockFileMissing: /run/nixos exists, the lock file does not.
	LockFileMissing LockState = "file-missing"
	// LockDirMissing: /run/nixos itself is missing (a fresh host).
	LockDirMissing LockState = "dir-missing"
	// LockProbeError: the probe fails as the real flock(2) probe does when
	// it may not open the file (an error wrapping syscall.EACCES); the state
	// is unknown.
	LockProbeError LockState = "probe-error"
)

// LockProbeArgv0 names lock probes in the command log. A probe is a
// flock(2) call, not a process; its entry's ExitCode follows `flock
// --nonblock --shared L true` (util-linux 2.38, REAL-TOOLS.md): 0 free, 1
// held exclusively; a failed probe is -1 with Err set.
const LockProbeArgv0 = "flock(2)"

// lockModel is the lock's holders outside the simulated units.
type lockModel struct {
	state LockState
	// holders are processes outside the units holding the lock
	// (HoldLock); lastPID numbers them; ctime is when the lock file was
	// created (the zero time: when the host was).
	holders holderSet
	lastPID int
	ctime   time.Time
}

// SetLock puts the switch lock in state, changing the view as the state
// implies (the file and /run/nixos created or removed). A running
// switch-to-configuration unit holds it exclusively whatever this says.
// Errors: an unknown state or a view error.
func (h *Host) SetLock(state LockState) error {
	dir := path.Dir(h.cfg.LockPath)
	var err error
	switch state {
	case LockFree, LockShared, LockExclusive, LockStale, LockProbeError:
		err = h.fs.MkdirAll(dir, 0o755)
		if err == nil && !h.exists(h.cfg.LockPath) {
			err = h.fs.WriteFile(h.cfg.LockPath, nil, 0o644)
		}
	case LockFileMissing:
		err = h.fs.MkdirAll(dir, 0o755)
		if err == nil && h.exists(h.cfg.LockPath) {
			err = h.fs.Remove(h.cfg.LockPath)
		}
	case LockDirMissing:
		err = h.fs.RemoveAll(dir)
	default:
		return fmt.Errorf("sim: unknown lock state %q", state)
	}
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	h.lock.state, h.lock.holders = state, nil
	if state == LockExclusive {
		return h.HoldLock(LockHolder{Kind: HolderSwitch})
	}
	return nil
}

// Locker returns the host's lock probe, compatible with the real backend's
// Locker seam (Probe(path) (pipeline.LockState, error)).
func (h *Host) Locker() *Locker { return &Locker{h: h} }

// Locker probes the simulated switch lock as the real backend's flock(2)
// probe does: a missing file or directory is free (nothing is created), an
// exclusive holder (a LockExclusive state or a running
// switch-to-configuration unit) is held, anything else is free; a
// LockProbeError state, or a path component that is not a directory,
// fails. Each probe takes HostConfig.Costs[LockProbeArgv0] and is logged.
type Locker struct {
	h *Host
}

// Probe reports the lock state of path. Errors: for LockProbeError "opening lock PATH: permission
// denied" (wrapping syscall.EACCES) and, when a path component is a file,
// one wrapping syscall.ENOTDIR, both shaped as the real backend's Flock
// errors.
func (l *Locker) Probe(name string) (pipeline.LockState, error) {
	h := l.h
	argv := []string{LockProbeArgv0, name}
	entry := LogEntry{At: h.Elapsed(), Argv: argv, ExitCode: -1}
	state, err := h.probe(name)
	switch {
	case err != nil:
	case state == pipeline.LockHeld:
		entry.ExitCode = 1
	default:
		entry.ExitCode = 0
	}
	if err != nil {
		entry.Err = err.Error()
	}
	h.log = append(h.log, entry)
	h.clk.Advance(h.cost(argv))
	return state, err
}

func (h *Host) probe(name string) (pipeline.LockState, error) {
	if h.lock.state == LockProbeError {
		return pipeline.LockFree, fmt.Errorf("opening lock %s: %w", name, syscall.EACCES)
	}
	if _, err := h.fs.Lstat(name); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return pipeline.LockFree, nil
		}
		return pipeline.LockFree, fmt.Errorf("opening lock %s: %w", name, err)
	}
	state := pipeline.LockFree
	if (name == h.cfg.LockPath && (h.lock.state == LockExclusive || h.lock.heldOutside())) || h.switchRunning() {
		state = pipeline.LockHeld
	}
	return state, nil
}

// switchRunning reports whether a switch-to-configuration process holds
// the lock.
// lockHeldBesides reports whether anyone but u holds the switch lock
// exclusively: a holder outside the simulated units, or another unit's
// running switch-to-configuration.
func (h *Host) lockHeldBesides(u *unit) bool {
	return h.lock.state == LockExclusive || h.lock.heldOutside() || h.unitHoldsLock(u)
}

func (h *Host) switchRunning() bool { return h.unitHoldsLock(nil) }

// unitHoldsLock reports whether a unit other than except runs a
// switch-to-configuration that holds the switch lock.
func (h *Host) unitHoldsLock(except *unit) bool {
	for _, u := range h.units {
		if u != except && u.proc != nil && u.proc.alive && u.proc.locks {
			return true
		}
	}
	return false
}
