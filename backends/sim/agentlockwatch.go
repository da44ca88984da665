package sim

import (
	"slices"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

var _ pipeline.AgentLockWaiter = agentLock{}

// agentLockWatches are the running WatchFree calls on the host's agent
// locks, and the failures injected into the next ones.
type agentLockWatches struct {
	// running are the watches not yet notified nor stopped, by lock path.
	running map[string][]*agentLockWatch
	// failNext makes the next WatchFree calls fail, one each
	// (FailAgentLockWatches).
	failNext []error
}

// agentLockWatch is one WatchFree: free has a buffer of one.
type agentLockWatch struct{ free chan struct{} }

// clone copies the injected failures; a clone has no running watches (a
// watch belongs to a run of the original host).
func (w agentLockWatches) clone() agentLockWatches {
	return agentLockWatches{failNext: slices.Clone(w.failNext)}
}

// FailAgentLockWatches makes the next agent lock WatchFree calls fail with
// err, one call each (the real watch's open failing: too many open files,
// a lock file replaced since TryLock's check); the waiting run then
// retries every pipeline.AgentLockRetry.
func (h *Host) FailAgentLockWatches(err ...error) {
	h.agentLockWatch.failNext = append(h.agentLockWatch.failNext, err...)
}

// WatchFree implements pipeline.AgentLockWaiter: free receives a value at
// the virtual instant the lock is released (ReleaseAgentLock, a holder's
// release), and the clock's running After ends then (clock.Virtual.Wake),
// so a waiting run takes the lock at that instant; at once when the lock
// is free now. Errors: the injected failure (FailAgentLockWatches).
func (l agentLock) WatchFree() (<-chan struct{}, func(), error) {
	ws := &l.h.agentLockWatch
	if len(ws.failNext) > 0 {
		err := ws.failNext[0]
		ws.failNext = ws.failNext[1:]
		return nil, nil, err
	}
	w := &agentLockWatch{free: make(chan struct{}, 1)}
	if !l.h.AgentLockHeld(l.path) {
		w.free <- struct{}{}
		return w.free, func() {}, nil
	}
	if ws.running == nil {
		ws.running = map[string][]*agentLockWatch{}
	}
	ws.running[l.path] = append(ws.running[l.path], w)
	stop := func() {
		ws.running[l.path] = slices.DeleteFunc(ws.running[l.path], func(x *agentLockWatch) bool { return x == w })
	}
	return w.free, stop, nil
}

// agentLockFreed notifies the lock's running watches (each once) and, if
// there were any, wakes the clock: only a notified waiter's sleep ends
// early.
func (h *Host) agentLockFreed(path string) {
	running := h.agentLockWatch.running[path]
	if len(running) == 0 {
		return
	}
	delete(h.agentLockWatch.running, path)
	for _, w := range running {
		w.free <- struct{}{}
	}
	h.clk.Wake()
}
