package explore

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// The benchmarks below measure the filesystem work of one explored
// activation, written from scratch (no clone, no shared store trees), over
// fsview's MemRaw (afero's MemMapFs plus an index of names) and over
// mapRaw, a minimal map-based Raw written here for the measurement only:
// the floor an in-memory layer without afero would give.

// mapRaw is one map from clean absolute names to nodes.
type mapRaw struct{ nodes map[string]*mapNode }

type mapNode struct {
	mode   fs.FileMode // fs.ModeDir, fs.ModeSymlink or 0 (file), plus perm
	data   []byte
	target string
}

func newMapRaw() *mapRaw {
	return &mapRaw{nodes: map[string]*mapNode{"/": {mode: fs.ModeDir | 0o755}}}
}

type mapInfo struct {
	name string
	n    *mapNode
}

func (i mapInfo) Name() string       { return i.name }
func (i mapInfo) Size() int64        { return int64(len(i.n.data)) }
func (i mapInfo) Mode() fs.FileMode  { return i.n.mode }
func (i mapInfo) ModTime() time.Time { return time.Time{} }
func (i mapInfo) IsDir() bool        { return i.n.mode.IsDir() }
func (i mapInfo) Sys() any           { return nil }

func (m *mapRaw) Root() string { return "map:" }

func (m *mapRaw) get(op, name string) (*mapNode, error) {
	n, ok := m.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	return n, nil
}

func (m *mapRaw) Lstat(name string) (fs.FileInfo, error) {
	n, err := m.get("lstat", name)
	if err != nil {
		return nil, err
	}
	return mapInfo{path.Base(name), n}, nil
}

func (m *mapRaw) Readlink(name string) (string, error) {
	n, err := m.get("readlink", name)
	if err == nil && n.mode&fs.ModeSymlink == 0 {
		err = &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	if err != nil {
		return "", err
	}
	return n.target, nil
}

// create adds n at name: the parent must be a directory, name free.
func (m *mapRaw) create(op, name string, n *mapNode) error {
	if p, ok := m.nodes[path.Dir(name)]; !ok || !p.mode.IsDir() {
		return &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	if _, ok := m.nodes[name]; ok {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EEXIST}
	}
	m.nodes[name] = n
	return nil
}

func (m *mapRaw) Symlink(target, name string) error {
	return m.create("symlink", name, &mapNode{mode: fs.ModeSymlink | 0o777, target: target})
}

func (m *mapRaw) Mkdir(name string, perm fs.FileMode) error {
	return m.create("mkdir", name, &mapNode{mode: fs.ModeDir | perm})
}

func (m *mapRaw) Rename(oldname, newname string) error {
	n, err := m.get("rename", oldname)
	if err != nil {
		return err
	}
	if n.mode.IsDir() {
		return &fs.PathError{Op: "rename", Path: oldname, Err: syscall.ENOTSUP} // not needed here
	}
	delete(m.nodes, oldname)
	m.nodes[newname] = n
	return nil
}

func (m *mapRaw) Remove(name string) error {
	n, err := m.get("remove", name)
	if err != nil {
		return err
	}
	if n.mode.IsDir() {
		prefix := name + "/"
		for k := range m.nodes {
			if strings.HasPrefix(k, prefix) {
				return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
			}
		}
	}
	delete(m.nodes, name)
	return nil
}

func (m *mapRaw) ReadFile(name string) ([]byte, error) {
	n, err := m.get("open", name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(n.data), nil
}

func (m *mapRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if n, ok := m.nodes[name]; ok && n.mode.IsRegular() {
		n.data = slices.Clone(data)
		return nil
	}
	return m.create("open", name, &mapNode{mode: perm, data: slices.Clone(data)})
}

func (m *mapRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	prefix := strings.TrimSuffix(name, "/") + "/"
	var out []fs.DirEntry
	for k, n := range m.nodes {
		if strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
			out = append(out, fs.FileInfoToDirEntry(mapInfo{path.Base(k), n}))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// activationFS replays the filesystem work of one explored activation, as
// sim.Host.makeValid and the pipeline do it: two closure trees (the running
// closure at construction, the target at realise: bin/switch-to-
// configuration plus five component store objects and links each), the
// profile and /run links, four atomic journal writes and a clear, and the
// twenty component resolutions of the live-switch check.
func activationFS(tb testing.TB, v *fsview.View) {
	for _, dir := range []string{"/nix/store", "/nix/var/nix/profiles", "/run/nixos"} {
		require.NoError(tb, v.MkdirAll(dir, 0o755))
	}
	for _, c := range []string{oldSys, newSys} {
		root := "/nix/store/" + c
		require.NoError(tb, v.MkdirAll(root+"/bin", 0o555))
		require.NoError(tb, v.WriteFile(root+"/bin/switch-to-configuration", []byte("#!/bin/sh\n"), 0o555))
		for i, rel := range []string{"kernel", "initrd", "kernel-modules", "systemd", "etc/systemd/system/dbus.service"} {
			target := "/nix/store/" + basenameOf("component-"+rel)
			require.NoError(tb, v.MkdirAll(target, 0o555))
			if i%2 == 0 {
				target += "/file"
				require.NoError(tb, v.WriteFile(target, []byte(rel), 0o444))
			}
			require.NoError(tb, v.MkdirAll(path.Dir(path.Join(root, rel)), 0o555))
			require.NoError(tb, v.ReplaceLink(target, path.Join(root, rel)))
		}
	}
	require.NoError(tb, v.Symlink("/nix/store/"+oldSys, "/nix/var/nix/profiles/system-1-link"))
	require.NoError(tb, v.ReplaceLink("system-1-link", "/nix/var/nix/profiles/system"))
	require.NoError(tb, v.ReplaceLink("/nix/store/"+oldSys, "/run/current-system"))
	for range 4 {
		require.NoError(tb, v.MkdirAll("/var/lib/nixfleet-activate", 0o755))
		require.NoError(tb, v.WriteFileAtomic("/var/lib/nixfleet-activate/in-flight.json", []byte(`{"version":1}`), 0o644))
	}
	require.NoError(tb, v.Remove("/var/lib/nixfleet-activate/in-flight.json"))
	for range 2 {
		for _, rel := range []string{"kernel", "initrd", "kernel-modules", "systemd", "etc/systemd/system/dbus.service"} {
			_, err := v.EvalSymlinks("/run/current-system/" + rel)
			require.NoError(tb, err)
		}
	}
}

func TestActivationFSRunsOnBothLayers(t *testing.T) {
	activationFS(t, fsview.NewMem())
	activationFS(t, fsview.New(newMapRaw()))
}

// BenchmarkActivationFS/memraw is what the simulator pays today;
// /map is the same work over a map-based Raw.
func BenchmarkActivationFS(b *testing.B) {
	for _, layer := range []struct {
		name string
		view func() *fsview.View
	}{{"memraw", fsview.NewMem}, {"map", func() *fsview.View { return fsview.New(newMapRaw()) }}} {
		b.Run(layer.name, func(b *testing.B) {
			for b.Loop() {
				activationFS(b, layer.view())
			}
		})
	}
}
