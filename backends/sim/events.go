package sim

import (
	"strings"

	"github.com/nixfleet/nixfleet-activate/events"
)

// Events returns the host's change notifications, made on first use: every
// entry created, replaced or removed in its view (the activation's rename
// of /run/current-system included) and the end of every transient unit's
// main process, each delivered at the virtual instant it happens, so a
// waiter's virtual sleep ends then (clock.Virtual.Wake). A host whose
// Events is never called pays nothing for it.
func (h *Host) Events() *events.Mem {
	if h.events == nil {
		h.events = events.NewMem(h.clk)
		h.fs.OnChange(h.events.Changed)
	}
	return h.events
}

// unitEnded reports a unit's main process end (full name "x.service") to
// the watchers, by the name without ".service" that systemd-run was given.
func (h *Host) unitEnded(full string) {
	if h.events != nil {
		h.events.UnitEnded(strings.TrimSuffix(full, ".service"))
	}
}
