package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rolledForward returns a host already switched to newClosure (generation 2).
func rolledForward(t *testing.T) *fakeHost {
	h := newFakeHost(t)
	require.Equal(t, Settled, h.activate(newClosure).Kind)
	h.effects = nil
	return h
}

func rollback(h *fakeHost) Outcome {
	return Rollback(context.Background(), h.deps(), nil, Options{})
}

func TestRollbackFiresTheRolledBackClosuresOwnSwitch(t *testing.T) {
	h := rolledForward(t)
	out := rollback(h)
	require.Equal(t, RollbackSucceeded, out.Kind, out.Reason)
	assert.Equal(t, []string{"lock", "switch-generation 1", "release nixfleet-activate-rollback", "fire nixfleet-activate-rollback switch " + oldClosure}, h.effects)
	assert.Equal(t, oldClosure, out.Closure)
	assert.Equal(t, newClosure, out.Previous)
	assert.Equal(t, 1, out.Generation)
	assert.Equal(t, oldClosure, h.current(t))
}

// Deliberate change (issue 9): the target generation is chosen from the
// profile's generation links, so nothing runs when there is none older.
func TestRollbackNoOlderGeneration(t *testing.T) {
	h := newFakeHost(t)
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseNixEnvRollback, out.Phase)
	assert.Contains(t, out.Reason, "no profile generation older than the current (1)")
	assert.Equal(t, []string{"lock"}, h.effects)
}

func TestRollbackSwitchGenerationFails(t *testing.T) {
	h := rolledForward(t)
	h.switchGenErr = &CommandError{Argv: []string{"nix-env"}, ExitCode: 1, Stderr: "error: profile version 1 does not exist\n"}
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseNixEnvRollback, out.Phase)
	assert.Nil(t, out.ExitCode, "exit_code is the switch's status only")
	assert.Equal(t, "nix-env --switch-generation", out.Command.Name)
	assert.Equal(t, KnownExit(1), out.Command.ExitCode)
	assert.Nil(t, out.Restored, "the profile never moved")
}

func TestRollbackAlreadyAtTheNamedGeneration(t *testing.T) {
	h := rolledForward(t)
	out := Rollback(context.Background(), h.deps(), nil, Options{RollbackGeneration: 2})
	assert.Equal(t, AlreadyCurrent, out.Kind)
	assert.Equal(t, []string{"lock"}, h.effects)
}

func TestRollbackUnitFailsAfterFlip(t *testing.T) {
	h := rolledForward(t)
	h.plans[oldClosure] = switchPlan{flipAt: 3 * time.Second, exitAt: 4 * time.Second, exitCode: 1}
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseRollbackExit, out.Phase)
	assert.Equal(t, KnownExit(1), out.ExitCode)
}

func TestRollbackUnitEndsWithoutFlip(t *testing.T) {
	h := rolledForward(t)
	h.plans[oldClosure] = switchPlan{exitAt: 4 * time.Second, exitCode: 2}
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseRollbackExit, out.Phase)
	assert.Equal(t, KnownExit(2), out.ExitCode)
	assert.Equal(t, newClosure, out.LastObserved)
	assert.LessOrEqual(t, out.ElapsedMS, int64(4_000+2_000), "within one interval of the exit")
}

func TestRollbackPollTimeout(t *testing.T) {
	h := rolledForward(t)
	h.plans[oldClosure] = switchPlan{}
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseRollbackPoll, out.Phase)
	assert.Equal(t, UnknownExit(), out.ExitCode)
	assert.Equal(t, newClosure, out.LastObserved)
}

func TestRollbackFireFailure(t *testing.T) {
	h := rolledForward(t)
	h.fireErr = &CommandError{Argv: []string{"systemd-run"}, ExitCode: 1}
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseRollbackFire, out.Phase)
}

func TestRollbackDiscoverTargetFailure(t *testing.T) {
	h := rolledForward(t)
	// The previous generation link dangles: nothing to fire.
	require.NoError(t, h.fs.Remove("/nix/var/nix/profiles/system-1-link"))
	require.NoError(t, h.fs.Symlink("/nix/store/missing", "/nix/var/nix/profiles/system-1-link"))
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseDiscoverTarget, out.Phase)
	assertNoFire(t, h.effects)
	assert.Equal(t, newClosure, h.current(t))
}

func TestRollbackSkippedWhenLockHeld(t *testing.T) {
	h := rolledForward(t)
	h.lockState = LockHeld
	out := rollback(h)
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, []string{"lock"}, h.effects)
}

func TestRollbackDegradedOnExit4(t *testing.T) {
	h := rolledForward(t)
	h.plans[oldClosure] = switchPlan{flipAt: 3 * time.Second, exitAt: 4 * time.Second, exitCode: 4}
	out := rollback(h)
	assert.Equal(t, RollbackDegraded, out.Kind)
}
