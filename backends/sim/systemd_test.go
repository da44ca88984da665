package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const showProps = "--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID"

// fire starts sysX's switch-to-configuration ACTION in unit u with extra
// systemd-run flags.
func fire(t *testing.T, h *Host, u, basename, action string, flags ...string) {
	t.Helper()
	argv := append([]string{"systemd-run", "--unit=" + u}, flags...)
	argv = append(argv, "--", storePath(basename)+"/bin/switch-to-configuration", action)
	requireResult(t, run(t, h, argv...), 0, "", "Running as unit: "+u+".service\n")
}

func show(t *testing.T, h *Host, u string) string {
	t.Helper()
	res := run(t, h, "systemctl", "show", showProps, u+".service")
	require.Equal(t, 0, res.ExitCode)
	return string(res.Stdout)
}

const notFoundShow = "Result=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"

func TestShowOfUnknownUnitIsNotFoundWithStatusZero(t *testing.T) {
	h := newHost(t)
	assert.Equal(t, notFoundShow, show(t, h, "nope"))
	res := run(t, h, "systemctl", "show", "--property=ExecMainStatus", "--value", "nope.service")
	requireResult(t, res, 0, "0\n", "")
	// Observed verbatim with systemd 252.
	res = run(t, h, "systemctl", "show", "nosuch.service")
	requireResult(t, res, 0, "Type=\nRemainAfterExit=no\nMainPID=0\nResult=success\nExecMainPID=0\nExecMainCode=0\n"+
		"ExecMainStatus=0\nId=nosuch.service\nDescription=nosuch.service\nLoadState=not-found\nActiveState=inactive\n"+
		"SubState=dead\nCollectMode=inactive\n", "")
	fire(t, h, "p11", sysA, "switch", "--remain-after-exit")
	res = run(t, h, "systemctl", "show", "--property=LoadState,ExecMainStatus", "p11.service", "nosuch.service")
	requireResult(t, res, 0, "ExecMainStatus=0\nLoadState=loaded\n\nExecMainStatus=0\nLoadState=not-found\n", "")
	requireResult(t, run(t, h, "systemctl", "show", "-p", "Result", "-p", "LoadState", "--value", "p11"), 0, "success\nloaded\n", "")
	requireResult(t, run(t, h, "systemctl", "show", "-P", "LoadState", "p11"), 0, "loaded\n", "")
	requireResult(t, run(t, h, "systemctl", "show", "--property", "Bogus", "p11"), 0, "", "")
}

func TestUnitWithoutCollectKeepsItsFailure(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetSwitch(sysA, SwitchBehaviour{Duration: 4 * time.Second, Exit: 4, Flip: Flip{Never: true}}))
	fire(t, h, "sw", sysA, "switch", "--remain-after-exit")
	pid := h.Unit("sw").ExecMainPID
	assert.Equal(t, "Result=success\nExecMainPID="+itoa(pid)+"\nExecMainCode=0\nExecMainStatus=0\nLoadState=loaded\nActiveState=active\nSubState=running\n", show(t, h, "sw"))
	h.Clock().Advance(4 * time.Second)
	assert.Equal(t, "Result=exit-code\nExecMainPID="+itoa(pid)+"\nExecMainCode=1\nExecMainStatus=4\nLoadState=loaded\nActiveState=failed\nSubState=failed\n", show(t, h, "sw"))
	// Reusing the loaded name fails (systemd 252).
	res := run(t, h, "systemd-run", "--unit=sw", "--", storePath(sysA)+"/bin/switch-to-configuration", "switch")
	requireResult(t, res, 1, "", "Failed to start transient service unit: Unit sw.service was already loaded or has a fragment file.\n")
	// stop leaves a failed unit failed; reset-failed frees the name.
	requireResult(t, run(t, h, "systemctl", "stop", "sw.service"), 0, "", "")
	assert.Equal(t, "failed", h.Unit("sw").ActiveState)
	requireResult(t, run(t, h, "systemctl", "reset-failed", "sw.service"), 0, "", "")
	assert.Equal(t, notFoundShow, show(t, h, "sw"))
	requireResult(t, run(t, h, "systemctl", "reset-failed", "sw.service"), 1, "",
		"Failed to reset failed state of unit sw.service: Unit sw.service not loaded.\n")
	requireResult(t, run(t, h, "systemctl", "stop", "sw.service"), 5, "",
		"Failed to stop sw.service: Unit sw.service not loaded.\n")
	fire(t, h, "sw", sysA, "switch")
}

func TestCollectLosesTheStatus(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetSwitch(sysA, SwitchBehaviour{Duration: time.Second, Exit: 1, Flip: Flip{Never: true}}))
	fire(t, h, "sw", sysA, "switch", "--collect", "--remain-after-exit")
	h.Clock().Advance(time.Second)
	assert.Equal(t, notFoundShow, show(t, h, "sw"), "GOTCHA observed with systemd 252: the failure reads as 0")
	runs := h.Runs()
	require.Len(t, runs, 1)
	assert.Equal(t, CodeExited, runs[0].ExecMainCode)
	assert.Equal(t, 1, runs[0].ExecMainStatus, "the history keeps what the journal would")
}

func TestRemainAfterExitKeepsSuccessAndStopUnloads(t *testing.T) {
	h := newHost(t)
	fire(t, h, "sw", sysA, "switch", "--remain-after-exit")
	h.Clock().Advance(time.Minute)
	st := h.Unit("sw")
	assert.Equal(t, []string{"loaded", "active", "exited", "success"}, []string{st.LoadState, st.ActiveState, st.SubState, st.Result})
	assert.Equal(t, CodeExited, st.ExecMainCode)
	// reset-failed leaves it active and loaded (systemd 252): the real
	// backend's release sends stop, then reset-failed, for it.
	requireResult(t, run(t, h, "systemctl", "reset-failed", "sw"), 0, "", "")
	assert.Equal(t, []string{"loaded", "active"}, []string{h.Unit("sw").LoadState, h.Unit("sw").ActiveState})
	requireResult(t, run(t, h, "systemctl", "stop", "sw"), 0, "", "")
	assert.Equal(t, "not-found", h.Unit("sw").LoadState)
}

func TestWithoutRemainAfterExitASuccessfulUnitIsCollected(t *testing.T) {
	h := newHost(t)
	fire(t, h, "sw", sysA, "switch")
	h.Clock().Advance(time.Minute)
	assert.Equal(t, "not-found", h.Unit("sw").LoadState)
}

func TestSignalEndsAndCleanSignals(t *testing.T) {
	cases := []struct {
		signal           int
		coreDump         bool
		result, active   string
		code, wantStatus int
	}{
		{signal: 9, result: "signal", active: "failed", code: CodeKilled, wantStatus: 9},
		{signal: 6, coreDump: true, result: "core-dump", active: "failed", code: CodeDumped, wantStatus: 6},
		// GOTCHA (systemd 252 EXIT_CLEAN_DAEMON): SIGTERM is a clean end.
		{signal: 15, result: "success", active: "active", code: CodeKilled, wantStatus: 15},
	}
	for _, c := range cases {
		h := newHost(t)
		require.NoError(t, h.SetSwitch(sysA, SwitchBehaviour{Duration: time.Second, Signal: c.signal, CoreDump: c.coreDump}))
		fire(t, h, "sw", sysA, "switch", "--remain-after-exit", "--service-type=exec")
		h.Clock().Advance(time.Second)
		st := h.Unit("sw")
		assert.Equal(t, c.result, st.Result, "signal %d", c.signal)
		assert.Equal(t, c.active, st.ActiveState, "signal %d", c.signal)
		assert.Equal(t, c.code, st.ExecMainCode, "signal %d", c.signal)
		assert.Equal(t, c.wantStatus, st.ExecMainStatus, "signal %d", c.signal)
	}
}

func TestStopKillsARunningSwitch(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Switch: &SwitchBehaviour{Never: true, Flip: Flip{At: 10 * time.Second}}})
	fire(t, h, "sw", sysB, "switch", "--remain-after-exit")
	h.Clock().Advance(time.Second)
	requireResult(t, run(t, h, "systemctl", "stop", "sw.service"), 0, "", "")
	h.Clock().Advance(time.Minute)
	assert.Equal(t, storePath(sysA), h.CurrentSystem(), "a stopped switch does not flip later")
	assert.Equal(t, "not-found", h.Unit("sw").LoadState)
	runs := h.Runs()
	assert.Equal(t, []int{CodeKilled, 15}, []int{runs[0].ExecMainCode, runs[0].ExecMainStatus})
}

func TestSystemdRunErrors(t *testing.T) {
	h := newHost(t)
	for _, opt := range []string{"--bogus", "-z", "--quiet", "--property=X=y", "--scope"} {
		_, err := h.Run(t.Context(), cmdWithEnv(nil, "systemd-run", "--unit=x", opt, "--", "true"))
		assert.ErrorIs(t, err, ErrNotEmulated, opt)
	}
	requireResult(t, run(t, h, "systemd-run", "--unit"), 1, "", "systemd-run: option '--unit' requires an argument\n")
	requireResult(t, run(t, h, "systemd-run", "--unit=x"), 1, "", "Command line to execute required.\n")
	prog := storePath(sysB) + "/bin/switch-to-configuration"
	requireResult(t, run(t, h, "systemd-run", "--unit=x", "--", prog, "switch"), 1, "",
		"Failed to find executable "+prog+": No such file or directory\n")
	assert.Equal(t, "not-found", h.Unit("x").LoadState)
}

func TestSystemctlErrors(t *testing.T) {
	h := newHost(t)
	requireResult(t, run(t, h, "systemctl", "stop"), 1, "", "Too few arguments.\n")
	requireResult(t, run(t, h, "systemctl", "show", "-p"), 1, "", "systemctl: option requires an argument -- 'p'\n")
	for _, argv := range [][]string{{"status", "x"}, {"bogusverb"}, {"start", "x"}, {"--bogus", "show", "x"}, {"--no-pager", "show", "x"}, {}} {
		_, err := h.Run(t.Context(), cmdWithEnv(nil, append([]string{"systemctl"}, argv...)...))
		assert.ErrorIs(t, err, ErrNotEmulated, "%q", argv)
	}
}

func TestShowPrintsEveryModelledPropertyWithoutFilter(t *testing.T) {
	h := newHost(t)
	fire(t, h, "sw", sysA, "switch", "--remain-after-exit", "--description=d", "--collect", "--service-type=exec")
	res := run(t, h, "systemctl", "show", "sw")
	pid := itoa(h.Unit("sw").ExecMainPID)
	assert.Equal(t, "Type=exec\nRemainAfterExit=yes\nMainPID="+pid+"\nResult=success\nExecMainPID="+pid+
		"\nExecMainCode=0\nExecMainStatus=0\nId=sw.service\nDescription=d\nLoadState=loaded\nActiveState=active\nSubState=running\nCollectMode=inactive-or-failed\n",
		string(res.Stdout))
}

func TestExecUnitFailingAtOnceFailsTheStartJob(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetSwitch(sysA, SwitchBehaviour{Exit: 1}))
	prog := storePath(sysA) + "/bin/switch-to-configuration"
	res := run(t, h, "systemd-run", "--unit=sw", "--remain-after-exit", "--service-type=exec", "--", prog, "switch")
	requireResult(t, res, 1, "", "Job for sw.service failed because the control process exited with error code.\n"+
		"See \"systemctl status sw.service\" and \"journalctl -xeu sw.service\" for details.\n")
	assert.Equal(t, "failed", h.Unit("sw").ActiveState)
	res = run(t, h, "systemd-run", "--unit=sw2", "--collect", "--service-type=exec", "--", prog, "switch")
	requireResult(t, res, 1, "", "Job for sw2.service failed.\n"+
		"See \"systemctl status sw2.service\" and \"journalctl -xeu sw2.service\" for details.\n")
	// A simple service's job completes at fork: the failure only shows later.
	fire(t, h, "sw3", sysA, "switch")
	assert.Equal(t, "failed", h.Unit("sw3").ActiveState)
	_, err := h.Run(t.Context(), cmdWithEnv(nil, "systemd-run", "--service-type=oneshot", "--", prog, "switch"))
	assert.ErrorIs(t, err, ErrNotEmulated)
}

func TestUnitNamesAreMangledAsSystemdDoes(t *testing.T) {
	assert.Equal(t, "a.service", serviceName("a"))
	assert.Equal(t, "a.b.service", serviceName("a.b"))
	assert.Equal(t, "a.service", serviceName("a.service"))
	assert.Equal(t, "a.timer", serviceName("a.timer"))
}

func TestUnnamedUnitGetsARunName(t *testing.T) {
	h := newHost(t)
	res := run(t, h, "systemd-run", "--", storePath(sysA)+"/bin/switch-to-configuration", "switch")
	assert.Regexp(t, `^Running as unit: run-r[0-9a-f]{32}\.service\n$`, string(res.Stderr))
}

// Observed with systemd 252: a program that exists but cannot be executed.
func TestBrokenBinaryFailsWith203(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, BrokenBinary: true})
	prog := storePath(sysB) + "/bin/switch-to-configuration"
	res := run(t, h, "systemd-run", "--unit=m5", "--remain-after-exit", "--service-type=exec", "--", prog, "switch")
	requireResult(t, res, 1, "", "Job for m5.service failed because the control process exited with error code.\n"+
		"See \"systemctl status m5.service\" and \"journalctl -xeu m5.service\" for details.\n")
	assert.Equal(t, "Result=exit-code\nExecMainPID="+itoa(h.Unit("m5").ExecMainPID)+"\nExecMainCode=1\nExecMainStatus=203\n"+
		"LoadState=loaded\nActiveState=failed\nSubState=failed\n", show(t, h, "m5"))
	fire(t, h, "m6", sysB, "switch", "--remain-after-exit")
	h.Clock().Advance(0)
	assert.Equal(t, 203, h.Unit("m6").ExecMainStatus)
	assert.Equal(t, storePath(sysA), h.CurrentSystem())
}
