package pipeline

import (
	"log/slog"
	"time"
)

// lockWatch is AcquireAgentLock's watch of the agent lock's release: at
// most one running AgentLockWaiter.WatchFree at a time, started again after
// each notification whose TryLock found the lock taken by another process.
type lockWatch struct {
	// waiter is nil when the run polls only: no waiter, --poll-only, or a
	// watch that failed to start.
	waiter AgentLockWaiter
	log    *slog.Logger
	// free and stopFn are the running watch's (nil: none runs).
	free   <-chan struct{}
	stopFn func()
	// onEvent: the last wait ended on the watch's notification.
	onEvent bool
}

// newLockWatch returns the lock watch of a run with d: active when d's
// AgentLock is an AgentLockWaiter and d.Events is set (the run watches
// events; --poll-only watches nothing, the agent lock included).
func newLockWatch(d Deps) *lockWatch {
	w := &lockWatch{log: d.logger()}
	if waiter, ok := d.AgentLock.(AgentLockWaiter); ok && d.Events != nil {
		w.waiter = waiter
	}
	return w
}

// start starts the watch unless one runs (or the run polls only) and
// returns its channel; nil (a channel that never receives) when the run
// polls. A watch that fails to start is logged once, at INFO (the retry
// does the same job, at most AgentLockRetry later), and not tried again.
func (w *lockWatch) start() <-chan struct{} {
	if w.waiter == nil || w.free != nil {
		return w.free
	}
	free, stop, err := w.waiter.WatchFree()
	if err != nil {
		w.waiter = nil
		w.log.Info("agent lock watch did not start, retrying every interval", "interval", AgentLockRetry, "err", err)
		return nil
	}
	w.free, w.stopFn = free, stop
	return free
}

// stop ends the running watch, if any.
func (w *lockWatch) stop() {
	if w.stopFn != nil {
		w.stopFn()
	}
	w.free, w.stopFn = nil, nil
}

// takeFree takes a pending notification of the running watch, ending it;
// false when there is none (or no watch).
func (w *lockWatch) takeFree() bool {
	select {
	case <-w.free:
		w.stop()
		return true
	default:
		return false
	}
}

// taken logs a lock taken after waiting (tries > 1): how long the run
// waited and whether the release's notification or the retry found it.
func (w *lockWatch) taken(tries int, waited time.Duration) {
	if tries == 1 {
		return
	}
	on := "retry"
	if w.onEvent {
		on = "event"
	}
	w.log.Info("agent lock taken", "waited", waited, "on", on)
}
