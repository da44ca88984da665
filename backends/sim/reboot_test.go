package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

func TestRebootMidSwitch(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true,
		Switch: &SwitchBehaviour{Duration: 20 * time.Second, Flip: Flip{At: 10 * time.Second}}})
	run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB))
	fire(t, h, "sw", sysB, "switch", "--remain-after-exit")
	before := h.BootID()
	h.Clock().Advance(2 * time.Second)

	require.NoError(t, h.Reboot(""))
	assert.NotEqual(t, before, h.BootID())
	assert.Len(t, h.BootID(), 36, "a UUID")
	assert.Equal(t, storePath(sysB), h.CurrentSystem(), "the switch had made sysB the boot default")
	assert.Equal(t, storePath(sysB), h.BootedSystem())
	assert.Equal(t, "not-found", h.Unit("sw").LoadState, "units are gone")
	state, err := h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockFree, state)

	h.Clock().Advance(30 * time.Second)
	assert.False(t, h.Runs()[0].Exited, "the old boot's process never reports an end")
	assert.Equal(t, storePath(sysB), h.CurrentSystem())
}

func TestRebootInto(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.Reboot(sysC))
	assert.Equal(t, storePath(sysC), h.CurrentSystem())
	assert.Equal(t, storePath(sysC), h.BootedSystem())
}

// nix-env --set alone writes no bootloader entry: without a boot default
// set by a switch or boot action, the host boots what it booted last.
func TestRebootWithoutBootDefaultBootsWhatItBootedLast(t *testing.T) {
	h := newHost(t)
	run(t, h, "nix-store", "--realise", storePath(sysB))
	requireResult(t, run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB)), 0, "", "")
	require.NoError(t, h.Reboot(""))
	assert.Equal(t, storePath(sysA), h.CurrentSystem())
}

func TestRebootOfAFreshHostBootsTheProfile(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.FS().Remove(DefaultBootedSystem))
	run(t, h, "nix-store", "--realise", storePath(sysB))
	requireResult(t, run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB)), 0, "", "")
	require.NoError(t, h.Reboot(""))
	assert.Equal(t, storePath(sysB), h.CurrentSystem())
}

func TestFaultDurationTakesVirtualTime(t *testing.T) {
	h := newHost(t)
	h.AddFault(Fault{Match: Cmd("systemctl", "show"), Exit: 1, Stderr: "Failed to get properties: Connection timed out",
		Duration: 25 * time.Second, Times: 1})
	start := h.Elapsed()
	res := run(t, h, "systemctl", "show", "x")
	assert.Equal(t, 1, res.ExitCode)
	assert.Equal(t, 25*time.Second, h.Elapsed()-start)
}

func TestFaultHangRunsUntilTheCallersTimeout(t *testing.T) {
	h := newHost(t)
	h.AddFault(Fault{Match: Cmd("systemctl", "show"), Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := h.Elapsed()
	_, err := h.Run(ctx, proc.Cmd{Argv: []string{"systemctl", "show", "x"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, time.Minute, h.Elapsed()-start)

	_, err = h.Run(context.Background(), proc.Cmd{Argv: []string{"systemctl", "show", "x"}})
	assert.True(t, errors.Is(err, ErrNotEmulated), "no timeout: it would hang forever")
}
