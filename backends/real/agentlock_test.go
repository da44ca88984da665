package real

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func TestFileAgentLockIsExclusiveUntilReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.lock")
	l := FileAgentLock{Path: path}
	release, err := l.TryLock()
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	// flock(2) locks belong to the open file description: a second open,
	// even in this process, conflicts as another process's would.
	_, err = l.TryLock()
	assert.ErrorIs(t, err, pipeline.ErrAgentLockHeld)
	release()
	release2, err := l.TryLock()
	require.NoError(t, err)
	release2()
}

func TestFileAgentLockRefusesALinkOrAFIFO(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, nil, 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "link.lock")))
	_, err := FileAgentLock{Path: filepath.Join(dir, "link.lock")}.TryLock()
	assert.ErrorIs(t, err, unix.ELOOP)
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo.lock"), 0o600))
	_, err = FileAgentLock{Path: filepath.Join(dir, "fifo.lock")}.TryLock()
	require.Error(t, err)
	assert.NotErrorIs(t, err, pipeline.ErrAgentLockHeld)
	assert.Contains(t, err.Error(), "not a regular file")
}
