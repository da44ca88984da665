// Package clock is the project's one time seam: a narrow interface that the
// pipeline waits on, satisfied by github.com/benbjohnson/clock (real and
// mock) and by Virtual, the deterministic self-advancing clock the simulator
// uses.
//
// Keeping the interface this small lets the benbjohnson dependency (no longer
// maintained upstream since 2023) be swapped for a fork in one place.
package clock

import (
	"time"

	bjclock "github.com/benbjohnson/clock"
)

// Clock reads the time and waits. Durations are wall or virtual time,
// depending on the implementation.
type Clock interface {
	// Now returns the current (possibly virtual) time.
	Now() time.Time
	// After returns a channel that receives the time once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// Real returns the wall clock (benbjohnson/clock's real implementation).
func Real() Clock { return bjclock.New() }

// Compile-time checks that benbjohnson/clock's real and mock clocks satisfy
// Clock (typed nils: nothing is built at start-up).
var (
	_ Clock = bjclock.Clock(nil)
	_ Clock = (*bjclock.Mock)(nil)
)
