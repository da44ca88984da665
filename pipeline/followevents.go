package pipeline

import (
	"context"
	"time"

	"github.com/nixfleet/nixfleet-activate/events"
)

// watchEvents starts the event watch of a wait on the unit's end and on
// /run/current-system, unless Deps.Events is nil (polling only) or a watch
// runs already. stop ends the watch this call started (a no-op otherwise);
// started says whether it started one, so the caller reads once at once
// (a change before the watch began sent no event). A watch that fails to
// start is logged once and the rest of the run polls every interval.
func (r *run) watchEvents(ctx context.Context, unit string) (stop func(), started bool) {
	if r.d.Events == nil || r.changes != nil || r.eventsFailed {
		return func() {}, false
	}
	w, err := r.d.Events.Watch(ctx, events.Request{Paths: []string{r.o.CurrentSystem}, Unit: unit})
	if err != nil {
		r.eventsFailed = true
		r.log.Warn("event watch did not start, polling every interval", "unit", unit,
			"interval", r.o.PollInterval, "err", err)
		return func() {}, false
	}
	r.changes, r.watch = w.C(), w
	if err := events.UnitErr(w); err != nil {
		r.log.Warn("unit end watch did not start, reading the unit's status", "unit", unit, "err", err)
	}
	return func() {
		_ = w.Close()
		r.changes, r.watch = nil, nil
	}, true
}

// unitEvents reports whether the running watch delivers the unit's end
// now: asked at every wait, so a subscription lost mid-wait (systemd
// re-executed) turns the short unit backoff back on.
func (r *run) unitEvents() bool {
	return r.watch != nil && r.watch.Units()
}

// takeChange takes a pending change notification; false when there is
// none (or no watch).
func (r *run) takeChange() bool {
	select {
	case <-r.changes:
		return true
	default:
		return false
	}
}

// unitBackoffFirst and unitBackoffMax bound the waits between reads of a
// unit whose end no event reports (events.OS), once current-system has
// settled: 10 ms doubling up to 50 ms, for one poll interval; after that
// the interval. A switch usually exits within a second of its flip, so its
// end is decided within about 50 ms (measured in the container: see the
// CHANGELOG); a switch still restarting units after that costs no more
// reads than polling.
const (
	unitBackoffFirst = 10 * time.Millisecond
	unitBackoffMax   = 50 * time.Millisecond
)

// unitStep is the time from one of waitUnit's rounds to the next (paced
// by unitReader.wait): the poll interval (or the retry backoff of failed
// reads, unitReader.step), shortened to the unit backoff during the first
// interval of a watch that does not report the unit's end.
func (r *run) unitStep(u *unitReader) time.Duration {
	d := u.step(r.o.PollInterval)
	if r.changes == nil || r.unitEvents() {
		return d
	}
	// GOTCHA: this clock read is a recorded step of every transcript that waited with inotify only; removing it diverges them.
	now := r.d.Clock.Now()
	if u.reads == 0 {
		u.backoffFrom = now
	}
	if now.Sub(u.backoffFrom) >= r.o.PollInterval {
		return d
	}
	backoff := min(unitBackoffFirst<<min(u.reads, 16), unitBackoffMax)
	u.reads++
	return min(d, backoff)
}

// flipSeen reports, after a wake-up by an event, whether current-system
// already is the expected closure: then the wait settles on that one read,
// without the unit's status read first (waitUnit reads it next), so the
// flip is observed as soon as the event arrives. Any other state goes the
// poll's way (unit first, then the link).
func (r *run) flipSeen(w watch) bool {
	if !r.onEvent {
		return false
	}
	r.onEvent = false
	if last, err := r.readBasename(r.o.CurrentSystem); err != nil || last != w.expected {
		return false
	}
	r.log.Info("current-system settled", "closure", w.expected, "on", "event")
	return true
}
