package fsview

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
)

// OSRaw is the Raw layer over a real directory used as the view's root:
// "/" in production, a temp dir in tests. Virtual names are joined onto the
// root; link targets are stored and read verbatim with os.Symlink and
// os.Readlink (the View's resolver makes absolute targets restart at the
// root, so the kernel never follows a link here). It implements Syncer,
// FileReplacer, RegularReader and NoReplaceRenamer.
// Errors carry the virtual name, not the host path.
type OSRaw struct {
	root string
}

// NewOSRaw returns the Raw layer rooted at the host directory root.
func NewOSRaw(root string) *OSRaw { return &OSRaw{root: filepath.Clean(root)} }

// NewOS returns a View over the host directory root (see OSRaw).
func NewOS(root string) *View { return New(NewOSRaw(root)) }

// host maps a virtual name to the host path; cleaning it as an absolute
// path first keeps ".." from leaving the root.
func (o *OSRaw) host(name string) string {
	return filepath.Join(o.root, filepath.FromSlash(path.Clean("/"+name)))
}

// Root returns the host directory the view is rooted at.
func (o *OSRaw) Root() string { return o.root }

// Lstat is os.Lstat under the root.
func (o *OSRaw) Lstat(name string) (fs.FileInfo, error) {
	info, err := os.Lstat(o.host(name))
	return info, virtual(err, name)
}

// Readlink is os.Readlink under the root: the target verbatim.
func (o *OSRaw) Readlink(name string) (string, error) {
	target, err := os.Readlink(o.host(name))
	return target, virtual(err, name)
}

// Symlink is os.Symlink under the root, target stored verbatim.
func (o *OSRaw) Symlink(target, name string) error {
	return virtual(os.Symlink(target, o.host(name)), name)
}

// Rename is rename(2) under the root.
func (o *OSRaw) Rename(oldname, newname string) error {
	// GOTCHA: os.Rename refuses any existing directory as newname with
	// EEXIST (for Windows' sake); rename(2) gives EISDIR for a non-dir over
	// a dir and replaces an empty dir by a dir, which MemRaw mirrors.
	err := syscall.Rename(o.host(oldname), o.host(newname))
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// Remove is os.Remove under the root.
func (o *OSRaw) Remove(name string) error { return virtual(os.Remove(o.host(name)), name) }

// Mkdir is os.Mkdir under the root.
func (o *OSRaw) Mkdir(name string, perm fs.FileMode) error {
	return virtual(os.Mkdir(o.host(name), perm), name)
}

// ReadFile reads name with O_NOFOLLOW: a link in the final component
// gives syscall.ELOOP instead of being followed by the kernel.
func (o *OSRaw) ReadFile(name string) ([]byte, error) {
	f, err := os.OpenFile(o.host(name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, virtual(err, name)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	return data, virtual(err, name)
}

// WriteFile creates or truncates name with O_NOFOLLOW (a link gives
// syscall.ELOOP); perm applies on creation, minus the umask.
func (o *OSRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(o.host(name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return virtual(err, name)
	}
	_, werr := f.Write(data)
	return virtual(errors.Join(werr, f.Close()), name)
}

// ReadDir is os.ReadDir under the root (sorted, links not followed).
func (o *OSRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(o.host(name))
	return entries, virtual(err, name)
}

// Sync fsyncs the file or directory name.
func (o *OSRaw) Sync(name string) error {
	f, err := os.Open(o.host(name))
	if err != nil {
		return virtual(err, name)
	}
	serr := f.Sync()
	return virtual(errors.Join(serr, f.Close()), name)
}

// virtual replaces the host path in err by the virtual name.
func virtual(err error, name string) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return &fs.PathError{Op: opOf(pe, le), Path: name, Err: cause(err)}
	}
	return &fs.PathError{Op: "io", Path: name, Err: err}
}

func opOf(pe *fs.PathError, le *os.LinkError) string {
	if pe != nil {
		return pe.Op
	}
	return le.Op
}
