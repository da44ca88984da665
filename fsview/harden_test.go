package fsview

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// bothViews runs f against an OS view over a temp dir and an in-memory
// view, each holding /d/file ("data"), /d/link -> /d/file and /d/target.
func bothViews(t *testing.T, f func(t *testing.T, v *View, host string)) {
	for name, mk := range map[string]func() (*View, string){
		"os":  func() (*View, string) { dir := t.TempDir(); return NewOS(dir), dir },
		"mem": func() (*View, string) { return NewMem(), "" },
	} {
		t.Run(name, func(t *testing.T) {
			v, host := mk()
			require.NoError(t, v.MkdirAll("/d", 0o700))
			require.NoError(t, v.WriteFile("/d/file", []byte("data"), 0o600))
			require.NoError(t, v.WriteFile("/d/target", []byte("keep"), 0o600))
			require.NoError(t, v.Symlink("/d/target", "/d/link"))
			f(t, v, host)
		})
	}
}

func TestReadRegularRefusesLinksAndBoundsSize(t *testing.T) {
	bothViews(t, func(t *testing.T, v *View, _ string) {
		data, err := v.ReadRegular("/d/file", 4)
		require.NoError(t, err)
		assert.Equal(t, "data", string(data))
		_, err = v.ReadRegular("/d/file", 3)
		assert.ErrorIs(t, err, ErrTooLarge)
		_, err = v.ReadRegular("/d/link", 100)
		assert.ErrorIs(t, err, syscall.ELOOP)
		_, err = v.ReadRegular("/d", 100)
		assert.ErrorIs(t, err, ErrNotRegular)
		_, err = v.ReadRegular("/d/missing", 100)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestReadRegularNeverBlocksOnAFIFOOrDevice(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	v := NewOS(dir)
	_, err := v.ReadRegular("/fifo", 100)
	assert.ErrorIs(t, err, ErrNotRegular)
	assert.Contains(t, err.Error(), "FIFO")
	if os.Geteuid() == 0 {
		require.NoError(t, unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
		_, err = v.ReadRegular("/null", 100)
		assert.ErrorIs(t, err, ErrNotRegular)
		assert.Contains(t, err.Error(), "character device")
	}
}

func TestReplaceFileReplacesALinkWithoutWritingThroughIt(t *testing.T) {
	bothViews(t, func(t *testing.T, v *View, host string) {
		require.NoError(t, v.ReplaceFile("/d/link", []byte("new"), 0o600))
		info, err := v.Lstat("/d/link")
		require.NoError(t, err)
		assert.True(t, info.Mode().IsRegular())
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
		kept, err := v.ReadFile("/d/target")
		require.NoError(t, err)
		assert.Equal(t, "keep", string(kept))
		if host != "" {
			entries, err := os.ReadDir(filepath.Join(host, "d"))
			require.NoError(t, err)
			assert.Len(t, entries, 3, "no temporary file left")
		}
	})
}

func TestRenameNoReplaceNeverReplaces(t *testing.T) {
	bothViews(t, func(t *testing.T, v *View, _ string) {
		err := v.RenameNoReplace("/d/file", "/d/target")
		assert.True(t, errors.Is(err, fs.ErrExist), "%v", err)
		require.NoError(t, v.RenameNoReplace("/d/file", "/d/moved"))
		data, err := v.ReadFile("/d/moved")
		require.NoError(t, err)
		assert.Equal(t, "data", string(data))
	})
}
