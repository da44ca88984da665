package real

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// FileAgentLock is pipeline.AgentLock on a real host: flock(2) LOCK_EX on
// Path (pipeline.DefaultAgentLockPath), a file the agent creates 0600 and
// owns. The kernel drops the lock when its process dies, so a crashed run
// never blocks the next one.
type FileAgentLock struct {
	// Path is the lock file's host path; its directory must exist.
	Path string
}

var _ pipeline.AgentLock = FileAgentLock{}

// TryLock opens Path without following a link or blocking
// (O_NOFOLLOW|O_NONBLOCK: a FIFO planted there cannot hang the agent),
// refuses anything but a regular file owned by the running user, and takes
// flock(2) LOCK_EX|LOCK_NB. Errors: pipeline.ErrAgentLockHeld (wrapped)
// when another process holds it; otherwise what was wrong with the file.
func (l FileAgentLock) TryLock() (func(), error) {
	fd, err := l.open()
	if err != nil {
		return nil, err
	}
	// LOADBEARING: LOCK_NB: waiting is the pipeline's job (virtual-time
	// testable, bounded by --wait-lock), never a blocking flock; the
	// blocking one of WatchFree only wakes that wait, it takes nothing.
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", pipeline.ErrAgentLockHeld, l.Path)
		}
		return nil, fmt.Errorf("flock %s: %w", l.Path, err)
	}
	return func() { unix.Close(fd) }, nil
}

// open opens Path as TryLock describes (a new open file description: its
// flock(2) contends with every other one, in this process too) and checks
// it. Errors: the open's, or what was wrong with the file.
func (l FileAgentLock) open() (int, error) {
	fd, err := unix.Open(l.Path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", l.Path, err)
	}
	if err := checkLockFile(fd, l.Path); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkLockFile refuses a lock file that is not a regular file owned by
// the running user.
func checkLockFile(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file (mode %#o)", path, st.Mode)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is owned by uid %d, not by the running user (uid %d)", path, st.Uid, os.Geteuid())
	}
	return nil
}
