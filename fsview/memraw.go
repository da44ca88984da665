package fsview

import (
	"io/fs"
	"maps"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

// MemRaw is the in-memory Raw layer: files and directories live in afero's
// MemMapFs, links in an index beside it (MemMapFs has no symlinks;
// spf13/afero#258). The index holds every name the layer has, with its
// kind, its fs.FileInfo and, for a directory, the number of its entries, so
// Lstat, Readlink and the checks below answer without asking MemMapFs
// (whose Stat opens a file handle). It checks what MemMapFs does not (a
// parent must exist; a directory must be empty to be removed; rename(2)'s
// EISDIR, ENOTDIR and ENOTEMPTY) so it fails like Linux. One mutex makes
// every operation atomic, so it is safe for concurrent use and Rename is
// atomic to other callers.
type MemRaw struct {
	mu    sync.Mutex
	files afero.Fs
	nodes map[string]*memNode // clean absolute name -> what is there
}

// memNode is one indexed name.
type memNode struct {
	kind memKind
	// info is afero's FileInfo for a file or directory (it reads the live
	// file, so sizes and modes stay current) or the linkInfo of a link.
	info fs.FileInfo
	// target is a link's target, verbatim.
	target string
	// entries counts a directory's files, directories and links.
	entries int
}

// NewMemRaw returns an empty in-memory Raw layer holding only "/".
func NewMemRaw() *MemRaw {
	files := afero.NewMemMapFs()
	root, err := files.Stat("/")
	if err != nil {
		panic(err) // MemMapFs always has its root
	}
	return &MemRaw{files: files, nodes: map[string]*memNode{"/": {kind: memDir, info: root}}}
}

// NewMem returns a View over an empty in-memory filesystem (see MemRaw).
func NewMem() *View { return New(NewMemRaw()) }

// Root returns "mem:".
func (m *MemRaw) Root() string { return "mem:" }

type memKind int

const (
	memMissing memKind = iota
	memFile
	memDir
	memLink
)

// kind reports what name is; m.mu must be held.
func (m *MemRaw) kind(name string) memKind {
	if n, ok := m.nodes[name]; ok {
		return n.kind
	}
	return memMissing
}

// parentOf is the directory holding the clean absolute name ("/" for "/").
func parentOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "/"
	}
	return name[:i]
}

// parentErr checks that name's parent is an existing directory; m.mu must
// be held.
func (m *MemRaw) parentErr(name string) syscall.Errno {
	switch m.kind(parentOf(name)) {
	case memDir:
		return 0
	case memMissing:
		return syscall.ENOENT
	default:
		return syscall.ENOTDIR
	}
}

// createErr checks that name can be created: EEXIST if it exists (a
// dangling link included), else parentErr; m.mu must be held.
func (m *MemRaw) createErr(name string) syscall.Errno {
	if m.kind(name) != memMissing {
		return syscall.EEXIST
	}
	return m.parentErr(name)
}

// add indexes a new name under its parent; m.mu must be held.
func (m *MemRaw) add(name string, n *memNode) {
	m.nodes[name] = n
	if name != "/" {
		m.nodes[parentOf(name)].entries++
	}
}

// drop removes name from the index (not from MemMapFs); m.mu must be held.
func (m *MemRaw) drop(name string) {
	delete(m.nodes, name)
	if p, ok := m.nodes[parentOf(name)]; ok && name != "/" {
		p.entries--
	}
}

// addStat indexes the file or directory MemMapFs now holds at name; m.mu
// must be held.
func (m *MemRaw) addStat(name string, kind memKind) error {
	info, err := m.files.Stat(name)
	if err != nil {
		return err
	}
	m.add(name, &memNode{kind: kind, info: info})
	return nil
}

func newLink(name, target string) *memNode {
	return &memNode{kind: memLink, target: target, info: linkInfo{name: path.Base(name), size: int64(len(target))}}
}

func memErr(op, name string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// Lstat describes name; a link reports fs.ModeSymlink|0777 and the length
// of its target as size, as Linux does.
func (m *MemRaw) Lstat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[name]; ok {
		return n.info, nil
	}
	return nil, memErr("lstat", name, syscall.ENOENT)
}

// Readlink returns the target of the link name verbatim; EINVAL if name is
// not a link.
func (m *MemRaw) Readlink(name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	switch {
	case !ok:
		return "", memErr("readlink", name, syscall.ENOENT)
	case n.kind != memLink:
		return "", memErr("readlink", name, syscall.EINVAL)
	}
	return n.target, nil
}

// Symlink records name -> target; EEXIST if name exists.
func (m *MemRaw) Symlink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("symlink", name, errno)
	}
	m.add(name, newLink(name, target))
	return nil
}

// Rename moves oldname (file, directory with its subtree and links, or
// link) to newname, replacing newname in the same critical section, with
// rename(2)'s errors. A link moves in the index alone; a file or directory
// moves in MemMapFs too.
func (m *MemRaw) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.renameErr(oldname, newname); errno != 0 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	if oldname == newname {
		return nil
	}
	m.clear(newname)
	n := m.nodes[oldname]
	if n.kind == memLink {
		m.drop(oldname)
		m.add(newname, newLink(newname, n.target))
		return nil
	}
	if err := m.files.Rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: cause(err)}
	}
	m.drop(oldname)
	m.add(newname, n) // afero's FileInfo follows its file to the new name
	if n.kind == memDir {
		m.moveBelow(oldname, newname)
	}
	return nil
}

// renameErr returns the errno rename(2) would give, 0 if it may proceed.
func (m *MemRaw) renameErr(oldname, newname string) syscall.Errno {
	from, to := m.kind(oldname), m.kind(newname)
	switch {
	case from == memMissing:
		return syscall.ENOENT
	case oldname == newname:
		return 0
	case from == memDir && (oldname == "/" || strings.HasPrefix(newname, oldname+"/")):
		return syscall.EINVAL
	case from != memDir && to == memDir:
		return syscall.EISDIR
	case from == memDir && to != memDir && to != memMissing:
		return syscall.ENOTDIR
	case to == memDir && !m.empty(newname):
		return syscall.ENOTEMPTY
	}
	return m.parentErr(newname)
}

// clear removes whatever newname is before a rename replaces it.
func (m *MemRaw) clear(name string) {
	n, ok := m.nodes[name]
	if !ok {
		return
	}
	m.drop(name)
	if n.kind != memLink {
		_ = m.files.Remove(name) // a dir here is empty
	}
}

// moveBelow re-keys the index entries below a renamed directory (MemMapFs
// has moved its own). Entry counts move with their nodes.
func (m *MemRaw) moveBelow(oldDir, newDir string) {
	moved := map[string]*memNode{}
	for name, n := range m.nodes {
		if rest, ok := strings.CutPrefix(name, oldDir+"/"); ok {
			delete(m.nodes, name)
			if n.kind == memLink {
				n = newLink(newDir+"/"+rest, n.target)
			}
			moved[newDir+"/"+rest] = n
		}
	}
	maps.Copy(m.nodes, moved)
}

// empty reports whether the directory dir has no files, directories and
// links.
func (m *MemRaw) empty(dir string) bool {
	n, ok := m.nodes[dir]
	return ok && n.entries == 0
}

// Remove deletes a file, a link or an empty directory.
func (m *MemRaw) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.kind(name) {
	case memMissing:
		return memErr("remove", name, syscall.ENOENT)
	case memLink:
		m.drop(name)
		return nil
	case memDir:
		if name == "/" {
			return memErr("remove", name, syscall.EBUSY)
		}
		if !m.empty(name) {
			return memErr("remove", name, syscall.ENOTEMPTY)
		}
	}
	if err := m.files.Remove(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: cause(err)}
	}
	m.drop(name)
	return nil
}

// Mkdir creates the directory name; EEXIST if it exists, ENOENT/ENOTDIR if
// its parent is missing or not a directory.
func (m *MemRaw) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("mkdir", name, errno)
	}
	if err := m.files.Mkdir(name, perm); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: cause(err)}
	}
	return pathErrOrNil("mkdir", name, m.addStat(name, memDir))
}

// ReadFile returns a copy of the file's contents; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR.
func (m *MemRaw) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.kind(name) {
	case memMissing:
		return nil, memErr("read", name, syscall.ENOENT)
	case memLink:
		return nil, memErr("read", name, syscall.ELOOP)
	case memDir:
		return nil, memErr("read", name, syscall.EISDIR)
	}
	data, err := afero.ReadFile(m.files, name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: cause(err)}
	}
	return data, nil
}

// WriteFile creates or truncates the file name; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR, a missing parent ENOENT.
func (m *MemRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	kind := m.kind(name)
	switch kind {
	case memLink:
		return memErr("write", name, syscall.ELOOP)
	case memDir:
		return memErr("write", name, syscall.EISDIR)
	case memMissing:
		if errno := m.parentErr(name); errno != 0 {
			return memErr("write", name, errno)
		}
	}
	err := afero.WriteFile(m.files, name, data, perm)
	if kind == memMissing {
		// GOTCHA: a write that fails half way has created the file.
		if serr := m.addStat(name, memFile); err == nil {
			err = serr
		}
	}
	return pathErrOrNil("write", name, err)
}

// ReadDir lists files, directories and links in name, sorted by name.
func (m *MemRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.kind(name) {
	case memMissing:
		return nil, memErr("readdir", name, syscall.ENOENT)
	case memDir:
	default:
		return nil, memErr("readdir", name, syscall.ENOTDIR)
	}
	infos, err := afero.ReadDir(m.files, name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: cause(err)}
	}
	entries := make([]fs.DirEntry, 0, m.nodes[name].entries)
	for _, info := range infos {
		entries = append(entries, fs.FileInfoToDirEntry(info))
	}
	for link, n := range m.nodes {
		if n.kind == memLink && parentOf(link) == name {
			entries = append(entries, fs.FileInfoToDirEntry(n.info))
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

// linkInfo is the fs.FileInfo of a MemRaw link. ModTime is the zero time so
// listings stay deterministic.
type linkInfo struct {
	name string
	size int64
}

func (l linkInfo) Name() string       { return l.name }
func (l linkInfo) Size() int64        { return l.size }
func (l linkInfo) Mode() fs.FileMode  { return fs.ModeSymlink | 0o777 }
func (l linkInfo) ModTime() time.Time { return time.Time{} }
func (l linkInfo) IsDir() bool        { return false }
func (l linkInfo) Sys() any           { return nil }
