package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bootAs writes the kernel's boot ID into the fake host's view.
func (h *fakeHost) bootAs(t *testing.T, id string) {
	require.NoError(t, h.fs.MkdirAll("/proc/sys/kernel/random", 0o755))
	require.NoError(t, h.fs.WriteFile(DefaultBootIDPath, []byte(id+"\n"), 0o444))
}

// rebootInto models a reboot: the unit is gone, both /run links point at
// basename, and the boot ID is new.
func (w *crashWorld) rebootInto(t *testing.T, basename string) {
	w.units = map[string]UnitStatus{}
	w.plans = map[string]switchPlan{}
	require.NoError(t, w.fs.ReplaceLink("/nix/store/"+basename, "/run/current-system"))
	require.NoError(t, w.fs.ReplaceLink("/nix/store/"+basename, "/run/booted-system"))
	w.bootAs(t, "22222222-2222-2222-2222-222222222222")
}

func TestRecordKeepsTheBootID(t *testing.T) {
	w := newCrashWorld(t)
	w.bootAs(t, "11111111-1111-1111-1111-111111111111")
	w.clk.Schedule(time.Second, w.kill)
	w.activate()
	assert.Equal(t, "11111111-1111-1111-1111-111111111111", w.record(t).BootID)
}

func TestRecoverAfterRebootDecidesAtOnce(t *testing.T) {
	// Booted into old, the failure is restored: the profile, and the boot
	// default by old's own boot action (the unit that could have told
	// whether the switch reached the bootloader went with the boot).
	cases := map[string]struct {
		into    string
		kind    Kind
		phase   Phase
		restore bool
	}{
		"booted the new closure": {newClosure, SettledDegraded, "", false},
		"booted the old closure": {oldClosure, SwitchFailed, PhaseReboot, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := newCrashWorld(t)
			w.plans[newClosure] = switchPlan{} // never flips, never ends
			w.bootAs(t, "11111111-1111-1111-1111-111111111111")
			w.clk.Schedule(time.Second, w.kill)
			w.activate()
			w.rebootInto(t, c.into)
			before := w.clk.Now()

			rec := w.recover(t)
			assert.Equal(t, c.kind, rec.Kind, rec.Reason)
			assert.Equal(t, c.phase, rec.Phase)
			assert.Equal(t, c.into, rec.Booted)
			require.NotNil(t, rec.Switch)
			assert.Equal(t, UnitUnknown, rec.Switch.State)
			assert.Equal(t, UnknownExit(), rec.Switch.ExitCode)
			if !c.restore {
				assert.Equal(t, before, w.clk.Now(), "nothing waited for")
				assert.Equal(t, 1, fires(w.effects))
			} else {
				require.NotNil(t, rec.Restored)
				assert.Equal(t, BootRestored, rec.Restored.Boot, "%+v", rec.Restored)
				assert.Equal(t, 2, fires(w.effects), "the run's switch, then old's boot action")
			}
			assert.Nil(t, w.record(t), "record cleared: no later run stays blocked")
		})
	}
}

func TestRecoverWithoutBootIDsFollowsTheUnit(t *testing.T) {
	w := newCrashWorld(t)
	w.clk.Schedule(time.Second, w.kill)
	w.activate()
	assert.Empty(t, w.record(t).BootID)
	rec := w.recover(t)
	assert.Equal(t, Settled, rec.Kind, rec.Reason)
}

// A fire time in the future (the wall clock stepped back since) never
// stretches the wait past one budget from now.
func TestRecoverClockSteppedBackWaitsOneBudgetAtMost(t *testing.T) {
	w := newCrashWorld(t)
	w.plans[newClosure] = switchPlan{} // never flips, never ends
	w.clk.Schedule(time.Second, w.kill)
	w.activate()
	rec := w.record(t)
	rec.FiredAt = rec.FiredAt.Add(time.Hour)
	require.NoError(t, w.j.FileJournal.Save(*rec))
	start := w.clk.Now()

	out := w.recover(t)
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseSwitchPollTimeout, out.Phase)
	assert.Equal(t, DefaultPollBudget, w.clk.Now().Sub(start))
}
