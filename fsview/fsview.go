// Package fsview is a filesystem view with Linux symlink semantics over a
// virtual root. Paths are absolute, slash-separated and relative to the
// view's root ("/run/current-system", "/nix/var/nix/profiles/system").
//
// A Raw layer does the primitive operations without following a symlink in
// the final path component; View adds the one resolver, written once on
// Lstat+Readlink: absolute link targets restart at the view's root, relative
// targets join the link's directory, and more than MaxHops links in one
// resolution fail with ErrLoop (Linux's ELOOP limit of 40).
//
// Resolution walks the name component by component as the Linux kernel's
// path walk does (fs/namei.c): a ".." applies to the directory reached so
// far, so "/link/.." is the parent of link's target, not the directory
// holding link; ".." at the root stays at the root, which is also why no
// target can climb out of the view. A non-directory in the middle of a name
// fails with syscall.ENOTDIR; a missing one with syscall.ENOENT (both
// satisfy errors.Is with fs.ErrNotExist / their errno). A name with a
// trailing slash follows its final link and must be a directory, as on
// Linux.
//
// Two Raw layers exist: OSRaw (a real directory as root: "/" in production,
// a temp dir in tests) and MemRaw (an index of whole names, links with
// their targets, and file bytes in afero's MemMapFs, which has no symlinks;
// spf13/afero#258). NewOS and NewMem wrap them in a View. View knows a
// layer only through Raw and the small optional interfaces in optional.go
// (SymlinkIndex, Sharer, FileReplacer, ...), asked for by type assertion.
// An in-memory view can be cloned and can share trees with another
// (View.Clone, View.CopyTree), copy-on-write, which is how a simulator
// builds many hosts cheaply.
//
// Errors from View methods are *fs.PathError (Rename: *os.LinkError) naming
// the virtual path the caller passed, never a host path.
package fsview

import (
	"errors"
	"io/fs"
)

// MaxHops is the most symlinks one resolution follows, as Linux's
// MAXSYMLINKS (40) since kernel 4.2.
const MaxHops = 40

// ErrLoop is returned (wrapped in *fs.PathError) when resolution follows
// more than MaxHops links, as Linux returns ELOOP.
var ErrLoop = errors.New("too many levels of symbolic links")

// ErrNotAbsolute is returned (wrapped in *fs.PathError) when a View method
// receives a name that is not an absolute virtual path ("" included).
var ErrNotAbsolute = errors.New("fsview: path is not absolute")

// Raw is the primitive layer. Every name it receives is absolute, clean and
// already free of symlinks in every component except possibly the last; Raw
// never follows a link in the final component (Lstat semantics throughout).
// Errors should wrap the errno Linux would give (syscall.ENOENT, EEXIST,
// ENOTDIR, EISDIR, ENOTEMPTY, ELOOP for ReadFile/WriteFile on a link).
type Raw interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
	// Symlink creates name as a link holding target verbatim; it fails
	// with EEXIST if name exists (a dangling link included), as symlink(2).
	Symlink(target, name string) error
	// Rename replaces newname atomically (links included, as rename(2)).
	Rename(oldname, newname string) error
	Remove(name string) error
	Mkdir(name string, perm fs.FileMode) error
	ReadFile(name string) ([]byte, error)
	// WriteFile creates or truncates name; the parent must exist.
	WriteFile(name string, data []byte, perm fs.FileMode) error
	// ReadDir lists name's entries (links as links), sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Root describes the root for messages: the host directory for OSRaw,
	// "mem:" for MemRaw.
	Root() string
}

// View resolves paths through symlinks over a Raw layer. It holds no state
// of its own beyond raw, so it is as safe for concurrent use as raw is.
type View struct {
	raw Raw
	// opt is OptionalsOf(raw), taken once.
	opt Optionals
}

// New returns a View over raw.
func New(raw Raw) *View { return &View{raw: raw, opt: OptionalsOf(raw)} }

// OnChange reports every entry created, replaced or removed to fn, for a
// view whose layer is a ChangeNotifier (the in-memory view); false for any
// other view, whose changes a watcher of the host's filesystem sees.
func (v *View) OnChange(fn func(name string)) bool {
	n := v.opt.ChangeNotifier
	ok := n != nil
	if ok {
		n.OnChange(fn)
	}
	return ok
}

// Root describes the view's root: the host directory for NewOS, "mem:" for
// NewMem.
func (v *View) Root() string { return v.raw.Root() }
