package testscripts

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// eventsSource reads activate's and rollback's events= option: "" polls
// only (as --poll-only; the default, so the command logs of the polling
// scenarios stay as they are), "on" wakes on the host's change events
// (sim.Host.Events), "lose:N" loses the next N events, "fail" makes the
// watch fail to start, "unit-fail" starts it without the unit's end (a
// failed D-Bus subscription), "lock-fail" turns events on with the agent
// lock's watch failing to start (sim.Host.FailAgentLockWatches). Errors:
// any other value.
func eventsSource(h *sim.Host, value string) (events.Source, error) {
	switch {
	case value == "":
		return nil, nil
	case value == "on":
		return h.Events(), nil
	case value == "fail":
		src := h.Events()
		src.FailWatches(errors.New("inotify_add_watch: no space left on device (fs.inotify.max_user_watches)"))
		return src, nil
	case value == "unit-fail":
		src := h.Events()
		src.FailUnitWatches(errors.New("systemd's private bus: dial unix /run/systemd/private: connect: connection refused"))
		return src, nil
	case value == "lock-fail":
		h.FailAgentLockWatches(errors.New("open " + pipeline.DefaultAgentLockPath + ": too many open files"))
		return h.Events(), nil
	case strings.HasPrefix(value, "lose:"):
		n, err := strconv.Atoi(strings.TrimPrefix(value, "lose:"))
		if err != nil || n < 1 {
			return nil, usagef("events=lose:N wants N >= 1, got %q", value)
		}
		src := h.Events()
		src.DropNext(n)
		return src, nil
	}
	return nil, usagef("events=%s: want on, lose:N, fail, unit-fail or lock-fail", value)
}
