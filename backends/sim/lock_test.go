package sim

import (
	"io/fs"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func TestLockStates(t *testing.T) {
	cases := []struct {
		state     LockState
		want      pipeline.LockState
		wantErr   bool
		fileThere bool
	}{
		{LockFree, pipeline.LockFree, false, true},
		{LockShared, pipeline.LockFree, false, true},
		{LockStale, pipeline.LockFree, false, true},
		{LockExclusive, pipeline.LockHeld, false, true},
		{LockFileMissing, pipeline.LockFree, false, false},
		{LockDirMissing, pipeline.LockFree, false, false},
		{LockProbeError, pipeline.LockFree, true, true},
	}
	for _, c := range cases {
		h := newHost(t)
		require.NoError(t, h.SetLock(c.state))
		got, err := h.Locker().Probe(DefaultLockPath)
		if c.wantErr {
			assert.ErrorIs(t, err, syscall.EACCES, c.state)
		} else {
			assert.NoError(t, err, c.state)
			assert.Equal(t, c.want, got, c.state)
		}
		_, statErr := h.FS().Stat(DefaultLockPath)
		assert.Equal(t, c.fileThere, statErr == nil, "%s: the probe creates nothing", c.state)
		entry := h.Log()[len(h.Log())-1]
		assert.Equal(t, []string{LockProbeArgv0, DefaultLockPath}, entry.Argv)
	}
	h := newHost(t)
	assert.Error(t, h.SetLock("bogus"))
}

func TestLockDirectoryThatIsAFileIsAProbeError(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetLock(LockDirMissing))
	require.NoError(t, h.FS().WriteFile("/run/nixos", []byte("x"), 0o644))
	_, err := h.Locker().Probe(DefaultLockPath)
	assert.ErrorIs(t, err, syscall.ENOTDIR)
	assert.NotErrorIs(t, err, fs.ErrNotExist)
}

func TestRunningSwitchHoldsTheLockUntilItEnds(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetSwitch(sysA, SwitchBehaviour{Duration: 3 * time.Second}))
	fire(t, h, "sw", sysA, "switch", "--remain-after-exit")
	state, err := h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockHeld, state)
	h.Clock().Advance(3 * time.Second)
	state, err = h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockFree, state)
}

func TestSwitchCreatesTheMissingLockDirectory(t *testing.T) {
	h := newHost(t)
	require.NoError(t, h.SetLock(LockDirMissing))
	fire(t, h, "sw", sysA, "switch", "--remain-after-exit")
	state, err := h.Locker().Probe(DefaultLockPath)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockHeld, state)
}
