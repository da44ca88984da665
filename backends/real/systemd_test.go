package real

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

var (
	showArgv = []string{"systemctl", "show",
		"--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID",
		"--", "nixfleet-switch.service"}
	stopArgv        = []string{"systemctl", "stop", "--", "nixfleet-switch.service"}
	resetFailedArgv = []string{"systemctl", "reset-failed", "--", "nixfleet-switch.service"}

	showNotFound     = showOutput("success", "0", "0", "0", "not-found", "inactive", "dead")
	showRunning      = showOutput("success", "4242", "0", "0", "loaded", "active", "running")
	showActiveExited = showOutput("success", "4242", "1", "0", "loaded", "active", "exited")
	showFailed       = showOutput("exit-code", "4242", "1", "4", "loaded", "failed", "failed")
	// showInactiveExited: loaded, exited, but neither active nor failed
	// (a unit something still references after it ended).
	showInactiveExited = showOutput("success", "0", "1", "0", "loaded", "inactive", "dead")

	notLoaded = "Failed to reset failed state of unit nixfleet-switch.service: Unit nixfleet-switch.service not loaded.\n"
)

func TestFireOnAFreshNameRunsOnlyStatusThenSystemdRun(t *testing.T) {
	b, r := newScripted(t, Config{},
		step{argv: showArgv, res: ok(showNotFound)},
		step{argv: wantRunArgv, res: proc.Result{Stderr: []byte("Running as unit: nixfleet-switch.service\n")}})
	require.NoError(t, releaseAndFire(b, fireReq))
	assert.Len(t, r.calls, 2)
}

// TestFireClearsAnExitedUnitBeforeReusingItsName: a failed unit needs
// reset-failed alone (stop leaves it failed, systemd 252:
// TestRealSystemdFireReusesTheUnitAndKeepsEveryStatus); any other exited
// unit gets stop, then reset-failed (a stop past TimeoutStopSec leaves an
// active unit loaded and failed).
func TestFireClearsAnExitedUnitBeforeReusingItsName(t *testing.T) {
	cases := map[string]struct {
		show  string
		clear [][]string
	}{
		"active-exited": {showActiveExited, [][]string{stopArgv, resetFailedArgv}},
		"failed":        {showFailed, [][]string{resetFailedArgv}},
		"inactive":      {showInactiveExited, [][]string{stopArgv, resetFailedArgv}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			steps := []step{{argv: showArgv, res: ok(c.show)}}
			for _, argv := range c.clear {
				steps = append(steps, step{argv: argv, res: ok("")})
			}
			b, r := newScripted(t, Config{}, append(steps, step{argv: wantRunArgv, res: ok("")})...)
			require.NoError(t, releaseAndFire(b, fireReq))
			want := append(append([][]string{showArgv}, c.clear...), wantRunArgv)
			assert.Equal(t, want, r.argvs())
		})
	}
}

func TestFireIgnoresNotLoadedFromStopAndResetFailed(t *testing.T) {
	stopNotLoaded := fail(5, "Failed to stop nixfleet-switch.service: Unit nixfleet-switch.service not loaded.\n")
	for name, steps := range map[string][]step{
		"reset-failed after stop": {{argv: showArgv, res: ok(showActiveExited)}, {argv: stopArgv, res: ok("")},
			{argv: resetFailedArgv, res: fail(1, notLoaded)}},
		"reset-failed alone": {{argv: showArgv, res: ok(showFailed)}, {argv: resetFailedArgv, res: fail(1, notLoaded)}},
		"both": {{argv: showArgv, res: ok(showInactiveExited)}, {argv: stopArgv, res: stopNotLoaded},
			{argv: resetFailedArgv, res: fail(1, notLoaded)}},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := newScripted(t, Config{}, append(steps, step{argv: wantRunArgv, res: ok("")})...)
			require.NoError(t, releaseAndFire(b, fireReq))
		})
	}
}

func TestFireRefusesARunningUnitAndStartsNothing(t *testing.T) {
	b, r := newScripted(t, Config{}, step{argv: showArgv, res: ok(showRunning)})
	err := releaseAndFire(b, fireReq)
	require.ErrorIs(t, err, ErrUnitBusy)
	assert.Contains(t, err.Error(), "nixfleet-switch.service")
	assert.Equal(t, [][]string{showArgv}, r.argvs())
}

func TestFireSurfacesOtherStopFailuresAndDoesNotFire(t *testing.T) {
	b, r := newScripted(t, Config{},
		step{argv: showArgv, res: ok(showActiveExited)},
		step{argv: stopArgv, res: fail(1, "Failed to stop nixfleet-switch.service: Access denied\n")})
	var ce *pipeline.CommandError
	require.ErrorAs(t, releaseAndFire(b, fireReq), &ce)
	assert.Equal(t, stopArgv, ce.Argv)
	assert.Len(t, r.calls, 2)
}

func TestFireSurfacesOtherResetFailedFailures(t *testing.T) {
	b, _ := newScripted(t, Config{},
		step{argv: showArgv, res: ok(showFailed)},
		step{argv: resetFailedArgv, res: fail(1, "Failed to reset failed state of unit nixfleet-switch.service: Access denied\n")})
	var ce *pipeline.CommandError
	require.ErrorAs(t, releaseAndFire(b, fireReq), &ce)
	assert.Equal(t, resetFailedArgv, ce.Argv)
}

func TestFireStopsWhenTheStatusCannotBeRead(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: showArgv,
		res: fail(1, "System has not been booted with systemd as init system (PID 1). Can't operate.\n")})
	var ce *pipeline.CommandError
	require.ErrorAs(t, releaseAndFire(b, fireReq), &ce)
	assert.Equal(t, showArgv, ce.Argv)
}

func TestFireReportsASystemdRunFailure(t *testing.T) {
	stderr := "Failed to start transient service unit: Unit nixfleet-switch.service was already loaded or has a fragment file.\n"
	b, _ := newScripted(t, Config{},
		step{argv: showArgv, res: ok(showNotFound)},
		step{argv: wantRunArgv, res: fail(1, stderr)})
	var ce *pipeline.CommandError
	require.ErrorAs(t, releaseAndFire(b, fireReq), &ce)
	assert.Equal(t, wantRunArgv, ce.Argv)
	assert.Equal(t, stderr, ce.Stderr)
}

func TestFireFollowsAProgramThatFailedItsStartJobAfterRunning(t *testing.T) {
	jobFailed := "Job for nixfleet-switch.service failed because the control process exited with error code.\n"
	showExec203 := showOutput("exit-code", "4242", "1", "203", "loaded", "failed", "failed")
	cases := map[string]struct {
		show    string
		wantErr bool
	}{
		"ran and exited 4":     {showFailed, false},
		"never executed (203)": {showExec203, true},
		"status not readable":  {showNotFound, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b, _ := newScripted(t, Config{},
				step{argv: showArgv, res: ok(showNotFound)},
				step{argv: wantRunArgv, res: fail(1, jobFailed)},
				step{argv: showArgv, res: ok(c.show)})
			err := releaseAndFire(b, fireReq)
			if c.wantErr {
				var ce *pipeline.CommandError
				require.ErrorAs(t, err, &ce)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestFireRejectsUnsafeRequestsBeforeRunningAnything(t *testing.T) {
	bad := []pipeline.FireRequest{
		{Unit: "", Closure: closure, Action: pipeline.ActionSwitch},
		{Unit: "nixfleet-switch.service", Closure: closure, Action: pipeline.ActionSwitch},
		{Unit: "a b", Closure: closure, Action: pipeline.ActionSwitch},
		{Unit: "nixfleet-switch", Closure: "/nix/store/x-$HOME", Action: pipeline.ActionSwitch},
		{Unit: "nixfleet-switch", Closure: "nix/store/x", Action: pipeline.ActionSwitch},
		{Unit: "nixfleet-switch", Closure: closure, Action: "reboot"},
	}
	for _, req := range bad {
		b, _ := newScripted(t, Config{})
		assert.ErrorIs(t, b.Fire(context.Background(), req), ErrBadFireRequest, "%+v", req)
	}
}

func TestFireAcceptsBootAction(t *testing.T) {
	req := fireReq
	req.Action = pipeline.ActionBoot
	assert.NoError(t, ValidateFireRequest(req))
}

func TestUnitStatusNeverTrustsAnUnloadedUnit(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: showArgv, res: ok(showNotFound)})
	st, err := b.UnitStatus(context.Background(), "nixfleet-switch")
	require.NoError(t, err)
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitUnknown}, st)
}

func TestUnitStatusReadsTheExitCode(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: showArgv, res: ok(showFailed)})
	st, err := b.UnitStatus(context.Background(), "nixfleet-switch")
	require.NoError(t, err)
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(4)}, st)
}

// releaseAndFire frees the unit's name and fires, as the pipeline's fire
// step does (it owns the release; Fire does not release again).
func releaseAndFire(b *Backend, req pipeline.FireRequest) error {
	if err := b.ReleaseUnit(context.Background(), req.Unit); err != nil {
		return err
	}
	return b.Fire(context.Background(), req)
}
