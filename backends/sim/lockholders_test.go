package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func diagnose(t *testing.T, h *Host) *lockdiag.Diagnosis {
	t.Helper()
	d, err := lockdiag.Diagnose(h.LockDiag(), DefaultLockPath, []string{"nixfleet-activate-switch"})
	require.NoError(t, err)
	return d
}

func TestHoldLockKinds(t *testing.T) {
	for _, tc := range []struct {
		spec  LockHolder
		kinds []lockdiag.Kind
	}{
		{LockHolder{Kind: HolderSwitch}, []lockdiag.Kind{lockdiag.KindSwitch}},
		{LockHolder{Kind: HolderOwnUnit}, []lockdiag.Kind{lockdiag.KindOwnUnit}},
		{LockHolder{Kind: HolderInherited, Unit: "foo"}, []lockdiag.Kind{lockdiag.KindInherited}},
		{LockHolder{Kind: HolderZombie, Parent: "deployer"}, []lockdiag.Kind{lockdiag.KindZombie, lockdiag.KindInherited}},
	} {
		t.Run(string(tc.spec.Kind), func(t *testing.T) {
			h := MustNewHost(HostConfig{})
			tc.spec.Since = time.Hour
			require.NoError(t, h.HoldLock(tc.spec))
			state, err := h.Locker().Probe(DefaultLockPath)
			require.NoError(t, err)
			assert.Equal(t, pipeline.LockHeld, state)
			d := diagnose(t, h)
			var kinds []lockdiag.Kind
			for _, hd := range d.Holders {
				kinds = append(kinds, hd.Kind)
				require.NotNil(t, hd.HeldForS)
				assert.Equal(t, int64(3600), *hd.HeldForS)
			}
			assert.Equal(t, tc.kinds, kinds)
		})
	}
}

func TestSetLockFreesOutsideHolders(t *testing.T) {
	h := MustNewHost(HostConfig{})
	require.NoError(t, h.HoldLock(LockHolder{Kind: HolderInherited, Unit: "foo.service"}))
	require.NoError(t, h.SetLock(LockFree))
	state, err := h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockFree, state)
	assert.False(t, diagnose(t, h).Held)
}

func TestHoldLockRefusesIncompleteSpecs(t *testing.T) {
	h := MustNewHost(HostConfig{})
	assert.Error(t, h.HoldLock(LockHolder{Kind: HolderInherited}))
	assert.Error(t, h.HoldLock(LockHolder{Kind: HolderZombie}))
	assert.Error(t, h.HoldLock(LockHolder{Kind: "ghost"}))
	require.NoError(t, h.HoldLock(LockHolder{Kind: HolderOwnUnit}))
	assert.Error(t, h.HoldLock(LockHolder{Kind: HolderOwnUnit}), "the unit is already loaded")
}

func TestCloneKeepsLockHolders(t *testing.T) {
	h := MustNewHost(HostConfig{})
	require.NoError(t, h.HoldLock(LockHolder{Kind: HolderSwitch}))
	c, err := h.Clone()
	require.NoError(t, err)
	require.NoError(t, c.HoldLock(LockHolder{Kind: HolderInherited, Unit: "foo"}))
	assert.Len(t, diagnose(t, h).Holders, 1, "the original does not see the clone's holder")
	assert.Len(t, diagnose(t, c).Holders, 2)
}

// TestSummaryLockLineNamesTheHolders: the summary's lock line says what a
// probe finds, held by whom, never "free" while a holder keeps the lock
// (it said "lock: free (switch running: true)" for a hung own unit).
func TestSummaryLockLineNamesTheHolders(t *testing.T) {
	for _, c := range []struct {
		spec LockHolder
		want string
	}{
		{LockHolder{Kind: HolderOwnUnit}, "lock: held by unit nixfleet-activate-switch.service's switch-to-configuration\n"},
		{LockHolder{Kind: HolderSwitch}, "lock: held by pid 4001 switch-to-confi in nixos-rebuild-switch-to-configuration.service\n"},
		{LockHolder{Kind: HolderInherited, Unit: "backup.service"}, "lock: held by pid 4001 backup in backup.service (inherited descriptor of exited pid 4002)\n"},
		{LockHolder{Kind: HolderZombie, Parent: "deployer"}, "lock: held by pid 4001 deployer in deployer.service (keeping the descriptor of its zombie child pid 4002 switch-to-confi)\n"},
	} {
		h := newHost(t)
		require.NoError(t, h.HoldLock(c.spec))
		held, err := h.probe(DefaultLockPath)
		require.NoError(t, err)
		require.Equal(t, pipeline.LockHeld, held)
		assert.Contains(t, h.Summary(), c.want, c.spec.Kind)
	}
	h := newHost(t)
	require.NoError(t, h.SetLock(LockExclusive))
	assert.Contains(t, h.Summary(), "lock: held by pid 4001 switch-to-confi in nixos-rebuild-switch-to-configuration.service\n")
	require.NoError(t, h.SetLock(LockStale))
	assert.Contains(t, h.Summary(), "lock: stale (free)\n")
}
