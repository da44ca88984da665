package fsview

import (
	"errors"
	"io/fs"
	"path"
	"syscall"
)

// ErrNotMem is returned (wrapped in *fs.PathError) by Clone and CopyTree
// for a view that is not in memory (whose layer is no Sharer).
var ErrNotMem = errors.New("fsview: not an in-memory view")

// Clone returns an independent copy of an in-memory view (NewMem): the same
// names, contents, modes and links, after which a change to either view is
// not seen by the other. The copy shares file contents with v until either
// writes them (copy on write), so it costs one index entry per name.
// Errors: ErrNotMem for a view whose layer is no Sharer.
func (v *View) Clone() (*View, error) {
	s := v.opt.Sharer
	if s == nil {
		return nil, &fs.PathError{Op: "clone", Path: "/", Err: ErrNotMem}
	}
	return New(s.Clone()), nil
}

// CopyTree copies what name is in src (a file, a link as a link, or a
// directory with everything below it, links never followed) into v under
// the same name; both views must be in memory (Sharer). name's parents are
// resolved in each view; name must not exist in v and its parent must be
// a directory there. When name's parents resolve alike in both views,
// nothing is copied: the entries are shared copy-on-write (see Clone),
// modes and times included; otherwise they are copied with their
// permission bits. Errors: *fs.PathError naming name with ErrNotAbsolute,
// ErrNotMem, fs.ErrExist (name exists in v), fs.ErrNotExist (missing in
// src, or no parent in v) or syscall.ENOTDIR.
func (v *View) CopyTree(src *View, name string) error {
	const op = "copytree"
	dst := v.opt.Sharer
	if dst == nil || src.opt.Sharer == nil {
		return &fs.PathError{Op: op, Path: name, Err: ErrNotMem}
	}
	from, info, err := src.resolveExisting(op, name, false)
	if err != nil {
		return err
	}
	to, there, err := v.resolve(op, name, false)
	if err != nil {
		return err
	}
	if there != nil {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EEXIST}
	}
	if from == to {
		return pathErrOrNil(op, name, dst.Graft(src.raw, to))
	}
	return pathErrOrNil(op, name, copyRaw(src.raw, v.raw, from, to, info))
}

// copyRaw copies the raw entry from (described by info) of src to the raw
// name to of dst, depth first.
func copyRaw(src, dst Raw, from, to string, info fs.FileInfo) error {
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := src.Readlink(from)
		if err != nil {
			return err
		}
		return dst.Symlink(target, to)
	case !info.IsDir():
		data, err := src.ReadFile(from)
		if err != nil {
			return err
		}
		return dst.WriteFile(to, data, info.Mode().Perm())
	}
	if err := dst.Mkdir(to, info.Mode().Perm()); err != nil {
		return err
	}
	entries, err := src.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		ei, err := e.Info()
		if err != nil {
			return err
		}
		if err := copyRaw(src, dst, path.Join(from, e.Name()), path.Join(to, e.Name()), ei); err != nil {
			return err
		}
	}
	return nil
}
