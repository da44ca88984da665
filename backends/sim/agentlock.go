package sim

import (
	"fmt"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// AgentLock returns the host's agent lock at path (pipeline.AgentLock and
// pipeline.AgentLockWaiter), standing for flock(2) LOCK_EX|LOCK_NB on a
// file under /run, as the real backend's FileAgentLock takes it: one
// holder at a time; a second TryLock fails with pipeline.ErrAgentLockHeld
// until the holder releases it (or, for HoldAgentLock, ReleaseAgentLock).
// Its WatchFree is notified at the virtual instant of the release (see
// agentlockwatch.go). The lock is not a command: it does not appear in the
// host's log.
func (h *Host) AgentLock(path string) pipeline.AgentLock { return agentLock{h: h, path: path} }

// HoldAgentLock makes another agent process hold the lock at path (a run
// that is not part of the scenario); ReleaseAgentLock ends it.
func (h *Host) HoldAgentLock(path string) { h.setAgentLock(path, true) }

// ReleaseAgentLock frees the lock at path, as the kernel does when its
// holder exits.
func (h *Host) ReleaseAgentLock(path string) { h.setAgentLock(path, false) }

// AgentLockHeld reports whether someone holds the lock at path.
func (h *Host) AgentLockHeld(path string) bool { return h.agentLocks[path] }

func (h *Host) setAgentLock(path string, held bool) {
	if h.agentLocks == nil {
		h.agentLocks = map[string]bool{}
	}
	h.agentLocks[path] = held
	if !held {
		h.agentLockFreed(path)
	}
}

type agentLock struct {
	h    *Host
	path string
}

func (l agentLock) TryLock() (func(), error) {
	if l.h.AgentLockHeld(l.path) {
		return nil, fmt.Errorf("%w (%s)", pipeline.ErrAgentLockHeld, l.path)
	}
	l.h.HoldAgentLock(l.path)
	released := false
	return func() {
		if !released {
			released = true
			l.h.ReleaseAgentLock(l.path)
		}
	}, nil
}
