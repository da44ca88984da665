package real

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// lockFile creates an empty lock file in a temporary directory.
func lockFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "switch-to-configuration.lock")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	return path
}

// hold takes a flock on its own descriptor of path, as another process
// would (flock locks belong to the open file description), until the test
// ends.
func hold(t *testing.T, path string, how int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, unix.Flock(int(f.Fd()), how|unix.LOCK_NB))
}

func TestFlockProbeSeesOnlyExclusiveHolders(t *testing.T) {
	tests := []struct {
		name string
		held []int // flock operations other descriptors hold
		want pipeline.LockState
	}{
		{"nobody holds it", nil, pipeline.LockFree},
		{"held exclusively", []int{unix.LOCK_EX}, pipeline.LockHeld},
		{"only shared holders", []int{unix.LOCK_SH, unix.LOCK_SH}, pipeline.LockFree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := lockFile(t)
			for _, how := range tt.held {
				hold(t, path, how)
			}
			state, err := Flock{}.Probe(path)
			require.NoError(t, err)
			assert.Equal(t, tt.want, state)
		})
	}
}

func TestFlockProbeReleasesItsSharedLock(t *testing.T) {
	path := lockFile(t)
	_, err := Flock{}.Probe(path)
	require.NoError(t, err)
	hold(t, path, unix.LOCK_EX) // would fail with EWOULDBLOCK if the probe kept it
}

func TestFlockFreeWhenFileMissingAndDoesNotCreateIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switch-to-configuration.lock")
	state, err := Flock{}.Probe(path)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockFree, state)
	assert.NoFileExists(t, path)
}

func TestFlockFreeWhenDirectoryMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "nixos", "switch-to-configuration.lock")
	state, err := Flock{}.Probe(path)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockFree, state)
	assert.NoDirExists(t, filepath.Dir(path))
}

func TestFlockErrorWhenAParentIsAFile(t *testing.T) {
	path := filepath.Join(lockFile(t), "child.lock")
	_, err := Flock{}.Probe(path)
	assert.ErrorIs(t, err, unix.ENOTDIR)
}

func TestFlockAgreesWithUtilLinuxFlock(t *testing.T) {
	bin, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("util-linux flock not installed")
	}
	path := lockFile(t)
	hold(t, path, unix.LOCK_EX)
	// util-linux 2.38: exit 1, silent, when held exclusively.
	err = exec.Command(bin, "--nonblock", "--shared", path, "true").Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 1, exitErr.ExitCode())
	state, err := Flock{}.Probe(path)
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockHeld, state)
}

// fakeLocker answers every probe with a fixed state.
type fakeLocker struct {
	state pipeline.LockState
	paths []string
}

func (f *fakeLocker) Probe(path string) (pipeline.LockState, error) {
	f.paths = append(f.paths, path)
	return f.state, nil
}

func TestSwitchLockUsesTheConfiguredLocker(t *testing.T) {
	locker := &fakeLocker{state: pipeline.LockHeld}
	b, _ := newScripted(t, Config{Locker: locker})
	state, err := b.SwitchLock(context.Background(), "/run/nixos/switch-to-configuration.lock")
	require.NoError(t, err)
	assert.Equal(t, pipeline.LockHeld, state)
	assert.Equal(t, []string{"/run/nixos/switch-to-configuration.lock"}, locker.paths)
}
