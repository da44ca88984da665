package sim

import (
	"errors"
	"maps"
	"slices"

	"github.com/nixfleet/nixfleet-activate/clock"
)

// ErrEventsPending is returned by Clone for a host whose clock has
// scheduled events: each acts on this host, so a copy cannot have them.
var ErrEventsPending = errors.New("sim: clone of a host with scheduled events")

// Clone returns an independent copy of the host as it is now, on a clock
// of its own at the same instant: the configuration, store, closures and
// their behaviours, filesystem (shared copy-on-write, see
// fsview.View.Clone), lock, substituters, loaded units, unit runs, faults
// (with their uses) and command log. Afterwards neither host sees what happens to the other. A set-up shared by many runs is built
// once and cloned per run; the copy behaves as the original would.
// Errors: ErrEventsPending when the clock has scheduled events (a running
// unit, an `at` step).
func (h *Host) Clone() (*Host, error) {
	if h.clk.Pending() > 0 {
		return nil, ErrEventsPending
	}
	fs, err := h.fs.Clone()
	if err != nil {
		return nil, err
	}
	// GOTCHA: every field of Host is copied here; TestCloneCopiesEveryField
	// fails when one is added, so that it is copied too.
	c := &Host{
		cfg: h.cfg, start: h.start, fs: fs, phrase: h.phrase,
		valid: maps.Clone(h.valid), closures: maps.Clone(h.closures), // closures are never changed in place
		cacheFaults: maps.Clone(h.cacheFaults), genTimes: maps.Clone(h.genTimes), bootDefault: h.bootDefault,
		nextPID: h.nextPID, nextRun: h.nextRun, lock: h.lock.clone(), extraCost: h.extraCost, boots: h.boots,
		log: slices.Clone(h.log), agentLocks: maps.Clone(h.agentLocks), health: h.health.clone(),
		failedUnits: slices.Clone(h.failedUnits), agentLockWatch: h.agentLockWatch.clone(),
		// events: a clone has no watchers yet; its Events makes its own source.
		events: nil,
	}
	c.clk = clock.NewVirtual(h.clk.Steady())
	c.clk.StepWall(h.clk.WallStep())
	c.cfg.Clock = c.clk
	c.runs, c.units = cloneUnits(h.runs, h.units)
	for _, f := range h.faults {
		copied := *f
		c.faults = append(c.faults, &copied)
	}
	return c, nil
}

// cloneUnits copies the unit runs and loaded units, a loaded unit keeping
// its own run among the copies.
func cloneUnits(runs []*UnitRun, units map[string]*unit) ([]*UnitRun, map[string]*unit) {
	copies := make(map[*UnitRun]*UnitRun, len(runs))
	outRuns := make([]*UnitRun, len(runs))
	for i, r := range runs {
		copied := *r
		outRuns[i], copies[r] = &copied, &copied
	}
	outUnits := make(map[string]*unit, len(units))
	for name, u := range units {
		copied := *u
		if u.run != nil {
			copied.run = copies[u.run]
		}
		if u.proc != nil {
			p := *u.proc
			copied.proc = &p
		}
		outUnits[name] = &copied
	}
	return outRuns, outUnits
}
