package fsview_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// storeHash is a made-up 32-character Nix base32 hash (no e, o, u, t).
const storeHash = "9x4dl3sz0km2wqrjf8c7v1hbnyag5pi6"

const (
	profiles    = "/nix/var/nix/profiles"
	systemLink  = profiles + "/system"
	genLink     = profiles + "/system-3-link"
	systemStore = "/nix/store/" + storeHash + "-nixos-system-host-24.05"
)

// views builds every implementation the conformance table runs against.
var views = []struct {
	name string
	make func(t testing.TB) *fsview.View
}{
	{"os", func(t testing.TB) *fsview.View { return fsview.NewOS(t.TempDir()) }},
	{"mem", func(testing.TB) *fsview.View { return fsview.NewMem() }},
	{"mem clone", cloneWithSharedEntries},
	{"mem through Raw alone", func(testing.TB) *fsview.View { return fsview.New(rawOnly{fsview.NewMemRaw()}) }},
}

// rawOnly hides every optional interface of the layer it wraps, so a view
// over it uses Raw's methods alone: the walk, temp+rename writes and
// temporary links.
type rawOnly struct{ fsview.Raw }

// cloneWithSharedEntries is a Clone whose directories and files, in the
// places the conformance cases use, are shared with its original (which
// then changes them), so every case also runs over copy-on-write entries.
func cloneWithSharedEntries(t testing.TB) *fsview.View {
	orig := fsview.NewMem()
	for _, d := range []string{"/nix/store", "/nix/var/nix/profiles", "/x/y", "/tree/a/b"} {
		require.NoError(t, orig.MkdirAll(d, 0o755))
	}
	write(t, orig, "/p/old", "old")
	write(t, orig, "/w/state", "zero")
	write(t, orig, "/r/file", "data")
	v, err := orig.Clone()
	require.NoError(t, err)
	write(t, orig, "/p/old", "changed in the original")
	require.NoError(t, orig.RemoveAll("/tree"))
	require.NoError(t, orig.Symlink("/nix", "/x/y/in-original"))
	return v
}

// conformance is the one table of behaviours both views must share.
var conformance = []struct {
	name string
	run  func(t *testing.T, v *fsview.View)
}{
	{"nixos two-level profile chain", testProfileChain},
	{"relative and absolute targets", testRelativeAndAbsolute},
	{"dotdot after a symlinked dir goes to the target's parent", testDotDotKernelOrder},
	{"dangling link", testDangling},
	{"loops fail with ErrLoop", testLoops},
	{"40 links resolve, 41 fail", testHopLimit},
	{"ReplaceLink over link, dangling link, file and nothing", testReplaceLink},
	{"ReplaceLink never shows absence to a concurrent reader", testReplaceLinkConcurrent},
	{"Basename of resolved store path", testBasenameOfResolved},
	{"absolute targets stay inside the root", testNoEscape},
	{"ReadDir lists links", testReadDirLinks},
	{"WriteFileAtomic", testWriteFileAtomic},
	{"WriteFileAtomic leaves a file with the new perm", testWriteFileAtomicPerm},
	{"non-directory used as directory gives ENOTDIR", testNotDir},
	{"relative names are rejected", testRelativeRejected},
	{"Symlink refuses an existing name", testSymlinkExists},
	{"Rename moves links and replaces atomically", testRename},
	{"Remove and RemoveAll never follow links", testRemove},
	{"MkdirAll through links", testMkdirAll},
	{"MkdirAll with '..', '.' and repeated slashes", testMkdirAllOddSpellings},
	{"odd spellings resolve as their clean form", testOddSpellings},
}

func TestConformance(t *testing.T) {
	for _, impl := range views {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, impl.make(t)) })
			}
		})
	}
}

func write(t testing.TB, v *fsview.View, name, data string) {
	t.Helper()
	require.NoError(t, v.MkdirAll(dir(name), 0o755))
	require.NoError(t, v.WriteFile(name, []byte(data), 0o644))
}

func link(t testing.TB, v *fsview.View, target, name string) {
	t.Helper()
	require.NoError(t, v.MkdirAll(dir(name), 0o755))
	require.NoError(t, v.Symlink(target, name))
}

func dir(name string) string { return filepath.Dir(name) }

func read(t *testing.T, v *fsview.View, name string) string {
	t.Helper()
	data, err := v.ReadFile(name)
	require.NoError(t, err)
	return string(data)
}

func names(t *testing.T, v *fsview.View, name string) []string {
	t.Helper()
	entries, err := v.ReadDir(name)
	require.NoError(t, err)
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func buildProfileChain(t testing.TB, v *fsview.View) {
	write(t, v, systemStore+"/nixos-version", "24.05")
	link(t, v, "system-3-link", systemLink)
	link(t, v, systemStore, genLink)
}

func testProfileChain(t *testing.T, v *fsview.View) {
	buildProfileChain(t, v)

	got, err := v.EvalSymlinks(systemLink)
	require.NoError(t, err)
	assert.Equal(t, systemStore, got)

	info, err := v.Stat(systemLink)
	require.NoError(t, err)
	assert.True(t, info.IsDir())

	linfo, err := v.Lstat(systemLink)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, linfo.Mode().Type())

	target, err := v.Readlink(systemLink)
	require.NoError(t, err)
	assert.Equal(t, "system-3-link", target, "relative target kept verbatim")
	target, err = v.Readlink(genLink)
	require.NoError(t, err)
	assert.Equal(t, systemStore, target, "absolute target kept verbatim")

	assert.Equal(t, "24.05", read(t, v, systemLink+"/nixos-version"))
}

func testRelativeAndAbsolute(t *testing.T, v *fsview.View) {
	write(t, v, "/a/file", "content")
	link(t, v, "../a/file", "/b/rel")
	link(t, v, "/a/file", "/b/abs")
	link(t, v, "file", "/a/same-dir")
	link(t, v, "./../b/./rel", "/a/dotty")

	for _, name := range []string{"/b/rel", "/b/abs", "/a/same-dir", "/a/dotty"} {
		assert.Equal(t, "content", read(t, v, name), name)
		got, err := v.EvalSymlinks(name)
		require.NoError(t, err, name)
		assert.Equal(t, "/a/file", got, name)
	}
}

func testDotDotKernelOrder(t *testing.T, v *fsview.View) {
	require.NoError(t, v.MkdirAll("/x/y/dir", 0o755))
	write(t, v, "/x/y/sibling", "kernel")
	write(t, v, "/sibling", "lexical")
	link(t, v, "/x/y/dir", "/l")
	link(t, v, "../sibling", "/x/y/dir/up")

	assert.Equal(t, "kernel", read(t, v, "/l/../sibling"), "'..' after a link is the target's parent")
	assert.Equal(t, "kernel", read(t, v, "/l/up"), "relative '..' target joins the link's directory")
	assert.Equal(t, "lexical", read(t, v, "/../../sibling"), "'..' at the root stays at the root")

	got, err := v.EvalSymlinks("/l/..")
	require.NoError(t, err)
	assert.Equal(t, "/x/y", got)
}

func testDangling(t *testing.T, v *fsview.View) {
	link(t, v, "/nowhere/file", "/d")

	info, err := v.Lstat("/d")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, info.Mode().Type())

	target, err := v.Readlink("/d")
	require.NoError(t, err)
	assert.Equal(t, "/nowhere/file", target)

	_, err = v.Stat("/d")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = v.ReadFile("/d")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = v.EvalSymlinks("/d")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "evalsymlinks /d: no such file or directory", err.Error(),
		"errors name the virtual path, never the host one")

	// Writing through a dangling link creates its target, as open(O_CREAT).
	require.NoError(t, v.MkdirAll("/nowhere", 0o755))
	require.NoError(t, v.WriteFile("/d", []byte("made"), 0o644))
	assert.Equal(t, "made", read(t, v, "/nowhere/file"))
}

func testLoops(t *testing.T, v *fsview.View) {
	link(t, v, "b", "/loop/a")
	link(t, v, "/loop/a", "/loop/b")
	link(t, v, "self", "/loop/self")

	for _, name := range []string{"/loop/a", "/loop/self", "/loop/a/below"} {
		_, err := v.Stat(name)
		require.ErrorIs(t, err, fsview.ErrLoop, name)
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, name, pe.Path, "the error names the virtual path")
		_, err = v.ReadFile(name)
		assert.ErrorIs(t, err, fsview.ErrLoop, name)
	}
	_, err := v.Lstat("/loop/self")
	assert.NoError(t, err, "Lstat does not follow the final link")
}

// buildChain makes /c/l1 -> target, l(i) -> l(i-1) up to /c/l<n>.
func buildChain(t *testing.T, v *fsview.View, n int) {
	write(t, v, "/c/target", "end")
	prev := "target"
	for i := 1; i <= n; i++ {
		name := "l" + strconv.Itoa(i)
		link(t, v, prev, "/c/"+name)
		prev = name
	}
}

func testHopLimit(t *testing.T, v *fsview.View) {
	buildChain(t, v, fsview.MaxHops+1)

	assert.Equal(t, "end", read(t, v, "/c/l40"), "exactly MaxHops links resolve")
	_, err := v.Stat("/c/l41")
	assert.ErrorIs(t, err, fsview.ErrLoop, "MaxHops+1 links fail")
	_, err = v.EvalSymlinks("/c/l41")
	assert.ErrorIs(t, err, fsview.ErrLoop)
}

func testReplaceLink(t *testing.T, v *fsview.View) {
	write(t, v, "/p/old", "old")
	write(t, v, "/p/new", "new")
	write(t, v, "/p/file", "plain")
	link(t, v, "old", "/p/cur")
	link(t, v, "gone", "/p/dangling")

	for _, name := range []string{"/p/cur", "/p/dangling", "/p/fresh", "/p/file"} {
		require.NoError(t, v.ReplaceLink("new", name), name)
		target, err := v.Readlink(name)
		require.NoError(t, err, name)
		assert.Equal(t, "new", target, name)
		assert.Equal(t, "new", read(t, v, name), name)
	}
	assert.Equal(t, []string{"cur", "dangling", "file", "fresh", "new", "old"}, names(t, v, "/p"),
		"no temporary link remains")

	require.NoError(t, v.MkdirAll("/p/realdir", 0o755))
	assert.ErrorIs(t, v.ReplaceLink("new", "/p/realdir"), syscall.EISDIR)
	assert.Len(t, names(t, v, "/p"), 7, "a failed replace leaves no temporary link")
}

func testReplaceLinkConcurrent(t *testing.T, v *fsview.View) {
	const rounds = 300
	link(t, v, "gen-1", "/profiles/system")
	targets := []string{"gen-1", "gen-2"}

	done := make(chan error, 1)
	go func() {
		for i := range rounds {
			if err := v.ReplaceLink(targets[i%2], "/profiles/system"); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()

	reads := 0
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			t.Logf("%d concurrent reads", reads)
			assert.Equal(t, []string{"system"}, names(t, v, "/profiles"))
			return
		default:
		}
		_, err := v.Lstat("/profiles/system")
		require.NoError(t, err, "the link never disappears")
		target, err := v.Readlink("/profiles/system")
		require.NoError(t, err)
		require.Contains(t, targets, target)
		reads++
	}
}

func testBasenameOfResolved(t *testing.T, v *fsview.View) {
	buildProfileChain(t, v)
	got, err := v.EvalSymlinks(systemLink + "/")
	require.NoError(t, err)
	assert.Equal(t, storeHash+"-nixos-system-host-24.05", fsview.Basename(got))
	assert.Equal(t, storeHash+"-nixos-system-host-24.05", fsview.Basename(systemStore+"/"))
}

func testNoEscape(t *testing.T, v *fsview.View) {
	write(t, v, "/etc/hostname", "fake-host")
	link(t, v, "/etc/hostname", "/abs")
	link(t, v, "../../../../../../etc/hostname", "/deep/down/rel")

	for _, name := range []string{"/abs", "/deep/down/rel"} {
		assert.Equal(t, "fake-host", read(t, v, name), name)
		got, err := v.EvalSymlinks(name)
		require.NoError(t, err)
		assert.Equal(t, "/etc/hostname", got, "virtual, not host, path")
	}
	if root := v.Root(); root != "mem:" {
		host, err := os.ReadFile(filepath.Join(root, "etc", "hostname"))
		require.NoError(t, err)
		assert.Equal(t, "fake-host", string(host), "the file lives under the temp root")
	}
}

func testReadDirLinks(t *testing.T, v *fsview.View) {
	write(t, v, "/d/b", "file")
	require.NoError(t, v.MkdirAll("/d/c", 0o755))
	link(t, v, "b", "/d/a")
	link(t, v, "missing", "/d/e")
	link(t, v, "/d", "/dlink")

	for _, name := range []string{"/d", "/dlink", "/dlink/"} {
		entries, err := v.ReadDir(name)
		require.NoError(t, err, name)
		require.Len(t, entries, 4, name)
		want := []struct {
			name string
			typ  fs.FileMode
		}{{"a", fs.ModeSymlink}, {"b", 0}, {"c", fs.ModeDir}, {"e", fs.ModeSymlink}}
		for i, w := range want {
			assert.Equal(t, w.name, entries[i].Name())
			assert.Equal(t, w.typ, entries[i].Type(), w.name)
		}
	}
	_, err := v.ReadDir("/d/b")
	assert.ErrorIs(t, err, syscall.ENOTDIR)
}

func testWriteFileAtomic(t *testing.T, v *fsview.View) {
	require.NoError(t, v.MkdirAll("/w", 0o755))
	require.NoError(t, v.WriteFileAtomic("/w/state", []byte("one"), 0o644))
	assert.Equal(t, "one", read(t, v, "/w/state"))
	require.NoError(t, v.WriteFileAtomic("/w/state", []byte("two"), 0o644))
	assert.Equal(t, "two", read(t, v, "/w/state"))

	link(t, v, "state", "/w/alias")
	require.NoError(t, v.WriteFileAtomic("/w/alias", []byte("three"), 0o644))
	info, err := v.Lstat("/w/alias")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, info.Mode().Type(), "the link is kept")
	assert.Equal(t, "three", read(t, v, "/w/state"))

	assert.Equal(t, []string{"alias", "state"}, names(t, v, "/w"), "no temporary file remains")
	assert.ErrorIs(t, v.WriteFileAtomic("/missing/x", []byte("x"), 0o644), fs.ErrNotExist)

	require.NoError(t, v.MkdirAll("/w/sub", 0o755))
	assert.Error(t, v.WriteFileAtomic("/w/sub", []byte("x"), 0o644))
	assert.Equal(t, []string{"alias", "state", "sub"}, names(t, v, "/w"), "failed write cleans up")
}

func testWriteFileAtomicPerm(t *testing.T, v *fsview.View) {
	require.NoError(t, v.MkdirAll("/w", 0o755))
	require.NoError(t, v.WriteFile("/w/state", []byte("one"), 0o600))
	for _, perm := range []fs.FileMode{0o640, 0o640, 0o600} {
		require.NoError(t, v.WriteFileAtomic("/w/state", []byte("two"), perm))
		info, err := v.Lstat("/w/state")
		require.NoError(t, err)
		assert.Equal(t, perm, info.Mode(), "as a new file renamed over the old one")
	}
	assert.Equal(t, "two", read(t, v, "/w/state"))
}

func testNotDir(t *testing.T, v *fsview.View) {
	write(t, v, "/f", "plain")
	link(t, v, "/f", "/flink")
	for _, name := range []string{"/f/x", "/flink/x", "/f/", "/f/.."} {
		_, err := v.Stat(name)
		assert.ErrorIs(t, err, syscall.ENOTDIR, name)
	}
	assert.ErrorIs(t, v.MkdirAll("/f/x", 0o755), syscall.ENOTDIR)
	assert.ErrorIs(t, v.WriteFile("/f/x", nil, 0o644), syscall.ENOTDIR)
}

func testRelativeRejected(t *testing.T, v *fsview.View) {
	for _, name := range []string{"relative", "nix/store", ""} {
		_, err := v.Stat(name)
		assert.ErrorIs(t, err, fsview.ErrNotAbsolute, name)
		assert.ErrorIs(t, v.MkdirAll(name, 0o755), fsview.ErrNotAbsolute, name)
		assert.ErrorIs(t, v.Symlink("/x", name), fsview.ErrNotAbsolute, name)
	}
}

func testSymlinkExists(t *testing.T, v *fsview.View) {
	write(t, v, "/s/file", "x")
	link(t, v, "nowhere", "/s/dangling")
	for _, name := range []string{"/s/file", "/s/dangling", "/s"} {
		assert.ErrorIs(t, v.Symlink("other", name), fs.ErrExist, name)
	}
	assert.ErrorIs(t, v.Symlink("x", "/nodir/link"), fs.ErrNotExist, "the parent must exist")
}

func testRename(t *testing.T, v *fsview.View) {
	write(t, v, "/r/file", "data")
	link(t, v, "file", "/r/l1")
	link(t, v, "elsewhere", "/r/l2")

	require.NoError(t, v.Rename("/r/l1", "/r/l2"), "link over link")
	target, err := v.Readlink("/r/l2")
	require.NoError(t, err)
	assert.Equal(t, "file", target)

	write(t, v, "/r/other", "other")
	require.NoError(t, v.Rename("/r/l2", "/r/other"), "link over file")
	assert.Equal(t, "data", read(t, v, "/r/other"))
	assert.Equal(t, []string{"file", "other"}, names(t, v, "/r"))

	write(t, v, "/r/sub/inner", "in")
	link(t, v, "inner", "/r/sub/link")
	require.NoError(t, v.Rename("/r/sub", "/moved"), "directory with a link inside")
	assert.Equal(t, "in", read(t, v, "/moved/link"))
	assert.Equal(t, []string{"inner", "link"}, names(t, v, "/moved"))

	err = v.Rename("/r/nothing", "/r/x")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var le *os.LinkError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "/r/nothing", le.Old)
	assert.ErrorIs(t, v.Rename("/r/file", "/moved"), syscall.EISDIR)
	assert.ErrorIs(t, v.Rename("/moved", "/r/file"), syscall.ENOTDIR)

	require.NoError(t, v.MkdirAll("/empty", 0o755))
	require.NoError(t, v.Rename("/moved", "/empty"), "directory over an empty directory")
	assert.Equal(t, "in", read(t, v, "/empty/link"))
	require.NoError(t, v.MkdirAll("/r/full/x", 0o755))
	assert.ErrorIs(t, v.Rename("/r/full", "/empty"), syscall.ENOTEMPTY)
	assert.ErrorIs(t, v.Rename("/r", "/r/full/x/in-itself"), syscall.EINVAL)
}

func testRemove(t *testing.T, v *fsview.View) {
	write(t, v, "/keep/file", "kept")
	link(t, v, "/keep/file", "/tree/a/link")
	link(t, v, "/keep", "/tree/dirlink")
	write(t, v, "/tree/a/b/c", "deep")

	assert.ErrorIs(t, v.Remove("/tree"), syscall.ENOTEMPTY)
	require.NoError(t, v.Remove("/tree/a/link"))
	assert.Equal(t, "kept", read(t, v, "/keep/file"), "Remove removes the link, not its target")

	require.NoError(t, v.RemoveAll("/tree"))
	_, err := v.Lstat("/tree")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, "kept", read(t, v, "/keep/file"), "RemoveAll does not follow links")
	assert.NoError(t, v.RemoveAll("/tree"), "missing is fine")
	assert.ErrorIs(t, v.RemoveAll("/"), syscall.EBUSY, "the root is refused")
	assert.ErrorIs(t, v.Remove("/tree"), fs.ErrNotExist)
}

func testMkdirAll(t *testing.T, v *fsview.View) {
	require.NoError(t, v.MkdirAll("/real/dir", 0o755))
	link(t, v, "/real", "/via")
	require.NoError(t, v.MkdirAll("/via/dir/new/deeper", 0o755))
	info, err := v.Stat("/real/dir/new/deeper")
	require.NoError(t, err)
	assert.True(t, info.IsDir())
	require.NoError(t, v.MkdirAll("/via/dir", 0o755), "existing is fine")

	link(t, v, "/absent", "/dangle")
	assert.ErrorIs(t, v.MkdirAll("/dangle/x", 0o755), fs.ErrExist, "as mkdir -p on a dangling link")
}

func testMkdirAllOddSpellings(t *testing.T, v *fsview.View) {
	require.NoError(t, v.MkdirAll("//m/./new//../other/", 0o755))
	assert.Equal(t, []string{"new", "other"}, names(t, v, "/m"))
	link(t, v, "m/other", "/rel")
	require.NoError(t, v.MkdirAll("/rel/a/../b/c", 0o755))
	assert.Equal(t, []string{"a", "b"}, names(t, v, "/m/other"))
	assert.Equal(t, []string{"c"}, names(t, v, "/m/other/b"))
}

func testOddSpellings(t *testing.T, v *fsview.View) {
	write(t, v, "/o/d/file", "odd")
	link(t, v, "d", "/o/rel")
	link(t, v, "/o//./d/", "/o/abs")
	link(t, v, "rel/../rel", "/o/back")
	for _, name := range []string{"//o//d/file", "/o/./d/./file", "/./o/rel//file", "/o/abs/file",
		"/o/back/file", "/o/rel/../d/file", "/../o/abs/../rel/file"} {
		got, err := v.EvalSymlinks(name)
		require.NoError(t, err, name)
		assert.Equal(t, "/o/d/file", got, name)
		assert.Equal(t, "odd", read(t, v, name), name)
	}
	for _, name := range []string{"/o/abs/", "/o//rel/.", "/o/back/../d//"} {
		got, err := v.EvalSymlinks(name)
		require.NoError(t, err, name)
		assert.Equal(t, "/o/d", got, name)
	}
	_, err := v.Stat("/o/d/file/")
	assert.ErrorIs(t, err, syscall.ENOTDIR)
}

func TestBasename(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/nix/store/abc-x/", "abc-x"},
		{"/nix/store/abc-x", "abc-x"},
		{"/nix/store/abc-x//", "abc-x"},
		{"abc-x", "abc-x"},
		{"/", ""},
		{"//", ""},
		{"", ""},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, fsview.Basename(tc.in), "%q", tc.in)
	}
}

func TestRootDescription(t *testing.T) {
	assert.Equal(t, "mem:", fsview.NewMem().Root())
	root := t.TempDir()
	assert.Equal(t, root, fsview.NewOS(root).Root())
}

func BenchmarkEvalSymlinksProfileChain(b *testing.B) {
	v := fsview.NewMem()
	buildProfileChain(b, v)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.EvalSymlinks(systemLink); err != nil {
			b.Fatal(err)
		}
	}
}
