package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nixfleet/nixfleet-activate/backends/real"
)

// Issue 19: `unblock` explains a held switch lock and may stop this
// agent's own hung switch unit.

// unblockExit maps an unblock report to the exit code: the host is still
// blocked (4, as a skipped outcome) or not (0).
var unblockExit = map[string]int{
	"lock-free": ExitSuccess, "own-unit-stopped": ExitSuccess,
	"lock-held": ExitSkipped, "own-unit-stopped-still-held": ExitSkipped,
}

// unblock prints the lock's diagnosis and, with --stop-own-unit, stops this
// agent's own switch or rollback unit when it has held the lock longer
// than --older-than. It never signals any other process.
func (env *environment) unblock(ctx context.Context, stdout io.Writer) int {
	o := env.cfg.opts.WithDefaults()
	rep, err := env.backend.Unblock(ctx, real.UnblockRequest{Lock: o.LockPath,
		OwnUnits: []string{o.SwitchUnit, o.RollbackUnit}, StopOwnUnit: env.cfg.stopOwnUnit, OlderThan: env.cfg.olderThan})
	if env.simSummary != nil {
		env.simSummary(env.stderr)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "nixfleet-activate: unblock: %v\n", err)
	}
	if perr := printJSON(stdout, rep); perr != nil || err != nil {
		return ExitInternal
	}
	return unblockExit[rep.Outcome]
}
