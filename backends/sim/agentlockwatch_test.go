package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

const lockPath = "/run/nixfleet-activate.lock"

func watchFree(t *testing.T, h *Host) (<-chan struct{}, func()) {
	t.Helper()
	free, stop, err := h.AgentLock(lockPath).(pipeline.AgentLockWaiter).WatchFree()
	require.NoError(t, err)
	return free, stop
}

func posted(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAgentLockWatchIsNotifiedAtTheReleaseInstant(t *testing.T) {
	h := newHost(t)
	h.HoldAgentLock(lockPath)
	free, stop := watchFree(t, h)
	defer stop()
	h.Clock().Schedule(1550*time.Millisecond, func() { h.ReleaseAgentLock(lockPath) })
	start := h.Clock().Now()
	<-h.Clock().After(5 * time.Second)
	assert.Equal(t, 1550*time.Millisecond, h.Clock().Now().Sub(start), "the sleep ends at the release")
	assert.True(t, posted(free))
	h.HoldAgentLock(lockPath)
	h.ReleaseAgentLock(lockPath)
	assert.False(t, posted(free), "one notification per watch")
}

func TestAgentLockWatchStoppedOrUnwatchedWakesNothing(t *testing.T) {
	h := newHost(t)
	h.HoldAgentLock(lockPath)
	free, stop := watchFree(t, h)
	stop()
	h.Clock().Schedule(time.Second, func() { h.ReleaseAgentLock(lockPath) })
	start := h.Clock().Now()
	<-h.Clock().After(2 * time.Second)
	assert.Equal(t, 2*time.Second, h.Clock().Now().Sub(start), "a release nobody watches ends no sleep")
	assert.False(t, posted(free))
}

func TestAgentLockWatchOfAFreeLockPostsAtOnceAndFailuresAreInjected(t *testing.T) {
	h := newHost(t)
	free, stop := watchFree(t, h)
	defer stop()
	assert.True(t, posted(free))
	h.FailAgentLockWatches(errors.New("too many open files"))
	c, err := h.Clone()
	require.NoError(t, err)
	for _, host := range []*Host{h, c} {
		_, _, err = host.AgentLock(lockPath).(pipeline.AgentLockWaiter).WatchFree()
		require.EqualError(t, err, "too many open files", "the clone copies the failure")
		_, _, err = host.AgentLock(lockPath).(pipeline.AgentLockWaiter).WatchFree()
		require.NoError(t, err, "one call each")
	}
}
