package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// timeline fires sysB's switch with b and samples /run/current-system
// every second for n seconds (entry i is the target at i s).
func timeline(t *testing.T, b SwitchBehaviour, n int) (*Host, []string) {
	t.Helper()
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Switch: &b})
	fire(t, h, "sw", sysB, "switch", "--remain-after-exit")
	seen := []string{h.CurrentSystem()}
	for i := 1; i <= n; i++ {
		<-h.Clock().After(time.Second)
		seen = append(seen, h.CurrentSystem())
	}
	return h, seen
}

func TestSwitchFlipsAtItsOffset(t *testing.T) {
	h, seen := timeline(t, SwitchBehaviour{Duration: 8 * time.Second, Flip: Flip{At: 5 * time.Second}}, 9)
	a, b := storePath(sysA), storePath(sysB)
	assert.Equal(t, []string{a, a, a, a, a, b, b, b, b, b}, seen)
	assert.Equal(t, "exited", h.Unit("sw").SubState)
	assert.Equal(t, sysB, h.BootDefault())
	run := h.Runs()[0]
	assert.Equal(t, sysB, run.Closure, "the closure's own binary ran")
	assert.Equal(t, "switch", run.Action)
	assert.Equal(t, 8*time.Second, run.ExitedAt-run.StartedAt)
}

func TestSwitchWithAbsentWindow(t *testing.T) {
	_, seen := timeline(t, SwitchBehaviour{Duration: 8 * time.Second, Flip: Flip{At: 2 * time.Second, AbsentFor: 3 * time.Second}}, 6)
	a, b := storePath(sysA), storePath(sysB)
	assert.Equal(t, []string{a, a, "", "", "", b, b}, seen)
}

func TestSwitchFlipsToAThirdClosureAndBack(t *testing.T) {
	_, seen := timeline(t, SwitchBehaviour{Duration: 8 * time.Second, Flip: Flip{At: 1 * time.Second, To: sysC, BackAt: 3 * time.Second}}, 4)
	a, c := storePath(sysA), storePath(sysC)
	assert.Equal(t, []string{a, c, c, a, a}, seen)
}

func TestSwitchThatNeverFinishesNorFlips(t *testing.T) {
	h, seen := timeline(t, SwitchBehaviour{Never: true, Flip: Flip{Never: true}}, 300)
	assert.Equal(t, storePath(sysA), seen[300])
	st := h.Unit("sw")
	assert.Equal(t, "running", st.SubState)
	state, err := h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockHeld, state, "a running switch holds the lock")
}

func TestEventsAfterTheEndDoNotHappen(t *testing.T) {
	_, seen := timeline(t, SwitchBehaviour{Duration: 2 * time.Second, Exit: 1, Flip: Flip{At: 3 * time.Second}}, 4)
	assert.Equal(t, storePath(sysA), seen[4])
}

func TestSwitchMovesTheProfile(t *testing.T) {
	h := newHost(t)
	_, err := h.SetProfile(sysB)
	require.NoError(t, err)
	b := SwitchBehaviour{Duration: 4 * time.Second, Flip: Flip{At: time.Second},
		ProfileMove: &ProfileMove{At: 2 * time.Second, To: sysC}}
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Switch: &b})
	fire(t, h, "sw", sysB, "switch", "--remain-after-exit")
	h.Clock().Advance(5 * time.Second)
	assert.Equal(t, sysC, h.ProfileTarget())
	assert.Equal(t, 3, h.ProfileGeneration())
	assert.Equal(t, storePath(sysB), h.CurrentSystem())

	b.ProfileMove = &ProfileMove{At: time.Second, Generation: 1}
	require.NoError(t, h.SetSwitch(sysB, b))
	requireResult(t, run(t, h, "systemctl", "stop", "sw"), 0, "", "")
	fire(t, h, "sw", sysB, "switch", "--remain-after-exit")
	h.Clock().Advance(5 * time.Second)
	assert.Equal(t, 1, h.ProfileGeneration())
}

func TestBootActionOnlySetsTheBootDefault(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Components: Components{Kernel: "6.6.1"},
		Boot: &BootBehaviour{Duration: 2 * time.Second}})
	fire(t, h, "sw", sysB, "boot", "--remain-after-exit")
	h.Clock().Advance(time.Second)
	assert.Empty(t, h.BootDefault())
	h.Clock().Advance(time.Second)
	assert.Equal(t, sysB, h.BootDefault())
	assert.Equal(t, storePath(sysA), h.CurrentSystem())
	assert.Equal(t, "exited", h.Unit("sw").SubState)

	require.NoError(t, h.SetBoot(sysC, BootBehaviour{Duration: time.Second, Exit: 1}))
	require.NoError(t, h.SetCurrent(sysC))
	requireResult(t, run(t, h, "systemctl", "stop", "sw"), 0, "", "")
	fire(t, h, "sw", sysC, "boot", "--remain-after-exit")
	h.Clock().Advance(time.Second)
	assert.Equal(t, sysB, h.BootDefault(), "a failed boot action leaves the default")
	assert.Equal(t, 1, h.Unit("sw").ExecMainStatus)
}

func TestComponentsDifferByCanonicalTarget(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Components: Components{Systemd: "254.1"}})
	for _, rel := range []string{"kernel", "initrd", "kernel-modules", "systemd", "etc/systemd/system/dbus.service"} {
		ta, err := h.FS().EvalSymlinks(storePath(sysA) + "/" + rel)
		require.NoError(t, err, rel)
		tb, err := h.FS().EvalSymlinks(storePath(sysB) + "/" + rel)
		require.NoError(t, err, rel)
		if rel == "systemd" {
			assert.NotEqual(t, ta, tb, rel)
			assert.Contains(t, tb, "-systemd-254.1")
		} else {
			assert.Equal(t, ta, tb, rel)
		}
	}
}
