package real

import (
	"log/slog"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// WithRunner returns a copy of b that builds the very same command lines
// (same programs, substituters, trusted-public-keys, environment and
// timeouts) but runs them through runner, probes the switch lock with
// locker and logs to logger (nil discards: a dry run must not log commands
// as run). A dry run plans with it (backends/plan), so its command lines
// cannot differ from the ones b would run.
func (b *Backend) WithRunner(runner proc.Runner, locker Locker, logger *slog.Logger) *Backend {
	cfg := b.cfg
	cfg.Runner, cfg.Locker, cfg.Logger = runner, locker, logger
	if logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{cfg: cfg}
}
