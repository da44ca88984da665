package fsview

import (
	"io/fs"
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
// MemMapFs, links in a table of raw target strings beside it (MemMapFs has
// no symlinks; spf13/afero#258). It checks what MemMapFs does not (a parent
// must exist; a directory must be empty to be removed; rename(2)'s EISDIR,
// ENOTDIR and ENOTEMPTY) so it fails like Linux. One mutex makes every
// operation atomic, so it is safe for concurrent use and Rename is atomic
// to other callers.
type MemRaw struct {
	mu    sync.Mutex
	files afero.Fs
	links map[string]string // clean absolute name -> target verbatim
}

// NewMemRaw returns an empty in-memory Raw layer holding only "/".
func NewMemRaw() *MemRaw {
	return &MemRaw{files: afero.NewMemMapFs(), links: map[string]string{}}
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
	if _, ok := m.links[name]; ok {
		return memLink
	}
	info, err := m.files.Stat(name)
	switch {
	case err != nil:
		return memMissing
	case info.IsDir():
		return memDir
	default:
		return memFile
	}
}

// parentErr checks that name's parent is an existing directory; m.mu must
// be held.
func (m *MemRaw) parentErr(name string) syscall.Errno {
	switch m.kind(path.Dir(name)) {
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

func memErr(op, name string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// Lstat describes name; a link reports fs.ModeSymlink|0777 and the length
// of its target as size, as Linux does.
func (m *MemRaw) Lstat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if target, ok := m.links[name]; ok {
		return linkInfo{name: path.Base(name), size: int64(len(target))}, nil
	}
	info, err := m.files.Stat(name)
	if err != nil {
		return nil, memErr("lstat", name, syscall.ENOENT)
	}
	return info, nil
}

// Readlink returns the target of the link name verbatim; EINVAL if name is
// not a link.
func (m *MemRaw) Readlink(name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if target, ok := m.links[name]; ok {
		return target, nil
	}
	if m.kind(name) == memMissing {
		return "", memErr("readlink", name, syscall.ENOENT)
	}
	return "", memErr("readlink", name, syscall.EINVAL)
}

// Symlink records name -> target; EEXIST if name exists.
func (m *MemRaw) Symlink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("symlink", name, errno)
	}
	m.links[name] = target
	return nil
}

// Rename moves oldname (file, directory with its subtree and links, or
// link) to newname, replacing newname in the same critical section, with
// rename(2)'s errors.
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
	if target, ok := m.links[oldname]; ok {
		delete(m.links, oldname)
		m.links[newname] = target
		return nil
	}
	if err := m.files.Rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: cause(err)}
	}
	m.moveLinks(oldname, newname)
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
	delete(m.links, name)
	_ = m.files.Remove(name) // missing is fine; a dir here is empty
}

// moveLinks re-homes the links below a renamed directory.
func (m *MemRaw) moveLinks(oldDir, newDir string) {
	for name, target := range m.links {
		if rest, ok := strings.CutPrefix(name, oldDir+"/"); ok {
			delete(m.links, name)
			m.links[newDir+"/"+rest] = target
		}
	}
}

// empty reports whether the directory dir has no files and no links.
func (m *MemRaw) empty(dir string) bool {
	for name := range m.links {
		if path.Dir(name) == dir {
			return false
		}
	}
	infos, err := afero.ReadDir(m.files, dir)
	return err == nil && len(infos) == 0
}

// Remove deletes a file, a link or an empty directory.
func (m *MemRaw) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.kind(name) {
	case memMissing:
		return memErr("remove", name, syscall.ENOENT)
	case memLink:
		delete(m.links, name)
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
	return nil
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
	switch m.kind(name) {
	case memLink:
		return memErr("write", name, syscall.ELOOP)
	case memDir:
		return memErr("write", name, syscall.EISDIR)
	case memMissing:
		if errno := m.parentErr(name); errno != 0 {
			return memErr("write", name, errno)
		}
	}
	if err := afero.WriteFile(m.files, name, data, perm); err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: cause(err)}
	}
	return nil
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
	entries := make([]fs.DirEntry, 0, len(infos))
	for _, info := range infos {
		entries = append(entries, fs.FileInfoToDirEntry(info))
	}
	for link, target := range m.links {
		if path.Dir(link) == name && link != "/" {
			info := linkInfo{name: path.Base(link), size: int64(len(target))}
			entries = append(entries, fs.FileInfoToDirEntry(info))
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
