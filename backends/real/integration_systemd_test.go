package real_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// These tests run the Backend unchanged against systemd 252 as PID 1 of a
// systemd-nspawn container (realtest.StartContainer); they skip when no
// container can be booted, and fail instead under CI=true or
// NIXFLEET_REQUIRE_REAL=1.

const unit = "nixfleet-test-switch"

func intp(v int) *int { return &v }

// waitNotRunning reads the unit until it is no longer running. It waits for
// a real process, so it polls, for at most 30 s; it asserts nothing about
// time.
func waitNotRunning(t *testing.T, b *real.Backend) pipeline.UnitStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.UnitStatus(context.Background(), unit)
		require.NoError(t, err)
		if st.State != pipeline.UnitRunning || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fire(t *testing.T, b *real.Backend, closure string) error {
	t.Helper()
	// The pipeline frees the name before every fire (Fire no longer does).
	if err := b.ReleaseUnit(context.Background(), unit); err != nil {
		return err
	}
	// The one command ReleaseUnit chose (stop or reset-failed) unloaded it.
	st, err := b.UnitStatus(context.Background(), unit)
	require.NoError(t, err)
	require.Equal(t, pipeline.UnitUnknown, st.State, "the released name is not loaded")
	return b.Fire(context.Background(), pipeline.FireRequest{Unit: unit, Closure: closure, Action: pipeline.ActionSwitch})
}

func TestRealSystemdFireReusesTheUnitAndKeepsEveryStatus(t *testing.T) {
	realtest.RequireNix(t)
	root := t.TempDir()
	closure := func(opts realtest.ClosureOpts) string {
		opts.Variant, opts.TestRoot = variant(t, opts.Variant), root
		path := realtest.BuildClosure(t, opts)
		t.Cleanup(func() { realtest.DeleteFromStore(t, path) })
		return path
	}
	failing := closure(realtest.ClosureOpts{Variant: "-exit3", ExitCode: 3})
	good := closure(realtest.ClosureOpts{Variant: "-exit0"})
	slow := closure(realtest.ClosureOpts{Variant: "-slow", FlipDelay: 10 * time.Minute})
	c := realtest.StartContainer(t, realtest.ContainerOpts{Binds: []string{root}})
	b := real.New(real.Config{Runner: c.Runner()})
	ctx := context.Background()

	st, err := b.UnitStatus(ctx, unit)
	require.NoError(t, err)
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitUnknown}, st, "never started")

	require.NoError(t, fire(t, b, failing))
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(3)},
		waitNotRunning(t, b), "the failed unit keeps its status")

	require.NoError(t, fire(t, b, good), "a failed unit's name is freed")
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", ExitCode: intp(0)},
		waitNotRunning(t, b), "RemainAfterExit keeps a clean exit readable")

	require.NoError(t, fire(t, b, failing), "an active-exited unit's name is freed")
	assert.Equal(t, intp(3), waitNotRunning(t, b).ExitCode)

	require.NoError(t, fire(t, b, slow))
	st, err = b.UnitStatus(ctx, unit)
	require.NoError(t, err)
	assert.Equal(t, pipeline.UnitRunning, st.State)
	require.ErrorIs(t, fire(t, b, good), real.ErrUnitBusy, "a running switch is never stopped")

	_, stderr, exit, err := c.Exec(ctx, "systemctl", "kill", "--signal=SIGKILL", unit+".service")
	require.NoError(t, err)
	require.Equal(t, 0, exit, stderr)
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "signal", Signal: intp(9)}, waitNotRunning(t, b))

	require.NoError(t, fire(t, b, good))
	assert.Equal(t, intp(0), waitNotRunning(t, b).ExitCode)

	log, err := os.ReadFile(filepath.Join(root, realtest.SwitchLog))
	require.NoError(t, err)
	assert.Equal(t, []string{"switch " + failing, "switch " + good, "switch " + failing, "switch " + slow, "switch " + good},
		strings.Split(strings.TrimSpace(string(log)), "\n"), "each Fire ran the closure's own switch-to-configuration once")
}

func TestRealSystemdNotLoadedRefusalsAreRecognised(t *testing.T) {
	c := realtest.StartContainer(t, realtest.ContainerOpts{})
	b := real.New(real.Config{Runner: c.Runner()})
	for _, cmd := range []func(string) []string{
		func(u string) []string { return b.StopCmd(u).Argv },
		func(u string) []string { return b.ResetFailedCmd(u).Argv },
	} {
		stdout, stderr, exit, err := c.Exec(context.Background(), cmd("nosuch")...)
		require.NoError(t, err)
		assert.NotZero(t, exit, stdout)
		assert.True(t, real.IsUnitNotLoaded(stderr), "%q", stderr)
	}
}

func TestRealSystemdRunFailureIsACommandError(t *testing.T) {
	c := realtest.StartContainer(t, realtest.ContainerOpts{})
	b := real.New(real.Config{Runner: c.Runner()})
	err := fire(t, b, "/nix/store/00000000000000000000000000000000-nixos-system-missing-24.05")
	var ce *pipeline.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.ExitCode)
	assert.Contains(t, ce.Stderr, "Failed to find executable")
}
