package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
)

// waiterLock is a tableLock that reports its release to its watches at
// the virtual instant of free(), waking the clock, as the simulator does.
type waiterLock struct {
	tableLock
	clk *clock.Virtual
	// failWatch makes WatchFree fail; loseNext drops the next notification.
	failWatch error
	loseNext  bool
	watches   []chan struct{}
	started   int
	stopped   int
}

func (l *waiterLock) WatchFree() (<-chan struct{}, func(), error) {
	if l.failWatch != nil {
		return nil, nil, l.failWatch
	}
	l.started++
	ch := make(chan struct{}, 1)
	if !l.held {
		ch <- struct{}{}
	}
	l.watches = append(l.watches, ch)
	done := false
	return ch, func() {
		if !done {
			done = true
			l.stopped++
		}
	}, nil
}

// free ends the other holder's hold and notifies the watches.
func (l *waiterLock) free() {
	l.held = false
	if l.loseNext {
		l.loseNext = false
		return
	}
	for _, ch := range l.watches {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if len(l.watches) > 0 {
		l.clk.Wake() // only a notified waiter's sleep ends early
	}
	l.watches = nil
}

// waitDeps are the deps of an agent-lock wait on lock, with events on
// (events nil: --poll-only) and the log in buf.
func waitDeps(clk *clock.Virtual, lock AgentLock, src events.Source, buf *bytes.Buffer) Deps {
	return Deps{Clock: clk, AgentLock: lock, Events: src, Log: slog.New(slog.NewTextHandler(buf, nil))}
}

func newWaiterLock() (*clock.Virtual, *waiterLock) {
	clk := clock.NewVirtual(time.Time{})
	return clk, &waiterLock{tableLock: tableLock{held: true}, clk: clk}
}

func TestAgentLockWaitWakesAtTheRelease(t *testing.T) {
	clk, lock := newWaiterLock()
	clk.Schedule(1550*time.Millisecond, lock.free)
	var log bytes.Buffer
	release, out := AcquireAgentLock(t.Context(), waitDeps(clk, lock, events.NewMem(nil), &log), 5*time.Second)
	require.Nil(t, out)
	assert.Equal(t, 1550*time.Millisecond, clk.Now().Sub(clock.Epoch), "taken at the release, not at the 1.6 s retry")
	assert.True(t, lock.held)
	assert.Equal(t, 1, lock.started, "one watch for the whole wait")
	assert.Equal(t, lock.started, lock.stopped, "every watch is stopped")
	assert.Contains(t, log.String(), `msg="agent lock taken" waited=1.55s on=event`)
	release()
}

func TestAgentLockWaitPollsOnlyWithoutEvents(t *testing.T) {
	clk, lock := newWaiterLock()
	clk.Schedule(1550*time.Millisecond, lock.free)
	var log bytes.Buffer
	_, out := AcquireAgentLock(t.Context(), waitDeps(clk, lock, nil, &log), 5*time.Second)
	require.Nil(t, out)
	assert.Equal(t, 1600*time.Millisecond, clk.Now().Sub(clock.Epoch), "--poll-only: the next retry")
	assert.Zero(t, lock.started, "--poll-only starts no watch")
	assert.Contains(t, log.String(), `waited=1.6s on=retry`)
}

func TestAgentLockWaitFallsBackToTheRetry(t *testing.T) {
	for name, prepare := range map[string]func(*waiterLock){
		"watch fails": func(l *waiterLock) { l.failWatch = errors.New("open /run/x.lock: too many open files") },
		"event lost":  func(l *waiterLock) { l.loseNext = true },
	} {
		t.Run(name, func(t *testing.T) {
			clk, lock := newWaiterLock()
			prepare(lock)
			clk.Schedule(1550*time.Millisecond, lock.free)
			var log bytes.Buffer
			_, out := AcquireAgentLock(t.Context(), waitDeps(clk, lock, events.NewMem(nil), &log), 5*time.Second)
			require.Nil(t, out)
			assert.Equal(t, 1600*time.Millisecond, clk.Now().Sub(clock.Epoch), "within one AgentLockRetry of the release")
			assert.Equal(t, lock.started, lock.stopped)
			assert.NotContains(t, log.String(), "level=WARN")
			assert.NotContains(t, log.String(), "level=ERROR")
			if lock.failWatch != nil {
				assert.Contains(t, log.String(), `level=INFO msg="agent lock watch did not start, retrying every interval" interval=100ms err="open /run/x.lock: too many open files"`)
			}
		})
	}
}

func TestAgentLockWaitWatchesAgainWhenAnotherRunWinsTheRelease(t *testing.T) {
	clk, lock := newWaiterLock()
	// Another waiter takes the lock at the instant it is freed (before this
	// run's TryLock), then lets it go 1 s later.
	clk.Schedule(1550*time.Millisecond, func() {
		lock.free()
		lock.held = true
	})
	clk.Schedule(2550*time.Millisecond, lock.free)
	_, out := AcquireAgentLock(t.Context(), waitDeps(clk, lock, events.NewMem(nil), &bytes.Buffer{}), 5*time.Second)
	require.Nil(t, out)
	assert.Equal(t, 2550*time.Millisecond, clk.Now().Sub(clock.Epoch), "the second release, on its event")
	assert.Equal(t, 2, lock.started, "a new watch after the lost race")
	assert.Equal(t, 2, lock.stopped)
}

func TestAgentLockWaitStopsItsWatchWhenBoundedOrInterrupted(t *testing.T) {
	clk, lock := newWaiterLock()
	_, out := AcquireAgentLock(t.Context(), waitDeps(clk, lock, events.NewMem(nil), &bytes.Buffer{}), time.Second)
	require.NotNil(t, out)
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, time.Second, clk.Now().Sub(clock.Epoch), "the budget stays the outer bound")
	assert.Equal(t, 1, lock.started)
	assert.Equal(t, 1, lock.stopped, "no watch outlives the wait")

	clk, lock = newWaiterLock()
	ctx, cancel := context.WithCancel(t.Context())
	clk.Schedule(300*time.Millisecond, cancel)
	_, out = AcquireAgentLock(ctx, waitDeps(clk, lock, events.NewMem(nil), &bytes.Buffer{}), time.Minute)
	require.NotNil(t, out)
	assert.Equal(t, Interrupted, out.Kind)
	assert.Equal(t, lock.started, lock.stopped)
}
