package real

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// within is the loose bound on the watcher's wake-up (Linux wakes a
// blocked flock(2) as the lock is dropped: microseconds, not seconds).
const within = time.Second

// received reports whether ch receives within d.
func received(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestFileAgentLockWatchWakesAtTheReleaseAndLeavesTheLockFree(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	release, err := l.TryLock()
	require.NoError(t, err)
	w, err := l.watchFree()
	require.NoError(t, err)
	defer w.stop()
	select {
	case <-w.free:
		t.Fatal("free reported while the lock is held")
	default:
	}
	_, err = l.TryLock()
	require.ErrorIs(t, err, pipeline.ErrAgentLockHeld, "the holder still holds it")
	start := time.Now()
	release()
	require.True(t, received(w.free, within), "no wake-up within %s of the release", within)
	t.Logf("wake-up %s after the release", time.Since(start))
	release2, err := l.TryLock()
	require.NoError(t, err, "the watcher dropped the lock before posting")
	release2()
	require.True(t, received(w.done, within))
	assert.False(t, received(w.free, 0), "one post per watch")
}

func TestFileAgentLockWatchOfAFreeLockPostsAtOnce(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	free, stop, err := l.WatchFree()
	require.NoError(t, err)
	defer stop()
	require.True(t, received(free, within), "a free lock is reported at once")
	release, err := l.TryLock()
	require.NoError(t, err)
	release()
}

func TestFileAgentLockWatchStoppedNeverLeavesTheLockHeld(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	release, err := l.TryLock()
	require.NoError(t, err)
	w, err := l.watchFree()
	require.NoError(t, err)
	w.stop()
	w.stop() // a second stop is harmless
	release()
	// The parked watcher gets the lock, drops it at once and posts nothing.
	require.True(t, received(w.done, within), "the stopped watcher did not end after the release")
	assert.False(t, received(w.free, 0), "a stopped watch posts nothing")
	release2, err := l.TryLock()
	require.NoError(t, err, "the stopped watcher left the lock free")
	release2()
}

func TestFileAgentLockWatchStoppedBeforeItsFlockTakesNothing(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	release, err := l.TryLock()
	require.NoError(t, err)
	defer release()
	fd, err := l.open()
	require.NoError(t, err)
	w := &freeWatch{free: make(chan struct{}, 1), stopped: make(chan struct{}), done: make(chan struct{})}
	w.stop()
	go w.run(fd)
	// A watcher that went into flock would block until release: ending
	// while the lock is held proves it did not.
	require.True(t, received(w.done, within), "a watch stopped before its flock blocked in it")
	assert.False(t, received(w.free, 0))
}

func TestFileAgentLockWatchRefusesWhatTryLockRefuses(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, nil, 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "link.lock")))
	_, _, err := FileAgentLock{Path: filepath.Join(dir, "link.lock")}.WatchFree()
	assert.ErrorIs(t, err, unix.ELOOP)
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo.lock"), 0o600))
	_, _, err = FileAgentLock{Path: filepath.Join(dir, "fifo.lock")}.WatchFree()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a regular file")
	_, _, err = FileAgentLock{Path: filepath.Join(dir, "missing", "agent.lock")}.WatchFree()
	assert.ErrorIs(t, err, unix.ENOENT)
}

// TestFileAgentLockWatchWakeLatency measures the release-to-post time with
// the watcher parked in flock(2) (its "->" line in /proc/locks), over a few
// rounds; run with -v for the figures.
func TestFileAgentLockWatchWakeLatency(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	var st unix.Stat_t
	release, err := l.TryLock()
	require.NoError(t, err)
	release()
	require.NoError(t, unix.Stat(l.Path, &st))
	const rounds = 20
	lat := make([]time.Duration, 0, rounds)
	for range rounds {
		release, err := l.TryLock()
		require.NoError(t, err)
		w, err := l.watchFree()
		require.NoError(t, err)
		if !parked(t, st.Ino) {
			release()
			w.stop()
			t.Skip("/proc/locks shows no blocked flock here; latency not measured")
		}
		start := time.Now()
		release()
		require.True(t, received(w.free, within), "no wake-up within %s of the release", within)
		lat = append(lat, time.Since(start))
		<-w.done
	}
	slices.Sort(lat)
	t.Logf("release to post, %d rounds: p50 %s, max %s", rounds, lat[rounds/2], lat[rounds-1])
}

// parked waits (up to within) until /proc/locks shows a flock(2) waiter
// ("->" line) on inode ino.
func parked(t *testing.T, ino uint64) bool {
	suffix := ":" + strconv.FormatUint(ino, 10) + " "
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "-> FLOCK") && strings.Contains(line, suffix) {
				return true
			}
		}
		runtime.Gosched()
	}
	return false
}

// TestAcquireAgentLockWakesOnTheFlockRelease: the pipeline's wait with
// events on takes the real lock well within its 100 ms retry of the
// release (the figure is logged; -v).
func TestAcquireAgentLockWakesOnTheFlockRelease(t *testing.T) {
	l := FileAgentLock{Path: filepath.Join(t.TempDir(), "agent.lock")}
	release, err := l.TryLock()
	require.NoError(t, err)
	var log bytes.Buffer
	d := pipeline.Deps{Clock: clock.Real(), AgentLock: l, Events: events.NewMem(nil),
		Log: slog.New(slog.NewTextHandler(&log, nil))}
	taken := make(chan time.Time, 1)
	go func() {
		rel, out := pipeline.AcquireAgentLock(t.Context(), d, 10*time.Second)
		if out == nil {
			taken <- time.Now()
			rel()
		}
		close(taken)
	}()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(l.Path, &st))
	require.True(t, parked(t, st.Ino), "the wait's watcher never blocked in flock")
	start := time.Now()
	release()
	at, ok := <-taken
	require.True(t, ok, "the wait ended without the lock")
	t.Logf("release to AcquireAgentLock's return: %s (%s)", at.Sub(start), strings.TrimSpace(log.String()))
	assert.Less(t, at.Sub(start), within)
}
