package real

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func intp(v int) *int { return &v }

// showOutput renders systemctl show's answer in systemd 252's own property
// order, not the order asked for (OBSERVED.md: Service properties first).
func showOutput(result, pid, code, status, load, active, sub string) string {
	return "Result=" + result + "\nExecMainPID=" + pid + "\nExecMainCode=" + code +
		"\nExecMainStatus=" + status + "\nLoadState=" + load + "\nActiveState=" + active +
		"\nSubState=" + sub + "\n"
}

func TestParseUnitShow(t *testing.T) {
	tests := []struct {
		name   string
		stdout string
		want   pipeline.UnitStatus
	}{
		{"unknown unit: systemd 252 prints 0 but it means nothing",
			showOutput("success", "0", "0", "0", "not-found", "inactive", "dead"),
			pipeline.UnitStatus{State: pipeline.UnitUnknown}},
		{"collected unit after a non-zero exit looks the same",
			showOutput("success", "0", "1", "0", "not-found", "inactive", "dead"),
			pipeline.UnitStatus{State: pipeline.UnitUnknown}},
		{"masked unit", showOutput("success", "0", "0", "0", "masked", "inactive", "dead"),
			pipeline.UnitStatus{State: pipeline.UnitUnknown}},
		{"running", showOutput("success", "4242", "0", "0", "loaded", "active", "running"),
			pipeline.UnitStatus{State: pipeline.UnitRunning, Result: "success"}},
		{"starting (Type=exec)", showOutput("success", "4242", "0", "0", "loaded", "activating", "start"),
			pipeline.UnitStatus{State: pipeline.UnitRunning, Result: "success"}},
		{"being stopped", showOutput("success", "4242", "0", "0", "loaded", "deactivating", "stop-sigterm"),
			pipeline.UnitStatus{State: pipeline.UnitRunning, Result: "success"}},
		{"exited 0 and kept by RemainAfterExit", showOutput("success", "4242", "1", "0", "loaded", "active", "exited"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", ExitCode: intp(0)}},
		{"exited 4", showOutput("exit-code", "4242", "1", "4", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(4)}},
		{"could not exec (203/EXEC)", showOutput("exit-code", "4242", "1", "203", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(203)}},
		{"killed by SIGKILL", showOutput("signal", "4242", "2", "9", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "signal", Signal: intp(9)}},
		{"SIGSEGV without a core dump", showOutput("signal", "4242", "2", "11", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "signal", Signal: intp(11)}},
		{"SIGTERM counts as clean but is still a signal", showOutput("success", "4242", "2", "15", "loaded", "active", "exited"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", Signal: intp(15)}},
		{"dumped core on SIGABRT", showOutput("core-dump", "4242", "3", "6", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "core-dump", Signal: intp(6)}},
		{"loaded and stopped, no exit recorded", showOutput("success", "0", "0", "0", "loaded", "inactive", "dead"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success"}},
		{"failed without an exit recorded", showOutput("timeout", "0", "0", "0", "loaded", "failed", "failed"),
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "timeout"}},
		{"requested order, CRLF line ends",
			"LoadState=loaded\r\nActiveState=failed\r\nSubState=failed\r\nResult=exit-code\r\nExecMainCode=1\r\nExecMainStatus=1\r\nExecMainPID=7\r\n",
			pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUnitShow(tt.stdout)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseUnitShowRejectsWhatItCannotTrust(t *testing.T) {
	tests := map[string]string{
		"empty output":          "",
		"no LoadState":          "ActiveState=active\nExecMainCode=0\n",
		"loaded, no code":       "LoadState=loaded\nActiveState=failed\n",
		"non-numeric code":      "LoadState=loaded\nActiveState=failed\nExecMainCode=exited\n",
		"exited, no status":     "LoadState=loaded\nActiveState=failed\nExecMainCode=1\n",
		"exited, status blank":  "LoadState=loaded\nActiveState=failed\nExecMainCode=1\nExecMainStatus=\n",
		"unknown active state":  "LoadState=loaded\nActiveState=maintenance\nExecMainCode=0\nExecMainStatus=0\n",
		"no active state, code": "LoadState=loaded\nExecMainCode=0\nExecMainStatus=0\n",
	}
	for name, stdout := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseUnitShow(stdout)
			assert.ErrorIs(t, err, ErrBadOutput)
		})
	}
}

func TestParseGenerations(t *testing.T) {
	out := "   1   2026-11-29 12:14:21   \n" +
		"   2   2026-11-29 12:15:02   \n" +
		"  10   2026-12-01 08:00:00   (current)\n"
	gens, err := ParseGenerations(out, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, []Generation{
		{Number: 1, Created: time.Date(2026, 11, 29, 12, 14, 21, 0, time.UTC)},
		{Number: 2, Created: time.Date(2026, 11, 29, 12, 15, 2, 0, time.UTC)},
		{Number: 10, Created: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), Current: true},
	}, gens)
}

func TestParseGenerationsReadsTimesInTheGivenZone(t *testing.T) {
	zone := time.FixedZone("UTC+2", 2*60*60)
	gens, err := ParseGenerations("   1   2026-11-29 12:14:21   (current)\n", zone)
	require.NoError(t, err)
	require.Len(t, gens, 1)
	assert.Equal(t, time.Date(2026, 11, 29, 10, 14, 21, 0, time.UTC), gens[0].Created.UTC())
}

func TestParseGenerationsOfAMissingProfileIsEmpty(t *testing.T) {
	gens, err := ParseGenerations("", time.UTC)
	require.NoError(t, err)
	assert.Empty(t, gens)
}

func TestParseGenerationsRejectsOtherLines(t *testing.T) {
	for _, line := range []string{
		"   x   2026-11-29 12:14:21",
		"   1   2026-11-29",
		"   1   29/11/2026 12:14:21",
		"   1   2026-11-29 12:14:21   (old)",
		"  -1   2026-11-29 12:14:21",
	} {
		_, err := ParseGenerations(line+"\n", time.UTC)
		assert.ErrorIs(t, err, ErrBadOutput, line)
	}
}

func TestParseRealisedPath(t *testing.T) {
	got, err := ParseRealisedPath(sysPath + "\n\n")
	require.NoError(t, err)
	assert.Equal(t, sysPath, got)

	got, err = ParseRealisedPath("/nix/store/aaa-first\n" + sysPath + "\n")
	require.NoError(t, err)
	assert.Equal(t, sysPath, got, "the last line wins")

	_, err = ParseRealisedPath(" \n\n")
	assert.ErrorIs(t, err, ErrBadOutput)
}

func TestIsUnitNotLoaded(t *testing.T) {
	assert.True(t, IsUnitNotLoaded("Failed to stop nixfleet-switch.service: Unit nixfleet-switch.service not loaded.\n"))
	assert.True(t, IsUnitNotLoaded("Failed to reset failed state of unit nixfleet-switch.service: Unit nixfleet-switch.service not loaded.\n"))
	assert.False(t, IsUnitNotLoaded("Failed to stop nixfleet-switch.service: Access denied\n"))
	assert.False(t, IsUnitNotLoaded("System has not been booted with systemd as init system (PID 1). Can't operate.\n"))
}
