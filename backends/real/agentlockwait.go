package real

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

var _ pipeline.AgentLockWaiter = FileAgentLock{}

// WatchFree implements pipeline.AgentLockWaiter: a goroutine blocks in
// flock(2) LOCK_EX (without LOCK_NB) on a file description of its own,
// opened and checked as TryLock's (O_NOFOLLOW, a regular file owned by the
// running user). The kernel grants it the lock once the holder lets go
// (Linux wakes the blocked flock at once); the watcher then closes its
// description, which drops the lock, and only then posts on free, so the
// pipeline's next TryLock never meets the watcher's own hold. Errors: the
// open's or the file check's, as TryLock's (nothing is left open).
//
// GOTCHA: flock(2) cannot be cancelled: a stopped watcher whose flock has not returned stays parked (one thread) until the holder lets go, then drops the lock at once; the binary exits long before that matters.
func (l FileAgentLock) WatchFree() (<-chan struct{}, func(), error) {
	w, err := l.watchFree()
	if err != nil {
		return nil, nil, err
	}
	return w.free, w.stop, nil
}

// freeWatch is one running WatchFree.
type freeWatch struct {
	// free receives one value once the watcher's flock returned and the
	// lock was dropped again (buffer of one; never closed).
	free chan struct{}
	// stopped is closed by stop; done when the watcher goroutine has
	// returned (its description closed).
	stopped, done chan struct{}
	once          sync.Once
}

func (l FileAgentLock) watchFree() (*freeWatch, error) {
	fd, err := l.open()
	if err != nil {
		return nil, err
	}
	w := &freeWatch{free: make(chan struct{}, 1), stopped: make(chan struct{}), done: make(chan struct{})}
	go w.run(fd)
	return w, nil
}

// stop ends the watch: a watcher still in flock drops the lock as soon as
// it gets it and posts nothing. It never blocks.
func (w *freeWatch) stop() { w.once.Do(func() { close(w.stopped) }) }

func (w *freeWatch) run(fd int) {
	defer close(w.done)
	err := errStopped
	if !w.isStopped() {
		err = flockWait(fd)
	}
	// LOADBEARING: close before posting: the lock must be free again when the pipeline's TryLock follows the post.
	// GOTCHA: only this goroutine closes fd: closing it while flock blocks on it could close a reused descriptor number afterwards.
	unix.Close(fd)
	if err == nil && !w.isStopped() {
		w.free <- struct{}{} // the only send: never blocks
	}
}

func (w *freeWatch) isStopped() bool {
	select {
	case <-w.stopped:
		return true
	default:
		return false
	}
}

// errStopped: the watch was stopped before its flock began.
var errStopped = errors.New("agent lock watch stopped")

// flockWait blocks in flock(2) LOCK_EX on fd until the lock is granted.
// Errors: flock's other than EINTR (retried), e.g. ENOLCK; the watch then
// ends without a post and the pipeline's retry takes over.
func flockWait(fd int) error {
	for {
		// LOADBEARING: blocking on purpose (no LOCK_NB): this is the watch, not the take; TryLock stays non-blocking.
		err := unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
