package main

import "github.com/nixfleet/nixfleet-activate/pipeline"

// Exit codes of the binary, one per outcome class. They are a contract with
// the systemd units and fleet tools that run the binary: never renumber.
const (
	ExitSuccess           = 0  // settled, rollback-succeeded, already-current, status/recover printed
	ExitInternal          = 1  // the binary itself failed (bad environment, I/O)
	ExitUsage             = 2  // bad flags or arguments
	ExitInvalidInput      = 3  // invalid-input: the closure basename was rejected
	ExitSkipped           = 4  // skipped: another switch holds the lock; retry later
	ExitRealiseFailed     = 5  // realise-failed
	ExitSignatureMismatch = 6  // signature-mismatch
	ExitSwitchFailed      = 7  // switch-failed, rollback-failed
	ExitVerifyMismatch    = 8  // verify-mismatch
	ExitDeferred          = 9  // deferred-pending-reboot: reboot to finish
	ExitDegraded          = 10 // settled-degraded, rollback-degraded
	ExitInterrupted       = 11 // interrupted by SIGINT/SIGTERM; the fired unit goes on
	ExitAbandoned         = 12 // abandoned: a recovered run had stopped before firing
	// ExitBadEnvironment shares ExitInternal's code: the run could not start
	// on this host (not root, a tool missing, an unsafe state directory).
	ExitBadEnvironment = 1
	// ExitOutputFailed: the outcome could not be written to stdout (closed,
	// broken pipe); it was logged to stderr instead.
	ExitOutputFailed   = 13
	ExitInvalidClosure = 14 // invalid-closure: not a NixOS system closure; nothing changed
	ExitRolledBack     = 15 // rolled-back: the closure was unhealthy or unconfirmed; the host runs the previous one
	// ExitScenarioFailed shares ExitInternal's code: `scenario run` ran a
	// scenario that failed (as explore's unexplained violation and go test).
	ExitScenarioFailed = 1
)

// exitCodes maps every outcome kind to its exit code.
var exitCodes = map[pipeline.Kind]int{
	pipeline.Settled:               ExitSuccess,
	pipeline.RollbackSucceeded:     ExitSuccess,
	pipeline.AlreadyCurrent:        ExitSuccess,
	pipeline.InvalidInput:          ExitInvalidInput,
	pipeline.Skipped:               ExitSkipped,
	pipeline.RealiseFailed:         ExitRealiseFailed,
	pipeline.SignatureMismatch:     ExitSignatureMismatch,
	pipeline.SwitchFailed:          ExitSwitchFailed,
	pipeline.RollbackFailed:        ExitSwitchFailed,
	pipeline.VerifyMismatch:        ExitVerifyMismatch,
	pipeline.DeferredPendingReboot: ExitDeferred,
	pipeline.SettledDegraded:       ExitDegraded,
	pipeline.RollbackDegraded:      ExitDegraded,
	pipeline.Interrupted:           ExitInterrupted,
	pipeline.Abandoned:             ExitAbandoned,
	pipeline.BadEnvironment:        ExitBadEnvironment,
	pipeline.InvalidClosure:        ExitInvalidClosure,
	pipeline.RolledBack:            ExitRolledBack,
}

// exitCode returns the exit code for an outcome kind (ExitInternal for a
// kind this binary does not know).
func exitCode(k pipeline.Kind) int {
	if c, ok := exitCodes[k]; ok {
		return c
	}
	return ExitInternal
}
