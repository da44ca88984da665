package plan

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// snapshot lists every entry under root with its mode, link target or
// contents, to tell whether anything changed.
func snapshot(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		entry := p + " " + info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			entry += " -> " + target
		case info.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			entry += " " + string(data)
		}
		out = append(out, entry)
		return nil
	}))
	sort.Strings(out)
	return out
}

// osHost is a small host tree: a store path, current-system, a profile.
func osHost(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"nix/store/aaa-sys/bin", "run", "nix/var/nix/profiles", "var/lib/state"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "nix/store/aaa-sys/bin/switch-to-configuration"), []byte("x"), 0o555))
	require.NoError(t, os.Symlink("/nix/store/aaa-sys", filepath.Join(root, "run/current-system")))
	require.NoError(t, os.Symlink("/nix/store/aaa-sys", filepath.Join(root, "nix/var/nix/profiles/system-1-link")))
	require.NoError(t, os.Symlink("system-1-link", filepath.Join(root, "nix/var/nix/profiles/system")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "var/lib/state/record.json"), []byte(`{"step":"old"}`), 0o600))
	return root
}

func TestOverlayReadsTheHostAndNeverWritesIt(t *testing.T) {
	root := osHost(t)
	before := snapshot(t, root)
	o := NewOverlay(fsview.NewOS(root))
	var changes []Change
	o.OnChange = func(c Change) { changes = append(changes, c) }
	v := fsview.New(o)

	got, err := v.EvalSymlinks("/run/current-system")
	require.NoError(t, err)
	assert.Equal(t, "/nix/store/aaa-sys", got, "reads go to the host")

	require.NoError(t, v.ReplaceFile("/var/lib/state/record.json", []byte(`{"step":"new"}`), 0o600))
	require.NoError(t, v.ReplaceLink("/nix/store/bbb-sys", "/run/current-system"))
	require.NoError(t, v.MkdirAll("/var/lib/state/gcroots", 0o700))
	require.NoError(t, v.Remove("/nix/var/nix/profiles/system-1-link"))
	require.NoError(t, v.Rename("/nix/var/nix/profiles/system", "/nix/var/nix/profiles/moved"))

	data, err := v.ReadFile("/var/lib/state/record.json")
	require.NoError(t, err)
	assert.Equal(t, `{"step":"new"}`, string(data), "the plan reads its own writes")
	target, err := v.Readlink("/run/current-system")
	require.NoError(t, err)
	assert.Equal(t, "/nix/store/bbb-sys", target)
	_, err = v.Lstat("/nix/var/nix/profiles/system-1-link")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a removed host entry is gone from the plan's view")
	entries, err := v.ReadDir("/nix/var/nix/profiles")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"moved"}, names)

	assert.Equal(t, before, snapshot(t, root), "the host is unchanged")
	var ops []string
	for _, c := range changes {
		ops = append(ops, c.Op+" "+c.Path)
	}
	assert.Contains(t, ops, "remove /nix/var/nix/profiles/system-1-link")
	assert.Contains(t, ops, "mkdir /var/lib/state/gcroots")
}

func TestOverlayFailsAsLinuxDoes(t *testing.T) {
	o := NewOverlay(fsview.NewOS(osHost(t)))
	v := fsview.New(o)
	assert.ErrorIs(t, v.Remove("/nix/store/aaa-sys"), syscall.ENOTEMPTY, "a host directory with entries")
	assert.ErrorIs(t, v.Symlink("x", "/run/current-system"), fs.ErrExist)
	assert.ErrorIs(t, o.Mkdir("/var/lib/state", 0o700), fs.ErrExist)
	_, err := v.ReadFile("/nix/store/aaa-sys")
	assert.ErrorIs(t, err, syscall.EISDIR)
	assert.NoError(t, o.Quietly(func() error { return v.WriteFile("/run/quiet", nil, 0o644) }))
}

func TestOverlayRemovedDirectoryMadeAgainHidesTheHostsEntries(t *testing.T) {
	v := fsview.New(NewOverlay(fsview.NewOS(osHost(t))))
	require.NoError(t, v.Remove("/var/lib/state/record.json"))
	require.NoError(t, v.Remove("/var/lib/state"))
	require.NoError(t, v.MkdirAll("/var/lib/state", 0o700))
	entries, err := v.ReadDir("/var/lib/state")
	require.NoError(t, err)
	assert.Empty(t, entries)
	_, err = v.Lstat("/var/lib/state/record.json")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
