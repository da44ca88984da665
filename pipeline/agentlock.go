package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BadEnvironment: the host is not fit to run on (not root, a tool missing
// from PATH, an unsafe state directory or record, an agent lock that cannot
// be taken). Nothing was read or changed; fix the host, then retry.
const BadEnvironment Kind = "bad-environment"

// PhaseAgentLock is where a run that could not take the agent lock stops
// (Skipped: another run holds it; BadEnvironment: it cannot be taken).
const PhaseAgentLock Phase = "agent-lock"

// PhaseEnvironment is where a BadEnvironment outcome found before any step
// stops (user, PATH, state directory, --root).
const PhaseEnvironment Phase = "environment"

// DefaultAgentLockPath is the agent lock, on /run (a tmpfs: a lock file
// left by a crash is gone after a reboot, and flock(2) locks die with their
// process anyway).
const DefaultAgentLockPath = "/run/nixfleet-activate.lock"

// AgentLockRetry is how often a run waiting for the agent lock tries again.
const AgentLockRetry = 100 * time.Millisecond

// ErrAgentLockHeld is wrapped by AgentLock.TryLock when another run holds
// the lock.
var ErrAgentLockHeld = errors.New("another nixfleet-activate run holds the agent lock")

// AgentLock serialises agent runs on one host: activate, rollback and
// recover each hold it from before they read the in-flight record until
// their outcome is final, so a live run is never taken for a crashed one.
// The real backend implements it with flock(2) on a file under /run; the
// simulator with a per-host table.
type AgentLock interface {
	// TryLock takes the lock without blocking and returns its release.
	// Errors: ErrAgentLockHeld (wrapped) when another run holds it; any
	// other error means the lock cannot be taken at all (a bad
	// environment: the lock file is a link, a FIFO, unwritable, ...).
	TryLock() (release func(), err error)
}

// AgentLockWaiter is an AgentLock that can report its release, so that a
// run waiting for it (--wait-lock) tries again at that instant instead of
// at the next AgentLockRetry. Optional: AcquireAgentLock polls a lock
// without it. The real backend watches with a blocking flock(2) on a file
// description of its own; the simulator notifies at the virtual instant of
// the release.
type AgentLockWaiter interface {
	AgentLock
	// WatchFree starts watching for the lock to be free. free receives one
	// value (buffer of one, never closed) once the lock was free at some
	// instant since the call, at once if it is free now; it says "try
	// again", not "yours": the next TryLock may still find it held. stop
	// ends the watch; it never blocks, may be called more than once, and
	// never leaves the lock held. Errors: the watch could not start (the
	// caller retries every AgentLockRetry instead).
	WatchFree() (free <-chan struct{}, stop func(), err error)
}

// BadEnvironmentError reports a host unfit to run on. Nothing was changed.
type BadEnvironmentError struct {
	// What names the thing at fault ("state directory /var/lib/x").
	What string
	// Why says what is wrong with it.
	Why string
}

func (e *BadEnvironmentError) Error() string { return e.What + ": " + e.Why }

// AcquireAgentLock takes d.AgentLock (nil: no lock, nothing to release),
// trying again every AgentLockRetry of d.Clock for up to wait (0: one try).
// When the run watches events (d.Events set, not --poll-only) and the lock
// is an AgentLockWaiter, it also tries again as soon as the lock's watch
// reports it free; the retry stays as the fallback, so a lost or failed
// watch costs at most one AgentLockRetry. It returns the release function,
// or the outcome to report instead: Skipped at PhaseAgentLock (another run
// holds it; nothing read or changed), BadEnvironment at PhaseAgentLock (it
// cannot be taken), or Interrupted when ctx ends while waiting.
func AcquireAgentLock(ctx context.Context, d Deps, wait time.Duration) (func(), *Outcome) {
	if d.AgentLock == nil {
		return func() {}, nil
	}
	start := d.Clock.Now()
	deadline := start.Add(wait)
	w := newLockWatch(d)
	defer w.stop()
	for tries := 1; ; tries++ {
		release, err := d.AgentLock.TryLock()
		switch {
		case err == nil:
			w.taken(tries, d.Clock.Now().Sub(start))
			return release, nil
		case !errors.Is(err, ErrAgentLockHeld):
			return nil, &Outcome{Kind: BadEnvironment, Phase: PhaseAgentLock, Reason: "cannot take the agent lock: " + err.Error()}
		}
		left := deadline.Sub(d.Clock.Now())
		if left <= 0 {
			return nil, &Outcome{Kind: Skipped, Phase: PhaseAgentLock, Reason: heldReason(wait)}
		}
		// LOADBEARING: the watch starts after a failed TryLock, never before: the real watcher contends for the lock itself.
		free := w.start()
		select {
		case <-ctx.Done():
			out := interrupted(PhaseAgentLock, "", ctx)
			return nil, &out
		case <-d.Clock.After(min(left, AgentLockRetry)):
			// GOTCHA: a virtual clock's After ends at the release too (Wake): both cases are ready then, and select picks either.
			w.onEvent = w.takeFree()
		case <-free:
			// GOTCHA: free is a hint, not a hold: another process may take the lock first; the next TryLock then fails and a new watch starts.
			w.stop()
			w.onEvent = true
		}
	}
}

func heldReason(wait time.Duration) string {
	if wait <= 0 {
		return ErrAgentLockHeld.Error() + "; nothing was read or changed, retry later (or --wait-lock)"
	}
	return fmt.Sprintf("%s after waiting %s; nothing was read or changed, retry later", ErrAgentLockHeld, wait)
}

// badEnvironment returns the BadEnvironment outcome (PhaseJournal) for an
// error wrapping *BadEnvironmentError, else nil.
func badEnvironment(err error, closure string) *Outcome {
	var bad *BadEnvironmentError
	if !errors.As(err, &bad) {
		return nil
	}
	return &Outcome{Kind: BadEnvironment, Phase: PhaseJournal, Closure: closure,
		Reason: bad.Error() + "; nothing was changed"}
}
