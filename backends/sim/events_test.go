package sim_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// unitReads counts the status reads of the switch's unit after the fire:
// each wake-up of the wait reads the unit exactly once.
func unitReads(h *sim.Host) int {
	n, fired := 0, false
	for _, e := range h.Log() {
		switch {
		case e.Argv[0] == "systemd-run":
			fired = true
		case fired && e.Argv[0] == "systemctl" && slices.Contains(e.Argv, "show"):
			n++
		}
	}
	return n
}

// A switch that runs 30 s (flip at 29 s) wakes the event-driven wait at
// most once per 2 s interval plus once per event (the flip, the exit) plus
// the read at the watch's start; polling alone reads once per interval.
func TestEventWaitWakesOncePerIntervalPlusOncePerEvent(t *testing.T) {
	const interval, run = 2 * time.Second, 30 * time.Second
	for _, events := range []bool{false, true} {
		h, deps := world(t, &sim.SwitchBehaviour{Duration: run, Flip: sim.Flip{At: run - time.Second}})
		if events {
			deps.Events = h.Events()
		}
		out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{PollInterval: interval})
		require.Equal(t, pipeline.Settled, out.Kind, "%+v", out)
		reads := unitReads(h)
		perInterval := int(run / interval)
		if !events {
			// The read at 30 s sees the unit exited and then the flip: it
			// decides the unit, which is not read a second time.
			assert.Equal(t, perInterval, reads, "polling: one read per interval up to the exit")
			continue
		}
		const eventsSeen, watchStart = 2, 1
		assert.LessOrEqual(t, reads, perInterval+eventsSeen+watchStart, "wake-ups")
		assert.Equal(t, 2, h.Events().Delivered, "the flip and the exit")
		t.Logf("events on: %d unit reads over %s at a %s interval", reads, run, interval)
	}
}
