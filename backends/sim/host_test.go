package sim

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/proc"
)

func TestUnknownProgramIsNotFound(t *testing.T) {
	h := newHost(t)
	_, err := h.Run(context.Background(), proc.Cmd{Argv: []string{"nixos-rebuild", "switch"}})
	assert.ErrorIs(t, err, exec.ErrNotFound)
	entry := h.Log()[0]
	assert.Equal(t, 127, entry.ExitCode)
	assert.NotEmpty(t, entry.Err)
	_, err = h.Run(context.Background(), proc.Cmd{})
	assert.Error(t, err)
}

func TestProgramIsChosenByBaseName(t *testing.T) {
	h := newHost(t)
	res := run(t, h, "/run/current-system/sw/bin/nix-store", "--realise", storePath(sysA))
	assert.Equal(t, 0, res.ExitCode)
}

func TestEndedContextRunsNothing(t *testing.T) {
	h := newHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Run(ctx, proc.Cmd{Argv: []string{"nix-env", "--profile", DefaultProfile, "--set", storePath(sysB)}})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, h.IsValid(sysB))
}

func TestLogRecordsVirtualTimeAndCosts(t *testing.T) {
	h := MustNewHost(HostConfig{Costs: ObservedCosts()})
	h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true})
	run(t, h, "nix-store", "--realise", storePath(sysA))
	h.Clock().Advance(2 * time.Second)
	run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysA))
	log := h.Log()
	require.Len(t, log, 2)
	assert.Equal(t, time.Duration(0), log[0].At)
	assert.Equal(t, 2150*time.Millisecond, log[1].At)
	assert.Equal(t, 2240*time.Millisecond, h.Elapsed())
	assert.Equal(t, 0, log[1].ExitCode)
}

func TestFaultsReplaceTheCommand(t *testing.T) {
	h := newHost(t)
	h.AddFault(Fault{Match: Cmd("nix-env", "--set"), Exit: 1, Stderr: "error: disk full", Times: 1})
	res := run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB))
	requireResult(t, res, 1, "", "error: disk full\n")
	assert.False(t, h.IsValid(sysB), "a faulted command has no effect")
	assert.Equal(t, 1, h.ProfileGeneration())
	res = run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB))
	assert.Equal(t, 0, res.ExitCode, "Times: 1")

	h.SetFault(Cmd("nix-store", "--realise"), 1, h.Phrasing().LacksSignature(storePath(sysC))+"\n"+h.Phrasing().BuildFailed(storePath(sysC)))
	res = run(t, h, "nix-store", "--realise", storePath(sysC))
	requireResult(t, res, 1, "", "error: cannot add path '"+storePath(sysC)+"' because it lacks a valid signature\nerror: build of '"+storePath(sysC)+"' failed\n")
	h.ClearFaults()
	assert.Equal(t, 1, run(t, h, "nix-store", "--realise", storePath(sysC)).ExitCode)
}

func TestCmdMatcher(t *testing.T) {
	m := Cmd("nix-env", "--profile", "--set")
	assert.True(t, m([]string{"/bin/nix-env", "--profile", "P", "--set", "X"}))
	assert.False(t, m([]string{"nix-env", "--set", "X", "--profile", "P"}), "words in order")
	assert.False(t, m([]string{"nix-store", "--profile", "--set"}))
	assert.False(t, m(nil))
}

func TestNewHostRejectsBadVersion(t *testing.T) {
	_, err := NewHost(HostConfig{NixVersion: "three"})
	assert.Error(t, err)
	_, err = NixPhrasing("3.0")
	assert.Error(t, err)
	p, err := NixPhrasing("2.13.1")
	require.NoError(t, err)
	assert.Equal(t, "2.13", p.Version())
}

func TestBuilderRejectsBadBasenames(t *testing.T) {
	h := newHost(t)
	assert.Error(t, h.AddClosure(ClosureSpec{Basename: "not-a-hash"}))
	assert.Error(t, h.SetCurrent("x"))
	assert.Error(t, h.InitProfile())
	assert.Error(t, h.SetSwitch(FakeBasename("unknown", ""), DefaultSwitch()))
}

func TestLogEntryAndSummaryRendering(t *testing.T) {
	h := newHost(t)
	run(t, h, "nix-store", "--realise", storePath(sysA))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = h.Run(ctx, proc.Cmd{Argv: []string{"nix-env", "--profile", DefaultProfile, "--rollback"}})
	log := h.Log()
	assert.Equal(t, "+0s nix-store --realise "+storePath(sysA)+" => 0", log[0].String())
	assert.Equal(t, "+0s nix-env --profile "+DefaultProfile+" --rollback => error: proc: nix-env: context canceled", log[1].String())
	s := h.Summary()
	assert.Contains(t, s, "current-system: "+storePath(sysA)+"\n")
	assert.Contains(t, s, "generation 1: "+storePath(sysA)+" (current)\n")
	assert.Contains(t, s, "lock: free\n")
}
