package real

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Locker probes the switch lock without waiting for it. It is a seam
// because flock(2) is a system call the simulator cannot answer through a
// proc.Runner: the simulator supplies its own Locker.
type Locker interface {
	// Probe reports whether someone holds path exclusively. An error means
	// the state is unknown.
	Probe(path string) (pipeline.LockState, error)
}

// Flock probes with flock(2) the way `flock --nonblock --shared PATH true`
// does (util-linux 2.38), without running a binary and without creating the
// file. switch-to-configuration holds the lock exclusively while it runs.
// The zero value is ready to use.
type Flock struct{}

// Probe opens path read-only and tries a non-blocking shared lock:
//   - path or its directory missing (a fresh host may have no /run/nixos):
//     LockFree; the file is not created.
//   - the shared lock is granted (nobody, or only shared holders): LockFree,
//     released at once.
//   - EWOULDBLOCK (an exclusive holder): LockHeld.
//
// Any other failure (permissions, a path component that is a file) is
// returned as an error, and the state is unknown.
func (Flock) Probe(path string) (pipeline.LockState, error) {
	// GOTCHA: O_NONBLOCK so that a FIFO at path cannot block the open.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return pipeline.LockFree, nil
	}
	if err != nil {
		return pipeline.LockFree, fmt.Errorf("opening lock %s: %w", path, err)
	}
	defer unix.Close(fd)
	err = flockRetry(fd, unix.LOCK_SH|unix.LOCK_NB)
	switch {
	case err == nil:
		_ = unix.Flock(fd, unix.LOCK_UN) // closing fd would release it too
		return pipeline.LockFree, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return pipeline.LockHeld, nil
	default:
		return pipeline.LockFree, fmt.Errorf("probing lock %s: %w", path, err)
	}
}

// flockRetry calls flock(2), retrying when a signal interrupts it.
func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// SwitchLock probes path with the configured Locker. ctx is unused: the
// probe never waits.
func (b *Backend) SwitchLock(_ context.Context, path string) (pipeline.LockState, error) {
	return b.cfg.Locker.Probe(path)
}
