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
// Two Raw layers exist: OS (a real directory as root: "/" in production, a
// temp dir in tests) and Mem (afero's MemMapFs plus a table of raw link
// targets, since MemMapFs has no symlinks; spf13/afero#258).
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

// Raw is the primitive layer. Every name it receives is absolute, clean and
// already free of symlinks in every component except possibly the last; Raw
// never follows a link in the final component (Lstat semantics throughout).
type Raw interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
	// Symlink creates name as a link holding target verbatim.
	Symlink(target, name string) error
	// Rename replaces newname atomically (links included, as rename(2)).
	Rename(oldname, newname string) error
	Remove(name string) error
	Mkdir(name string, perm fs.FileMode) error
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte, perm fs.FileMode) error
}

// View resolves paths through symlinks over a Raw layer.
type View struct {
	raw Raw
}

// New returns a View over raw.
func New(raw Raw) *View { return &View{raw: raw} }
