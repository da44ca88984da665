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
