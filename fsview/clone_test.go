package fsview_test

import (
	"io/fs"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// buildTree makes a small store-like tree: a directory with a file, a
// nested directory and links.
func buildTree(t testing.TB, v *fsview.View) {
	require.NoError(t, v.MkdirAll("/nix/store/x/bin", 0o555))
	require.NoError(t, v.WriteFile("/nix/store/x/bin/run", []byte("#!/bin/sh\n"), 0o555))
	link(t, v, "/nix/store/x/bin/run", "/nix/store/x/entry")
	link(t, v, "bin", "/nix/store/x/rel")
	link(t, v, "/nix/store/x", "/run/current")
}

func mustClone(t testing.TB, v *fsview.View) *fsview.View {
	t.Helper()
	c, err := v.Clone()
	require.NoError(t, err)
	return c
}

func TestCloneHasTheSameTree(t *testing.T) {
	orig := fsview.NewMem()
	buildTree(t, orig)
	c := mustClone(t, orig)

	assert.Equal(t, "#!/bin/sh\n", read(t, c, "/run/current/rel/run"))
	assert.Equal(t, []string{"bin", "entry", "rel"}, names(t, c, "/nix/store/x"))
	info, err := c.Stat("/nix/store/x/bin")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o555, info.Mode())
	info, err = c.Lstat("/nix/store/x/bin/run")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o555), info.Mode())
	assert.Equal(t, "run", info.Name())
}

func TestCloneChangesAreNotSeenByTheOther(t *testing.T) {
	orig := fsview.NewMem()
	buildTree(t, orig)
	c := mustClone(t, orig)

	require.NoError(t, c.WriteFile("/nix/store/x/bin/run", []byte("clone"), 0o644))
	require.NoError(t, c.Rename("/nix/store/x", "/nix/store/y"))
	require.NoError(t, c.WriteFile("/nix/store/new", []byte("new"), 0o644))
	require.NoError(t, c.ReplaceLink("/nix/store/y", "/run/current"))

	assert.Equal(t, "#!/bin/sh\n", read(t, orig, "/run/current/rel/run"), "the original keeps its file")
	assert.Equal(t, []string{"x"}, names(t, orig, "/nix/store"))
	assert.Equal(t, "clone", read(t, c, "/run/current/rel/run"))
	assert.Equal(t, []string{"new", "y"}, names(t, c, "/nix/store"))
	info, err := c.Lstat("/nix/store/y/bin/run")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o555), info.Mode(), "a shared file rewritten keeps its mode")
	assert.Equal(t, "run", info.Name())

	require.NoError(t, orig.RemoveAll("/nix/store/x"))
	assert.Equal(t, "clone", read(t, c, "/nix/store/y/bin/run"), "the clone keeps what the original removes")
	second := mustClone(t, c)
	require.NoError(t, c.WriteFile("/nix/store/new", []byte("changed"), 0o644))
	assert.Equal(t, "new", read(t, second, "/nix/store/new"), "a clone of a clone is independent too")
}

func TestCloneRenameKeepsModesAndTimes(t *testing.T) {
	orig := fsview.NewMem()
	buildTree(t, orig)
	before, err := orig.Lstat("/nix/store/x/bin/run")
	require.NoError(t, err)
	c := mustClone(t, orig)
	require.NoError(t, c.Rename("/nix/store/x/bin/run", "/nix/store/x/bin/moved"))
	after, err := c.Lstat("/nix/store/x/bin/moved")
	require.NoError(t, err)
	assert.Equal(t, before.Mode(), after.Mode())
	assert.Equal(t, before.ModTime(), after.ModTime())
	assert.Equal(t, "moved", after.Name())
	assert.Equal(t, []string{"run"}, names(t, orig, "/nix/store/x/bin"))
}

func TestCloneOfAnOSViewFails(t *testing.T) {
	_, err := fsview.NewOS(t.TempDir()).Clone()
	assert.ErrorIs(t, err, fsview.ErrNotMem)
	assert.ErrorIs(t, fsview.NewMem().CopyTree(fsview.NewOS(t.TempDir()), "/x"), fsview.ErrNotMem)
}

func TestCopyTreeSharesATree(t *testing.T) {
	src := fsview.NewMem()
	buildTree(t, src)
	dst := fsview.NewMem()
	require.NoError(t, dst.MkdirAll("/nix/store", 0o755))

	require.NoError(t, dst.CopyTree(src, "/nix/store/x"))
	assert.Equal(t, []string{"bin", "entry", "rel"}, names(t, dst, "/nix/store/x"))
	target, err := dst.Readlink("/nix/store/x/rel")
	require.NoError(t, err)
	assert.Equal(t, "bin", target)
	assert.Equal(t, "#!/bin/sh\n", read(t, dst, "/nix/store/x/entry"))

	require.NoError(t, dst.WriteFile("/nix/store/x/bin/run", []byte("dst"), 0o644))
	require.NoError(t, src.Remove("/nix/store/x/rel"))
	require.NoError(t, src.WriteFile("/nix/store/x/bin/run", []byte("src"), 0o644))
	assert.Equal(t, "dst", read(t, dst, "/nix/store/x/bin/run"))
	assert.Equal(t, []string{"bin", "entry", "rel"}, names(t, dst, "/nix/store/x"))
	assert.Equal(t, "src", read(t, src, "/nix/store/x/bin/run"))

	require.NoError(t, dst.RemoveAll("/nix/store/x"))
	assert.Equal(t, []string{"bin", "entry"}, names(t, src, "/nix/store/x"), "removing the copy keeps the source")
}

func TestCopyTreeOfOneFileAndLink(t *testing.T) {
	src := fsview.NewMem()
	buildTree(t, src)
	dst := fsview.NewMem()
	require.NoError(t, dst.MkdirAll("/nix/store/x/bin", 0o755))
	require.NoError(t, dst.MkdirAll("/run", 0o755))
	require.NoError(t, dst.CopyTree(src, "/nix/store/x/bin/run"))
	require.NoError(t, dst.CopyTree(src, "/run/current"))
	assert.Equal(t, "#!/bin/sh\n", read(t, dst, "/run/current/bin/run"))
}

func TestCopyTreeThroughDifferentParentsCopies(t *testing.T) {
	src := fsview.NewMem()
	buildTree(t, src)
	dst := fsview.NewMem()
	require.NoError(t, dst.MkdirAll("/elsewhere/store", 0o755))
	link(t, dst, "/elsewhere", "/nix")

	require.NoError(t, dst.CopyTree(src, "/nix/store/x"))
	assert.Equal(t, []string{"bin", "entry", "rel"}, names(t, dst, "/elsewhere/store/x"))
	assert.Equal(t, "#!/bin/sh\n", read(t, dst, "/elsewhere/store/x/bin/run"))
	info, err := dst.Stat("/elsewhere/store/x/bin")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o555, info.Mode())
}

func TestCopyTreeErrors(t *testing.T) {
	src := fsview.NewMem()
	buildTree(t, src)
	dst := fsview.NewMem()
	require.NoError(t, dst.MkdirAll("/nix/store/x", 0o755))

	assert.ErrorIs(t, dst.CopyTree(src, "/nix/store/x"), fs.ErrExist)
	assert.ErrorIs(t, dst.CopyTree(src, "/nix/store/missing"), fs.ErrNotExist)
	assert.ErrorIs(t, dst.CopyTree(src, "/run/current"), fs.ErrNotExist, "no parent in dst")
	flat := fsview.NewMem()
	write(t, flat, "/nix", "a file where a directory should be")
	assert.ErrorIs(t, flat.CopyTree(src, "/nix/store/x"), syscall.ENOTDIR)
	assert.ErrorIs(t, dst.CopyTree(src, "relative"), fsview.ErrNotAbsolute)
	assert.ErrorIs(t, src.CopyTree(src, "/nix/store/x"), fs.ErrExist)
}

func TestClonesAreSafeForConcurrentUse(t *testing.T) {
	orig := fsview.NewMem()
	buildTree(t, orig)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := orig.Clone()
			require.NoError(t, err)
			grafted := fsview.NewMem()
			require.NoError(t, grafted.MkdirAll("/nix/store", 0o755))
			require.NoError(t, grafted.CopyTree(orig, "/nix/store/x"))
			for range 50 {
				for _, v := range []*fsview.View{c, grafted} {
					require.NoError(t, v.WriteFileAtomic("/nix/store/x/bin/run", []byte("mine"), 0o644))
					data, err := v.ReadFile("/nix/store/x/entry")
					require.NoError(t, err)
					require.Equal(t, "mine", string(data))
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, "#!/bin/sh\n", read(t, orig, "/nix/store/x/bin/run"))
}

func TestCopyTreeSeesTheSourceAsItIsNow(t *testing.T) {
	src := fsview.NewMem()
	buildTree(t, src)
	copyOf := func() *fsview.View {
		dst := fsview.NewMem()
		require.NoError(t, dst.MkdirAll("/nix/store", 0o755))
		require.NoError(t, dst.CopyTree(src, "/nix/store/x"))
		return dst
	}
	first := copyOf()
	require.NoError(t, src.WriteFile("/nix/store/x/added", []byte("new"), 0o644))
	second := copyOf()
	require.NoError(t, src.Remove("/nix/store/x/rel"))
	third := copyOf()
	assert.Equal(t, []string{"bin", "entry", "rel"}, names(t, first, "/nix/store/x"))
	assert.Equal(t, []string{"added", "bin", "entry", "rel"}, names(t, second, "/nix/store/x"))
	assert.Equal(t, []string{"added", "bin", "entry"}, names(t, third, "/nix/store/x"))
	assert.Equal(t, "new", read(t, third, "/nix/store/x/added"))
}
