package real

import "github.com/nixfleet/nixfleet-activate/proc"

// WithRunner returns a copy of b that builds the very same command lines
// (same programs, substituters, trusted-public-keys, environment and
// timeouts) but runs them through runner and probes the switch lock with
// locker. A dry run plans with it (backends/plan), so its command lines
// cannot differ from the ones b would run.
func (b *Backend) WithRunner(runner proc.Runner, locker Locker) *Backend {
	cfg := b.cfg
	cfg.Runner, cfg.Locker = runner, locker
	return &Backend{cfg: cfg}
}
