package main

// Issue 9 in the container (see e2e_real_test.go for the set-up): a switch
// that ends without flipping is decided within one poll interval of its end,
// and a reboot mid-switch is recovered at once from the links.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// monotonicNow reads CLOCK_MONOTONIC, the clock systemd stamps
// ExecMainExitTimestampMonotonic with (the container shares the kernel's).
func monotonicNow(t testing.TB) time.Duration {
	var ts unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return time.Duration(ts.Nano())
}

// unitExitedAt reads when the unit's main process exited, on CLOCK_MONOTONIC
// (systemd 252: ExecMainExitTimestampMonotonic, in µs).
func (h *host) unitExitedAt(t testing.TB, unit string) time.Duration {
	t.Helper()
	stdout, stderr, exit, err := h.box.Exec(context.Background(), "systemctl", "show", "--value",
		"--property=ExecMainExitTimestampMonotonic", unit+".service")
	require.NoError(t, err)
	require.Equal(t, 0, exit, stderr)
	us, err := strconv.ParseInt(strings.TrimSpace(stdout), 10, 64)
	require.NoError(t, err, stdout)
	require.Positive(t, us, "the unit has not exited")
	return time.Duration(us) * time.Microsecond
}

// reboot stands for a reboot of the host under test: the switch's unit is
// stopped (its process dies with the boot) and unloaded, both /run links
// point at booted, and the boot ID file gets a new ID.
func (h *host) reboot(t testing.TB, booted, bootID string) {
	t.Helper()
	for _, verb := range []string{"stop", "reset-failed"} {
		_, _, _, err := h.box.Exec(context.Background(), "systemctl", verb, e2eSwitchUnit+".service")
		require.NoError(t, err)
	}
	for _, link := range []string{"run/current-system", "run/booted-system"} {
		require.NoError(t, os.Remove(h.path(link)))
		require.NoError(t, os.Symlink(booted, h.path(link)))
	}
	require.NoError(t, os.WriteFile(h.bootIDFile(), []byte(bootID+"\n"), 0o644))
}

func (h *host) bootIDFile() string { return h.path("boot_id") }

// TestBinaryRealUnitEndAndReboot: the switch exits 1 after 2 s (then 2
// after 1 s) without flipping, decided within one 2 s poll interval of its
// exit (the budget is 60 s); then a switch held mid-run is cut off by a reboot, and recover
// reports at once from the links, for a host that came up on the old closure
// and for one that came up on the new one.
func TestBinaryRealUnitEndAndReboot(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	closure := closureBuilder(t, root)
	gate := func(suffix string) string { return filepath.Join(root, "gates", suffix) }
	a := closure("a", realtest.ClosureOpts{})
	x := closure("x-noflip-exit1", realtest.ClosureOpts{NeverFlip: true, ExitCode: 1, FlipDelay: 2 * time.Second})
	y := closure("y-noflip-exit2", realtest.ClosureOpts{NeverFlip: true, ExitCode: 2, FlipDelay: time.Second})
	g := closure("g-gated", realtest.ClosureOpts{FlipGate: gate("g")})
	m := closure("m-gated", realtest.ClosureOpts{FlipGate: gate("m")})
	h := bootHost(t, n, dir, a)
	require.NoError(t, os.WriteFile(h.bootIDFile(), []byte("11111111-1111-1111-1111-111111111111\n"), 0o644))
	key := h.cache.PublicKey()
	base := filepath.Base
	wait := []string{"--poll-interval", "2s", "--poll-budget", "60s", "--boot-id", h.bootIDFile()}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"switch exits 1 before the flip: switch-failed at switch-exit within one interval of the exit", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.SwitchFailed, key, append(wait, "activate", x)...)
			decided := monotonicNow(t)
			exited := h.unitExitedAt(t, e2eSwitchUnit)
			assert.Equal(t, ExitSwitchFailed, exit)
			assert.Equal(t, pipeline.PhaseSwitchExit, out.Phase)
			assert.Equal(t, pipeline.KnownExit(1), out.ExitCode)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.SwitchReport{Unit: e2eSwitchUnit, State: pipeline.UnitExited, Result: "exit-code",
				ExitCode: pipeline.KnownExit(1)}, *out.Switch)
			assert.Equal(t, base(a), out.LastObserved)
			assert.Less(t, out.ElapsedMS, int64(10_000), "not the 60 s budget")
			require.NotNil(t, out.Restored, "the failed run restores the profile and boot default")
			lag := decided - exited - time.Duration(out.Restored.ElapsedMS)*time.Millisecond
			t.Logf("unit exit to decision: at most %s (the binary's return as the test saw it, less the restore's %d ms); elapsed_ms %d",
				lag, out.Restored.ElapsedMS, out.ElapsedMS)
			assert.Less(t, lag, 2*time.Second+500*time.Millisecond, "within one poll interval of the exit")
			assert.Equal(t, a, h.link("run/current-system"))
		}},
		{"switch exits 2 mid-interval: decided at the next poll, about one second after the exit", func(t *testing.T) {
			out, _ := h.outcome(t, pipeline.SwitchFailed, key, append(wait, "activate", y)...)
			decided := monotonicNow(t)
			exited := h.unitExitedAt(t, e2eSwitchUnit)
			assert.Equal(t, pipeline.PhaseSwitchExit, out.Phase)
			assert.Equal(t, pipeline.KnownExit(2), out.ExitCode)
			// The restore that follows the failure (profile and boot default back) comes after the decision.
			require.NotNil(t, out.Restored)
			lag := decided - exited - time.Duration(out.Restored.ElapsedMS)*time.Millisecond
			t.Logf("unit exit to decision: at most %s; elapsed_ms %d, restore %d ms", lag, out.ElapsedMS, out.Restored.ElapsedMS)
			assert.Less(t, lag, 2*time.Second+500*time.Millisecond, "within one poll interval of the exit")
		}},
		{"reboot mid-switch into the old closure: recover reports switch-failed at reboot at once", func(t *testing.T) {
			run := h.start(t, key, append(wait, "activate", g)...)
			rec := h.waitRecord(t, run, g, pipeline.StepFired)
			assert.Equal(t, "11111111-1111-1111-1111-111111111111", rec.BootID, "the record keeps the boot ID")
			require.NoError(t, run.Signal(syscall.SIGKILL))
			h.wait(t, run)
			h.reboot(t, a, "22222222-2222-2222-2222-222222222222")

			started := time.Now()
			out, exit := h.outcome(t, pipeline.SwitchFailed, key, append(wait, "recover")...)
			took := time.Since(started)
			t.Logf("recover after a reboot: %s wall, elapsed_ms %d", took, out.ElapsedMS)
			assert.Equal(t, ExitSwitchFailed, exit)
			assert.True(t, out.Recovered)
			assert.Equal(t, pipeline.PhaseReboot, out.Phase)
			assert.Equal(t, base(g), out.Closure)
			assert.Equal(t, base(a), out.Booted)
			assert.Equal(t, base(a), out.LastObserved)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.UnitUnknown, out.Switch.State)
			assert.Nil(t, out.Switch.ExitCode, "exit_code null")
			assert.Less(t, out.ElapsedMS, int64(2_000), "no wait for a switch that died with the boot")
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitUnknown}, h.unit(t, e2eSwitchUnit), "no unit started by recover")
		}},
		{"reboot mid-switch into the new closure: recover reports settled-degraded at once", func(t *testing.T) {
			run := h.start(t, key, append(wait, "activate", m)...)
			rec := h.waitRecord(t, run, m, pipeline.StepFired)
			require.NoError(t, run.Signal(syscall.SIGKILL))
			h.wait(t, run)
			assert.Equal(t, "22222222-2222-2222-2222-222222222222", rec.BootID)
			h.reboot(t, m, "33333333-3333-3333-3333-333333333333")

			out, exit := h.outcome(t, pipeline.SettledDegraded, key, append(wait, "recover")...)
			assert.Equal(t, ExitDegraded, exit)
			assert.True(t, out.Recovered)
			assert.Equal(t, base(m), out.Closure)
			assert.Equal(t, base(m), out.Booted)
			assert.Equal(t, "host rebooted during the switch; switch status unknown", out.Reason)
			require.NotNil(t, out.Switch)
			assert.Nil(t, out.Switch.ExitCode, "exit_code null")
			assert.Less(t, out.ElapsedMS, int64(2_000))
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; the later steps depend on it", s.name)
		}
	}
}
