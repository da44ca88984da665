package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Issue 17: each test here pins a bug a mutation run let through; the
// comment names the bug it fails on.

// journaled gives the fake host a file journal on its in-memory view, so a
// test can assert the in-flight record a run leaves.
func journaled(h *fakeHost) (Deps, *FileJournal) {
	j := &FileJournal{FS: h.fs, Dir: DefaultStateDir}
	d := h.deps()
	d.Journal = j
	return d, j
}

// Bug: systemd's exec setup failures (EXIT_CHDIR 200 .. EXIT_BPF
// 244, systemd 252) read with an off-by-one bound at either end.
func TestExecSetupFailedBounds(t *testing.T) {
	for status, want := range map[int]bool{0: false, 4: false, 199: false, 200: true, 203: true, 243: true, 244: true, 245: false, 255: false} {
		assert.Equal(t, want, ExecSetupFailed(status), "ExecMainStatus %d", status)
	}
}

// Bug: a component link that cannot be resolved on one side (here a link
// loop in the new closure's kernel) taken as unchanged: a live switch where
// the safe choice is to defer to the next boot.
func TestActivateDefersWhenAComponentIsUnreadableOnOneSide(t *testing.T) {
	h := newFakeHost(t)
	dir := "/nix/store/" + newClosure
	require.NoError(t, h.fs.Remove(dir+"/kernel"))
	require.NoError(t, h.fs.Symlink(dir+"/kernel-loop", dir+"/kernel"))
	require.NoError(t, h.fs.Symlink(dir+"/kernel", dir+"/kernel-loop"))
	out := h.activate(newClosure)
	require.Equal(t, DeferredPendingReboot, out.Kind, out.Reason)
	assert.Equal(t, []string{"kernel"}, out.Components)
	assert.Equal(t, []string{"lock", "realise " + newClosure, "release nixfleet-activate-switch",
		"set " + newClosure, "fire nixfleet-activate-switch boot " + newClosure}, h.effects)
	assert.Equal(t, oldClosure, h.current(t), "nothing switched live")
	assert.Equal(t, newClosure, h.profile(t))
}

// Bug: the rolled-back closure's basename not validated before its switch
// is fired (the generation link points at a store path whose name is no
// store path name).
func TestRollbackRefusesAnInvalidRolledBackBasename(t *testing.T) {
	h := rolledForward(t)
	bad := "/nix/store/not-a-store-path"
	require.NoError(t, h.fs.MkdirAll(bad+"/bin", 0o755))
	require.NoError(t, h.fs.Remove("/nix/var/nix/profiles/system-1-link"))
	require.NoError(t, h.fs.Symlink(bad, "/nix/var/nix/profiles/system-1-link"))
	out := rollback(h)
	assert.Equal(t, RollbackFailed, out.Kind)
	assert.Equal(t, PhaseDiscoverTarget, out.Phase)
	assertNoFire(t, h.effects)
	assert.Equal(t, newClosure, h.current(t))
}

// liveSwitchEffects is a live switch's effects on the fake host, in order.
func liveSwitchEffects(closure string) []string {
	return []string{"lock", "realise " + closure, "release nixfleet-activate-switch",
		"set " + closure, "fire nixfleet-activate-switch switch " + closure}
}

// assertNoFire fails when any unit was fired (any action, any closure).
func assertNoFire(t *testing.T, effects []string) {
	t.Helper()
	for _, e := range effects {
		assert.False(t, strings.HasPrefix(e, "fire "), "fired: %q (effects %v)", e, effects)
	}
}

// Bug: a re-activation of the running closure (--force), killed while
// firing, recovered as settled because current-system already shows the
// closure: the link is no evidence of a fire when it showed the closure
// before it.
func TestRecoverForcedReactivationKilledWhileFiringIsAbandoned(t *testing.T) {
	w := newCrashWorld(t)
	require.Equal(t, Settled, w.activate().Kind)
	w.effects = nil
	w.fireErr = fmt.Errorf("killed")
	w.beforeFire = w.kill
	out := Activate(w.ctx, w.deps(), Target{Closure: newClosure}, Options{Force: true})
	require.Equal(t, Interrupted, out.Kind, out.Reason)
	require.Equal(t, StepFiring, w.record(t).Step)
	w.fireErr, w.beforeFire = nil, nil
	w.effects = nil
	rec := w.recover(t)
	require.NotNil(t, rec)
	assert.Equal(t, Abandoned, rec.Kind, rec.Reason)
	assert.Equal(t, PhaseSystemdRunFire, rec.Phase)
	assertNoFire(t, w.effects)
	assert.Nil(t, w.record(t), "the record is cleared once the outcome is final")
}

// Bug: recovery polling with the default interval and budget instead of
// the run's recorded ones: a switch that never flips is given up one
// recorded budget (20 s) after its fire, reading every recorded interval (1 s).
func TestRecoverUsesTheRecordedPollOptions(t *testing.T) {
	w := newCrashWorld(t)
	w.plans[newClosure] = switchPlan{}
	o := Options{PollInterval: time.Second, PollBudget: 20 * time.Second}
	w.clk.Schedule(3*time.Second, w.kill)
	out := Activate(w.ctx, w.deps(), Target{Closure: newClosure}, o)
	require.Equal(t, Interrupted, out.Kind, out.Reason)
	start, reads := w.clk.Now(), w.statusReads
	rec := w.recover(t)
	require.NotNil(t, rec)
	assert.Equal(t, SwitchFailed, rec.Kind, rec.Reason)
	assert.Equal(t, PhaseSwitchPollTimeout, rec.Phase)
	assert.Equal(t, 17*time.Second, w.clk.Now().Sub(start), "the rest of the recorded 20 s budget")
	assert.GreaterOrEqual(t, w.statusReads-reads, 17, "a read every recorded second")
}

// Bug: the fire time stamped before systemd-run returns: the budget counts
// from the moment the unit exists, so a slow systemd-run (here 2 s) does
// not eat into it.
func TestActivateBudgetCountsFromTheFiresReturn(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{}
	h.fireTakes = 2 * time.Second
	out := Activate(context.Background(), h.deps(), Target{Closure: newClosure}, Options{PollBudget: 10 * time.Second})
	assert.Equal(t, SwitchFailed, out.Kind, out.Reason)
	assert.Equal(t, PhaseSwitchPollTimeout, out.Phase)
	assert.Equal(t, int64(12000), out.ElapsedMS, "2 s of systemd-run, then the whole 10 s budget")
}

// Bug: reboot_pending computed from the kernel alone: the booted system's
// initrd or kernel modules differing from the closure's also need a boot.
func TestActivateRebootPendingFromInitrdOrModules(t *testing.T) {
	for _, part := range []string{"initrd", "kernel-modules"} {
		t.Run(part, func(t *testing.T) {
			h := newFakeHost(t)
			for _, c := range []string{oldClosure, newClosure} {
				require.NoError(t, h.fs.MkdirAll("/nix/store/p"+strings.Repeat("0", 31)+"-"+part+"-2", 0o755))
				require.NoError(t, h.fs.Symlink("/nix/store/p"+strings.Repeat("0", 31)+"-"+part+"-2", "/nix/store/"+c+"/"+part))
			}
			booted := "/nix/store/" + thirdClosure
			require.NoError(t, h.fs.MkdirAll("/nix/store/p"+strings.Repeat("0", 31)+"-"+part+"-1", 0o755))
			require.NoError(t, h.fs.Symlink("/nix/store/p"+strings.Repeat("0", 31)+"-"+part+"-1", booted+"/"+part))
			require.NoError(t, h.fs.ReplaceLink(booted, "/run/booted-system"))
			out := h.activate(newClosure)
			require.Equal(t, Settled, out.Kind, out.Reason)
			assert.Empty(t, out.Components, "nothing changes against the running system")
			assert.True(t, out.RebootPending, "the booted %s is not the closure's", part)
			assert.Equal(t, newClosure, h.current(t))
		})
	}
}

// Bug: a dangling profile link (its generation points at a store path that
// is not there) left unmended by self-correction: an unreadable profile is
// not the closure, so it is pointed back at it.
func TestActivateMendsADanglingProfile(t *testing.T) {
	h := newFakeHost(t)
	gone := "3a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-gone"
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, moveProf: gone}
	out := h.activate(newClosure)
	require.Equal(t, Settled, out.Kind, out.Reason)
	assert.True(t, out.ProfileCorrected)
	assert.Empty(t, out.Warnings)
	assert.Equal(t, append(liveSwitchEffects(newClosure), "set "+newClosure), h.effects,
		"the profile set again after the switch")
	assert.Equal(t, newClosure, h.profile(t))
	assert.Equal(t, 4, out.Generation)
	assert.Equal(t, newClosure, out.Profile)
}

// Gaps a gremlins run left (issue 17): mutants no test of this package
// killed.

// heldReason says "after waiting" only when the run waited (wait > 0).
func TestHeldReasonNamesTheWaitOnlyWhenThereWasOne(t *testing.T) {
	assert.NotContains(t, heldReason(0), "after waiting")
	assert.Contains(t, heldReason(0), "retry later (or --wait-lock)")
	assert.Contains(t, heldReason(2*time.Second), "after waiting 2s")
}

// CheckDir(false) on a missing state directory is fine and creates nothing.
func TestCheckDirWithoutCreateCreatesNothing(t *testing.T) {
	j := FileJournal{FS: fsview.NewMem(), Dir: DefaultStateDir}
	require.NoError(t, j.CheckDir(false))
	_, err := j.FS.Lstat(DefaultStateDir)
	assert.True(t, isNotExist(err), "the state directory was created: %v", err)
}

// Recovering a killed activation removes the GC root its realise made and
// a kill left behind (the profile, or nothing, holds the closure now).
func TestRecoverRemovesTheGCRootOfAKilledActivation(t *testing.T) {
	w := newCrashWorld(t)
	w.fireErr = fmt.Errorf("killed")
	w.beforeFire = w.kill
	require.Equal(t, Interrupted, w.activate().Kind)
	// As a kill between the realise and the profile set leaves it.
	root := DefaultGCRootDir + "/" + newClosure
	require.NoError(t, w.fs.Symlink("/nix/store/"+newClosure, root))
	w.fireErr, w.beforeFire = nil, nil
	out := w.recover(t)
	require.NotNil(t, out)
	assert.Equal(t, Abandoned, out.Kind, out.Reason)
	_, err := w.fs.Lstat(root)
	assert.True(t, isNotExist(err), "GC root left behind: %v", err)
	assert.Empty(t, out.Warnings)
}

// --on-failure=keep is kept through the option defaults: a failed switch
// leaves the profile on the closure and nothing is switched back.
func TestActivateOnFailureKeepLeavesTheProfile(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{exitAt: 3 * time.Second, exitCode: 1}
	out := Activate(context.Background(), h.deps(), Target{Closure: newClosure}, Options{OnFailure: OnFailureKeep})
	require.Equal(t, SwitchFailed, out.Kind, out.Reason)
	assert.Equal(t, liveSwitchEffects(newClosure), h.effects, "no switch-generation")
	assert.Equal(t, newClosure, h.profile(t))
	require.NotNil(t, out.Restored)
	assert.Equal(t, RestoreKept, out.Restored.Status)
}

// A failed status read is read again after a quarter interval, then half,
// then a whole one (2 s interval: 500 ms, 1 s, 2 s), and a good read resets
// the back-off.
func TestActivateStatusRetriesBackOff(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{flipAt: 20 * time.Second, exitAt: 21 * time.Second}
	var at []time.Duration
	start := h.clk.Now()
	h.beforeStatus = func() { at = append(at, h.clk.Now().Sub(start)) }
	h.clk.Schedule(3*time.Second, func() { h.statusErrs = 4 })
	out := h.activate(newClosure)
	require.Equal(t, Settled, out.Kind, out.Reason)
	ms := func(d ...int) []time.Duration {
		var out []time.Duration
		for _, n := range d {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	assert.Equal(t, ms(2000, 4000, 4500, 5500, 7500, 9500, 11500), at[:7],
		"four failed reads from 4 s, 0.5 s, 1 s, 2 s apart, then every 2 s again")
}

// QuoteInput quotes up to MaxQuotedInput bytes whole and cuts longer input
// at a rune boundary, saying how long it was.
func TestQuoteInputBounds(t *testing.T) {
	exact := strings.Repeat("a", MaxQuotedInput)
	assert.Equal(t, `"`+exact+`"`, QuoteInput(exact))
	long := exact + "b"
	assert.Equal(t, `"`+exact+`"…(121 bytes)`, QuoteInput(long))
	// "é" is 2 bytes; placed across the cut, it is left out whole.
	straddle := strings.Repeat("a", MaxQuotedInput-1) + "é" + "zz"
	assert.Equal(t, `"`+strings.Repeat("a", MaxQuotedInput-1)+`"…(123 bytes)`, QuoteInput(straddle))
	// Invalid UTF-8 of continuation bytes only: no rune start to cut at.
	assert.Equal(t, `""…(130 bytes)`, QuoteInput(strings.Repeat("\x80", 130)))
}

// A CommandError names its program, or "command" without an argv.
func TestCommandErrorNamesItsProgram(t *testing.T) {
	assert.Equal(t, "nix-env exited 1: denied", (&CommandError{Argv: []string{"nix-env", "--set"}, ExitCode: 1, Stderr: "denied\n"}).Error())
	assert.Equal(t, "command exited 2: x", (&CommandError{ExitCode: 2, Stderr: "x"}).Error())
}

// A record that stopped while firing, on a host that rebooted since, is
// decided from the links at once (the unit went with the old boot); one
// that stopped before firing is abandoned, reboot or not.
func TestRecoverAfterRebootByStep(t *testing.T) {
	w := newCrashWorld(t)
	w.bootAs(t, "11111111-1111-1111-1111-111111111111")
	w.fireErr = fmt.Errorf("killed")
	w.beforeFire = w.kill
	w.activate()
	require.Equal(t, StepFiring, w.record(t).Step)
	w.rebootInto(t, oldClosure)
	out := w.recover(t)
	assert.Equal(t, SwitchFailed, out.Kind, out.Reason)
	assert.Equal(t, PhaseReboot, out.Phase)
	assert.Contains(t, out.Reason, "booted "+oldClosure)

	w = newCrashWorld(t)
	w.bootAs(t, "11111111-1111-1111-1111-111111111111")
	w.activate() // settles: then put back a record that stopped at the profile set
	rec := Record{Op: OpActivate, Closure: newClosure, Step: StepProfileSet, BootID: "11111111-1111-1111-1111-111111111111",
		PreviousProfile: oldClosure, PreviousGeneration: 1, PollIntervalMS: 2000, PollBudgetMS: 300000}
	require.NoError(t, w.j.FileJournal.Save(rec))
	w.rebootInto(t, oldClosure)
	out = w.recover(t)
	assert.Equal(t, Abandoned, out.Kind, out.Reason)
	assert.Equal(t, PhaseNixEnvSet, out.Phase)
	assert.Empty(t, out.Booted, "not decided from the reboot")
}

// A record that stopped at "firing" while current-system now shows the
// closure (and did not before) is a fire that took effect, even with the
// unit's status gone: recovery follows it (settled-degraded), never
// abandoned.
func TestRecoverTakesTheFlippedLinkAsTheFire(t *testing.T) {
	w := newCrashWorld(t)
	w.plans[newClosure] = switchPlan{flipAt: 2 * time.Second, exitAt: 3 * time.Second, unknown: true}
	w.beforeFire = w.kill // the unit starts, the agent never records "fired"
	require.Equal(t, Interrupted, w.activate().Kind)
	require.Equal(t, StepFiring, w.record(t).Step)
	w.beforeFire = nil
	w.clk.Advance(5 * time.Second)
	w.effects = nil
	out := w.recover(t)
	assert.Equal(t, SettledDegraded, out.Kind, out.Reason)
	assert.Equal(t, newClosure, out.Closure)
	assert.Equal(t, UnknownExit(), out.Switch.ExitCode)
	assertNoFire(t, w.effects)
	assert.Equal(t, newClosure, w.profile(t), "nothing restored")
	assert.Nil(t, w.record(t))
}

// Tail keeps exactly max bytes whole and cuts longer text at a rune
// boundary (the UTF-8 tail of a command's stderr).
func TestTailBounds(t *testing.T) {
	assert.Equal(t, "abcd", Tail("abcd", 4))
	assert.Equal(t, "bcd", Tail("abcd", 3))
	// "é" is 2 bytes: a 2-byte tail of "xé" is it whole, a 1-byte tail is empty
	// (no rune starts in the last byte).
	assert.Equal(t, "é", Tail("xé", 2))
	assert.Equal(t, "", Tail("xé", 1))
}

// A name whose very first character is not allowed is refused (index 0).
func TestValidateBasenameRefusesABadFirstNameCharacter(t *testing.T) {
	err := ValidateBasename(newClosure[:HashLen+1] + "$nixos")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not allowed in a store path")
}

// A record at "firing" whose unit's status is gone (collected) while a
// switch-to-configuration holds the switch lock was fired: recovery follows
// it instead of calling it abandoned.
func TestRecoverTakesTheHeldLockAsTheFire(t *testing.T) {
	w := newCrashWorld(t)
	w.plans[newClosure] = switchPlan{flipAt: 4 * time.Second, exitAt: 5 * time.Second}
	w.beforeFire = w.kill
	require.Equal(t, Interrupted, w.activate().Kind)
	require.Equal(t, StepFiring, w.record(t).Step)
	w.beforeFire = nil
	delete(w.units, "nixfleet-activate-switch") // collected while it runs
	w.lockState = LockHeld
	w.effects = nil
	out := w.recover(t)
	assert.NotEqual(t, Abandoned, out.Kind, out.Reason)
	assert.Equal(t, newClosure, w.current(t))
	assertNoFire(t, w.effects)
	assert.Equal(t, newClosure, w.profile(t), "nothing restored under a running switch")
}
