package sim

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// dumpTree lists everything under name in v, one line per entry: kind,
// permission bits, then a link's target or a file's content.
func dumpTree(t *testing.T, v *fsview.View, name string) string {
	t.Helper()
	var b strings.Builder
	var walk func(string)
	walk = func(p string) {
		info, err := v.Lstat(p)
		require.NoError(t, err, p)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := v.Readlink(p)
			require.NoError(t, err)
			fmt.Fprintf(&b, "%s link -> %s\n", p, target)
		case info.IsDir():
			fmt.Fprintf(&b, "%s dir %o\n", p, info.Mode().Perm())
			entries, err := v.ReadDir(p)
			require.NoError(t, err)
			for _, e := range entries {
				walk(path.Join(p, e.Name()))
			}
		default:
			data, err := v.ReadFile(p)
			require.NoError(t, err)
			fmt.Fprintf(&b, "%s file %o %q\n", p, info.Mode().Perm(), data)
		}
	}
	walk(name)
	return b.String()
}

// writtenStore is the store a host would hold had it written sysA's tree
// and objects itself, with sysB's objects (different kernel) beside them.
func writtenStore(t *testing.T, a, b Components) *fsview.View {
	v := fsview.NewMem()
	require.NoError(t, v.MkdirAll(StoreDir, 0o755)) // as NewHost makes it
	for base, c := range map[string]Components{sysA: a, sysB: b} {
		links := c.withDefaults().links()
		require.NoError(t, writeClosure(v, base, ProgramExecutable, links))
		for _, l := range links {
			require.NoError(t, writeObject(v, l))
		}
	}
	return v
}

func TestSharedStoreTreesEqualWrittenOnes(t *testing.T) {
	kernel := Components{Kernel: "6.6.1"}
	h := MustNewHost(HostConfig{})
	h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true})
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Components: kernel})
	want := dumpTree(t, writtenStore(t, Components{}, kernel), StoreDir)
	assert.Equal(t, want, dumpTree(t, h.FS(), StoreDir))
	assert.Contains(t, want, "linux-6.6.1")
}

func TestHostsSharingTreesStayApart(t *testing.T) {
	one, two := MustNewHost(HostConfig{}), MustNewHost(HostConfig{})
	for _, h := range []*Host{one, two} {
		h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true})
	}
	script := storePath(sysA) + "/bin/switch-to-configuration"
	require.NoError(t, one.FS().WriteFile(script, []byte("changed"), 0o755))
	require.NoError(t, one.FS().Remove(storePath(sysA)+"/kernel"))

	data, err := two.FS().ReadFile(script)
	require.NoError(t, err)
	assert.Contains(t, string(data), "simulated switch-to-configuration")
	_, err = two.FS().Lstat(storePath(sysA) + "/kernel")
	assert.NoError(t, err)
}

func TestReAddingAClosureRewritesItsTree(t *testing.T) {
	h := MustNewHost(HostConfig{})
	h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true})
	script := storePath(sysA) + "/bin/switch-to-configuration"
	require.NoError(t, h.FS().WriteFile(script, []byte("changed"), 0o755))
	require.NoError(t, h.FS().Remove(storePath(sysA)+"/kernel"))

	h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true, Components: Components{Kernel: "6.6.1"}})
	data, err := h.FS().ReadFile(script)
	require.NoError(t, err)
	assert.Contains(t, string(data), "simulated switch-to-configuration")
	kernel, err := h.FS().EvalSymlinks(storePath(sysA) + "/kernel")
	require.NoError(t, err)
	assert.Contains(t, kernel, "linux-6.6.1")
}

func TestAStoreWithoutItsDirectoryIsWritten(t *testing.T) {
	h := MustNewHost(HostConfig{})
	require.NoError(t, h.FS().RemoveAll("/nix"))
	h.MustAddClosure(ClosureSpec{Basename: sysA, Valid: true})
	info, err := h.FS().Stat(StoreDir)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeDir|0o555, info.Mode(), "as MkdirAll of the closure made it")
	_, err = h.FS().Stat(storePath(sysA) + "/kernel")
	assert.NoError(t, err)
}
