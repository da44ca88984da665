package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/clock"
)

func TestActivateHappyPathOrderAndOutcome(t *testing.T) {
	h := newFakeHost(t)
	out := h.activate(newClosure)

	require.Equal(t, Settled, out.Kind, out.Reason)
	assert.Equal(t, liveSwitchEffects(newClosure), h.effects,
		"the unit name is released before the profile set, which precedes the fire")
	assert.Equal(t, newClosure, h.current(t))
	assert.Equal(t, newClosure, h.profile(t))
	assert.Equal(t, oldClosure, out.Previous)
	assert.Equal(t, 2, out.Generation)
	require.NotNil(t, out.Switch)
	assert.Equal(t, UnitExited, out.Switch.State)
	assert.Equal(t, KnownExit(0), out.Switch.ExitCode)
	assert.False(t, out.RebootPending)
	// Flip at 5 s is seen at the 6 s poll; the unit exits at 9 s, seen at 10 s.
	assert.Equal(t, int64(10_000), out.ElapsedMS)
}

func TestActivateRejectsBadBasenamesBeforeRunningAnything(t *testing.T) {
	for _, bad := range []string{
		"", "../etc/passwd", "/nix/store/" + newClosure, newClosure + "/bin",
		"0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5e-nixos-system-web-24.05", // 'e' is not base-32
		"0a1b2c3d-nixos", oldClosure[:32] + "-.hidden", oldClosure[:32] + "-a b",
		oldClosure[:32] + "-" + string(make([]byte, 212)),
	} {
		t.Run(bad, func(t *testing.T) {
			h := newFakeHost(t)
			out := h.activate(bad)
			assert.Equal(t, InvalidInput, out.Kind)
			assert.Equal(t, PhaseValidate, out.Phase)
			assert.Empty(t, h.effects, "nothing may run for a bad basename")
			assert.Equal(t, oldClosure, h.profile(t))
		})
	}
}

func TestActivateSkipsWhenLockHeld(t *testing.T) {
	h := newFakeHost(t)
	h.lockState = LockHeld
	out := h.activate(newClosure)
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, PhaseLockProbe, out.Phase)
	assert.Equal(t, []string{"lock"}, h.effects)
}

func TestActivateFailsOpenWhenLockUnknown(t *testing.T) {
	h := newFakeHost(t)
	h.lockErr = errors.New("permission denied")
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind)
	assert.Equal(t, liveSwitchEffects(newClosure), h.effects, "the whole run goes on after the unknown probe")
	assert.Equal(t, newClosure, h.current(t))
	assert.Equal(t, newClosure, h.profile(t))
	assert.Equal(t, 2, out.Generation)
	assert.Equal(t, KnownExit(0), out.Switch.ExitCode)
}

func TestActivateTrustFailureChangesNothing(t *testing.T) {
	h := newFakeHost(t)
	h.realiseErr = &RealiseError{Kind: RealiseUntrusted, ExitCode: 1, Stderr: "warning: the substitute for ... is not signed by any of the keys in 'trusted-public-keys'\nerror: build of '...' failed\n"}
	out := h.activate(newClosure)
	assert.Equal(t, SignatureMismatch, out.Kind)
	assert.Equal(t, newClosure, out.Closure)
	assert.Contains(t, out.Command.StderrTail, "not signed by any of the keys")
	assert.False(t, out.Command.Retryable)
	assert.Equal(t, []string{"lock", "realise " + newClosure}, h.effects, "no profile set, no fire after a failed trust check")
	assert.Equal(t, oldClosure, h.profile(t))
}

func TestActivateRealiseFailures(t *testing.T) {
	cases := map[string]struct {
		err     error
		failure RealiseFailure
	}{
		"not in any cache": {&RealiseError{Kind: RealiseNotFound, ExitCode: 1, Stderr: "don't know how to build these paths:"}, RealiseNotFound},
		"not runnable":     {errors.New("exec: nix-store: not found"), RealiseOther},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t)
			h.realiseErr = c.err
			out := h.activate(newClosure)
			assert.Equal(t, RealiseFailed, out.Kind)
			assert.Equal(t, PhaseRealise, out.Phase)
			assert.Equal(t, c.failure, out.Failure)
			assert.Equal(t, []string{"lock", "realise " + newClosure}, h.effects)
		})
	}
}

func TestActivateRealisedPathMustEqualRequest(t *testing.T) {
	h := newFakeHost(t)
	h.realisedAs = "/nix/store/" + thirdClosure
	out := h.activate(newClosure)
	assert.Equal(t, RealiseFailed, out.Kind)
	assert.Equal(t, PhaseRealisedPath, out.Phase)
	assert.Equal(t, "/nix/store/"+thirdClosure, out.Actual)
	assert.Equal(t, []string{"lock", "realise " + newClosure}, h.effects, "the profile never points at an unrequested path")
}

func TestActivateProfileSetFailureStopsBeforeFire(t *testing.T) {
	h := newFakeHost(t)
	h.setErr = &CommandError{Argv: []string{"nix-env"}, ExitCode: 1, Stderr: "error: opening lock file: Permission denied\n"}
	out := h.activate(newClosure)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseNixEnvSet, out.Phase)
	assert.Nil(t, out.ExitCode, "exit_code is the switch's status only")
	assert.Equal(t, &CommandReport{Name: "nix-env --set", ExitCode: KnownExit(1),
		StderrTail: "error: opening lock file: Permission denied\n"}, out.Command)
	assert.Equal(t, []string{"lock", "realise " + newClosure, "release nixfleet-activate-switch", "set " + newClosure}, h.effects)
}

func TestActivateAbortsWhenCurrentSystemUnreadable(t *testing.T) {
	h := newFakeHost(t)
	require.NoError(t, h.fs.Remove("/run/current-system"))
	out := h.activate(newClosure)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseReadCurrent, out.Phase)
	assert.Nil(t, out.ExitCode, "no switch ran")
	assert.NotContains(t, h.effects, "fire nixfleet-activate-switch switch "+newClosure)
}

// linkGoneAtRealise removes /run/current-system while nix-store --realise
// runs: after the preflight read, before the fire is planned.
type linkGoneAtRealise struct{ *fakeHost }

func (h linkGoneAtRealise) Realise(ctx context.Context, storePath, gcRoot string) (string, error) {
	got, err := h.fakeHost.Realise(ctx, storePath, gcRoot)
	require.NoError(h.t, h.fs.Remove("/run/current-system"))
	return got, err
}

// The fire is planned before any change: a current-system that cannot be
// read by then stops the run with the unit name, the record and the
// profile untouched.
func TestActivatePlansTheFireBeforeAnyChange(t *testing.T) {
	h := newFakeHost(t)
	d, j := journaled(h)
	d.Nix = linkGoneAtRealise{h}
	out := Activate(context.Background(), d, Target{Closure: newClosure}, Options{})
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseReadCurrent, out.Phase)
	assert.Contains(t, out.Reason, "nothing changed")
	assert.Equal(t, []string{"lock", "realise " + newClosure}, h.effects, "no release, no profile set")
	assert.Equal(t, oldClosure, h.profile(t))
	rec, err := j.Load()
	require.NoError(t, err)
	assert.Nil(t, rec, "no in-flight record was written")
}

func TestActivateFireFailure(t *testing.T) {
	h := newFakeHost(t)
	h.fireErr = &CommandError{Argv: []string{"systemd-run"}, ExitCode: 1, Stderr: "Failed to start transient service unit: Unit nixfleet-activate-switch.service was already loaded or has a fragment file.\n"}
	out := h.activate(newClosure)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseSystemdRunFire, out.Phase)
	assert.Nil(t, out.ExitCode)
	assert.Equal(t, "systemd-run", out.Command.Name)
	assert.Equal(t, KnownExit(1), out.Command.ExitCode)
	requireOrder(t, h.effects, "set "+newClosure, "fire nixfleet-activate-switch switch "+newClosure)
}

func TestActivateUnitExitStatusAfterSettle(t *testing.T) {
	sig := 9
	cases := map[string]struct {
		plan  switchPlan
		kind  Kind
		phase Phase
		exit  *ExitStatus
		state UnitState
	}{
		"exit 4 is degraded, not clean": {switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, exitCode: 4}, SettledDegraded, "", nil, UnitExited},
		"exit 1 after flip":             {switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, exitCode: 1}, SwitchFailed, PhaseSwitchExit, KnownExit(1), UnitExited},
		"exit 100 after flip":           {switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, exitCode: 100}, SwitchFailed, PhaseSwitchExit, KnownExit(100), UnitExited},
		"killed by a signal":            {switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, signal: sig}, SwitchFailed, PhaseSwitchExit, UnknownExit(), UnitExited},
		"status lost (collected)":       {switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, unknown: true}, SettledDegraded, "", nil, UnitUnknown},
		"still running at budget end":   {switchPlan{flipAt: 5 * time.Second}, SettledDegraded, "", nil, UnitRunning},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h, out := activateVerdict(t, c.plan, c.kind, c.phase, c.exit, c.state)
			assert.False(t, out.Success())
			assert.Equal(t, newClosure, h.current(t))
		})
	}
}

// activateVerdict activates newClosure under plan and checks the verdict
// and the unit's reported state.
func activateVerdict(t *testing.T, plan switchPlan, kind Kind, phase Phase, exit *ExitStatus, state UnitState) (*fakeHost, Outcome) {
	t.Helper()
	h := newFakeHost(t)
	h.plans[newClosure] = plan
	out := h.activate(newClosure)
	assert.Equal(t, kind, out.Kind, out.Reason)
	assert.Equal(t, phase, out.Phase)
	assert.Equal(t, exit, out.ExitCode)
	require.NotNil(t, out.Switch)
	assert.Equal(t, state, out.Switch.State)
	return h, out
}

func TestActivateTimeoutReportsTrueUnitStatus(t *testing.T) {
	cases := map[string]struct {
		plan switchPlan
		exit *ExitStatus
	}{
		"unit still running": {switchPlan{}, UnknownExit()},
		"unit status lost":   {switchPlan{exitAt: 20 * time.Second, unknown: true}, UnknownExit()},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t)
			h.plans[newClosure] = c.plan
			out := h.activate(newClosure)
			assert.Equal(t, SwitchFailed, out.Kind)
			assert.Equal(t, PhaseSwitchPollTimeout, out.Phase)
			assert.Equal(t, c.exit, out.ExitCode)
			assert.Equal(t, oldClosure, out.LastObserved)
			// Deliberate change (issue 9): a unit that ended is followed by the restore
			// (profile back, the old closure's boot action: 1 s, read at the next 2 s
			// interval); a running one is never restored.
			if c.plan.exitAt > 0 && !c.plan.unknown {
				require.NotNil(t, out.Restored)
				assert.Equal(t, RestoreDone, out.Restored.Status)
				assert.Equal(t, int64(302_000), out.ElapsedMS, "the whole budget, then the restore")
				assert.Equal(t, oldClosure, h.profile(t))
			} else {
				require.NotNil(t, out.Restored)
				assert.Equal(t, RestoreNotAttempted, out.Restored.Status)
				assert.Equal(t, int64(300_000), out.ElapsedMS, "the whole budget, no more")
			}
		})
	}
}

// An ended unit is decided within one poll interval of its exit (issue 9):
// a failure by its status or signal, exit 0 without the flip a mismatch.
func TestActivateDecidesAnEndedUnitAtOnce(t *testing.T) {
	sig9 := 9
	cases := map[string]struct {
		plan   switchPlan
		kind   Kind
		phase  Phase
		exit   *ExitStatus
		signal *int
	}{
		"exit 1":   {switchPlan{exitAt: 20 * time.Second, exitCode: 1}, SwitchFailed, PhaseSwitchExit, KnownExit(1), nil},
		"signal 9": {switchPlan{exitAt: 20 * time.Second, signal: 9}, SwitchFailed, PhaseSwitchExit, UnknownExit(), &sig9},
		"exit 0":   {switchPlan{exitAt: 20 * time.Second}, VerifyMismatch, PhaseVerify, nil, nil},
		"exit 203": {switchPlan{exitAt: 20 * time.Second, exitCode: 203}, SwitchFailed, PhaseSystemdRunFire, KnownExit(203), nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, out := activateVerdict(t, c.plan, c.kind, c.phase, c.exit, UnitExited)
			assert.Equal(t, c.signal, out.Switch.Signal)
			assert.LessOrEqual(t, out.ElapsedMS, int64(20_000+2_000), "within one interval of the exit")
			assert.GreaterOrEqual(t, out.ElapsedMS, int64(20_000))
			if c.kind == VerifyMismatch {
				assert.Equal(t, oldClosure, out.Actual)
			}
		})
	}
}

func TestActivateThirdClosureIsVerifyMismatch(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, flipTo: thirdClosure, exitAt: 9 * time.Second}
	out := h.activate(newClosure)
	assert.Equal(t, VerifyMismatch, out.Kind)
	assert.Equal(t, newClosure, out.Expected)
	assert.Equal(t, thirdClosure, out.Actual)
}

func TestActivateToleratesBrieflyAbsentLink(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{absentAt: 3 * time.Second, flipAt: 7 * time.Second, exitAt: 9 * time.Second}
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind, out.Reason)
	assert.Equal(t, liveSwitchEffects(newClosure), h.effects, "no restore, no second fire")
	assert.Equal(t, newClosure, h.current(t))
	assert.Equal(t, newClosure, h.profile(t))
	assert.False(t, out.ProfileCorrected)
	assert.Equal(t, KnownExit(0), out.Switch.ExitCode)
	// Absent at the 4 s and 6 s polls, the flip seen at 8 s, the exit at 10 s.
	assert.Equal(t, int64(10_000), out.ElapsedMS)
}

func TestActivateFlipBackAfterSettleIsNotSuccess(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, backAt: 7 * time.Second, exitAt: 9 * time.Second}
	out := h.activate(newClosure)
	assert.Equal(t, VerifyMismatch, out.Kind)
	assert.Equal(t, oldClosure, out.Actual)
	assert.False(t, out.Success())
}

func TestActivateSelfCorrectsMovedProfile(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, moveProf: thirdClosure}
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind)
	assert.True(t, out.ProfileCorrected)
	assert.Equal(t, newClosure, h.profile(t))
	assert.Equal(t, "set "+newClosure, h.effects[len(h.effects)-1])
}

func TestActivateSelfCorrectionFailureIsNonFatal(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second, moveProf: thirdClosure}
	h.setErr, h.setErrAfter = errors.New("nix-env: disk full"), 2
	out := h.activate(newClosure)
	assert.Equal(t, SettledDegraded, out.Kind, "not fatal, but not a clean success with the profile elsewhere")
	assert.Contains(t, out.Reason, "profile")
	assert.Equal(t, thirdClosure, out.Profile)
	assert.False(t, out.ProfileCorrected)
	require.Len(t, out.Warnings, 1)
	assert.Contains(t, out.Warnings[0], string(PhaseProfileCorrect))
}

func TestActivateDefersWhenKernelChanges(t *testing.T) {
	h := newFakeHost(t)
	h.addClosure(newClosure, "6.12")
	out := h.activate(newClosure)
	assert.Equal(t, DeferredPendingReboot, out.Kind, out.Reason)
	assert.Equal(t, []string{"kernel"}, out.Components)
	assert.True(t, out.RebootPending)
	assert.Equal(t, "fire nixfleet-activate-switch boot "+newClosure, h.effects[len(h.effects)-1])
	assert.Equal(t, oldClosure, h.current(t), "the running system is untouched")
	assert.Equal(t, newClosure, h.profile(t))
}

func TestActivateDeferBootActionFailing(t *testing.T) {
	h := newFakeHost(t)
	h.addClosure(newClosure, "6.12")
	h.plans[newClosure] = switchPlan{exitCode: 1}
	out := h.activate(newClosure)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseDeferBootloader, out.Phase)
	assert.Equal(t, KnownExit(1), out.ExitCode)
}

func TestActivateReportsRebootPendingFromBootedKernel(t *testing.T) {
	h := newFakeHost(t)
	booted := "3a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.05"
	h.addClosure(booted, "6.1")
	require.NoError(t, h.fs.ReplaceLink("/nix/store/"+booted, "/run/booted-system"))
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind)
	assert.True(t, out.RebootPending)
}

func TestActivateInterruptedMidPoll(t *testing.T) {
	h := newFakeHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.plans[newClosure] = switchPlan{}
	h.clk.Schedule(30*time.Second, cancel)
	out := Activate(ctx, h.deps(), Target{Closure: newClosure}, Options{})
	assert.Equal(t, Interrupted, out.Kind)
	assert.Equal(t, PhaseSwitchPoll, out.Phase)
}

func TestOutcomeJSONKeepsUnknownExitAsNull(t *testing.T) {
	out := Outcome{Kind: SwitchFailed, Phase: PhaseSwitchPollTimeout, ExitCode: UnknownExit(), Meta: map[string]string{"channel": "c1"}}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	assert.JSONEq(t, `{"outcome":"switch-failed","phase":"switch-poll-timeout","exit_code":null,"elapsed_ms":0,"meta":{"channel":"c1"}}`, string(b))
	var back Outcome
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Nil(t, back.ExitCode, "Go decodes null into a nil pointer: readers treat absent and null alike")
}

func TestActivateEchoesMeta(t *testing.T) {
	h := newFakeHost(t)
	out := Activate(context.Background(), h.deps(), Target{Closure: newClosure, Meta: map[string]string{"rollout": "r7"}}, Options{})
	assert.Equal(t, "r7", out.Meta["rollout"])
}

// activateSkipped activates newClosure on h with a journal and requires
// the outcome skipped at the fire's phase; it returns the journal.
func activateSkipped(t *testing.T, h *fakeHost) Journal {
	t.Helper()
	d, j := journaled(h)
	out := Activate(context.Background(), d, Target{Closure: newClosure}, Options{})
	require.Equal(t, Skipped, out.Kind, out.Reason)
	assert.Equal(t, PhaseSystemdRunFire, out.Phase)
	return j
}

// Skipped means nothing changed: a unit still running under the switch's
// name is found by the release, before the record and the profile set.
func TestActivateSkipsWhenTheUnitIsStillRunning(t *testing.T) {
	h := newFakeHost(t)
	h.releaseErr = fmt.Errorf("%w: nixfleet-activate-switch.service", ErrUnitBusy)
	j := activateSkipped(t, h)
	assert.Equal(t, []string{"lock", "realise " + newClosure, "release nixfleet-activate-switch"}, h.effects,
		"no profile set, no fire")
	assert.Equal(t, oldClosure, h.profile(t))
	rec, err := j.Load()
	require.NoError(t, err)
	assert.Nil(t, rec, "no in-flight record was written")
}

// A unit started under the switch's name between the release and the fire
// (by something else than this agent) refuses the fire: the profile the
// run had set is put back, nothing fired, and the run's in-flight record
// is gone (a record left behind would block every later run until
// recover; issue 17).
func TestActivateSkipsWhenTheUnitStartsAfterTheRelease(t *testing.T) {
	h := newFakeHost(t)
	h.fireErr = fmt.Errorf("%w: nixfleet-activate-switch.service", ErrUnitBusy)
	j := activateSkipped(t, h)
	d := h.deps()
	d.Journal = j
	assert.Equal(t, append(liveSwitchEffects(newClosure), "lock", "switch-generation 1"), h.effects,
		"the refused fire, then the profile put back")
	assert.Equal(t, oldClosure, h.profile(t))
	assert.Equal(t, oldClosure, h.current(t))
	rec, err := j.Load()
	require.NoError(t, err)
	assert.Nil(t, rec, "no in-flight record left behind")
	out := Activate(context.Background(), d, Target{Closure: newClosure}, Options{})
	assert.NotEqual(t, PhaseJournal, out.Phase, "the next run is not blocked: %s", out.Reason)
}

// A failed status read is no verdict: after the flip one systemctl show
// fails (systemd 252's bus timeout) and the unit exits 0: settled, 0.
func TestActivateRetriesAFailedStatusRead(t *testing.T) {
	h := newFakeHost(t)
	h.clk.Schedule(6*time.Second, func() { h.statusErrs = 1 })
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind, out.Reason)
	require.NotNil(t, out.Switch)
	assert.Equal(t, KnownExit(0), out.Switch.ExitCode)
}

// Failed reads until the budget is spent report unknown, not a verdict.
func TestActivateStatusUnreadableToTheEnd(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{exitAt: 20 * time.Second, exitCode: 1}
	h.statusErrs = 1 << 30
	out := h.activate(newClosure)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseSwitchPollTimeout, out.Phase)
	assert.Equal(t, UnknownExit(), out.ExitCode)
	assert.Equal(t, UnitUnknown, out.Switch.State)
	assert.Contains(t, out.Reason, "Connection timed out")
	assert.Equal(t, int64(300_000), out.ElapsedMS, "retries stay within the budget")
}

// The switch flips the link and then exits; both land between the poll's
// reads. Reading the unit first, then the link, sees the flip with the exit,
// never an exit 0 "without" it.
func TestActivateReadsTheUnitBeforeTheLink(t *testing.T) {
	h := newFakeHost(t)
	h.plans[newClosure] = switchPlan{}
	done := false
	h.beforeStatus = func() {
		if done || h.clk.Now().Sub(clock.Epoch) < 5*time.Second {
			return
		}
		done = true
		require.NoError(t, h.fs.ReplaceLink("/nix/store/"+newClosure, "/run/current-system"))
		code := 0
		h.units[DefaultSwitchUnit] = UnitStatus{State: UnitExited, Result: "success", ExitCode: &code}
	}
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind, out.Reason)
}
