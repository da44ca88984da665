// Package events is the project's change-notification seam, beside the
// clock and filesystem seams: the pipeline's waits subscribe to changes of
// the links they read (/run/current-system) and to the end of the switch's
// transient unit, and wake at once instead of at the next poll interval.
//
// A notification only says "read again": it carries no state, may be
// spurious, and bursts are coalesced into one. Waiters keep their poll
// interval as the fallback read, so a lost notification costs at most one
// interval.
//
// Two sources: OS (inotify through github.com/fsnotify/fsnotify, and the
// unit's end through a D-Bus subscription on systemd's private socket with
// github.com/godbus/dbus, for a real host) and Mem (the in-memory view and the simulated host, which
// deliver a change at the virtual instant it happens).
package events

import "context"

// Request says what a watch follows.
type Request struct {
	// Paths are absolute names (in the filesystem view) whose entries may
	// be created, replaced (rename over them) or removed. Each is watched
	// through its parent directory, which must exist.
	Paths []string
	// Unit is a transient unit's name without ".service" whose main
	// process's end is reported; "" follows no unit.
	Unit string
}

// Watch is one running subscription.
type Watch interface {
	// C receives a value after one or more changes since the last value
	// was taken (coalesced). It is never closed.
	C() <-chan struct{}
	// Units reports whether the end of the request's unit is delivered on
	// C; false: the caller finds it by reading the unit's status.
	Units() bool
	// Close ends the subscription; C then receives nothing more. Errors:
	// the underlying watch's, if any.
	Close() error
}

// Source starts watches.
type Source interface {
	// Watch subscribes to req. Errors: the watch could not start (inotify
	// limits, a missing directory, an injected failure); the caller polls.
	Watch(ctx context.Context, req Request) (Watch, error)
}

// signal is a coalescing notification channel (buffer of one).
type signal chan struct{}

func newSignal() signal { return make(signal, 1) }

// notify posts a notification unless one is already pending.
func (s signal) notify() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// UnitErr returns why w does not follow its request's unit although one was
// asked for (the D-Bus subscription failed; the caller reads the unit's
// status instead), or nil.
func UnitErr(w Watch) error {
	if u, ok := w.(interface{ UnitWatchErr() error }); ok {
		return u.UnitWatchErr()
	}
	return nil
}
