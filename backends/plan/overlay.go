package plan

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Overlay is a copy-on-write fsview.Raw over a read-only view of a host: a
// name reads from the upper layer (in memory) when the plan wrote it there,
// else from the lower view, unless the plan removed it (a whiteout). Every
// change goes to the upper layer; the lower view is only ever read
// (Lstat, Readlink, ReadFile, ReadDir), so a plan cannot change the host.
// Changes are reported to OnChange while not Quiet. It is not safe for
// concurrent use.
type Overlay struct {
	lower *fsview.View
	upper *fsview.MemRaw
	// whiteout names entries of the lower view the plan removed (or
	// renamed away); opaque names upper directories made where a lower
	// entry was removed, whose lower children are hidden.
	whiteout, opaque map[string]bool
	quiet            int
	// OnChange, when set, is told each change made while not Quiet.
	OnChange func(Change)
}

// Change is one change the pipeline made to the filesystem.
type Change struct {
	// Op is "write", "remove", "mkdir", "rename" or "link".
	Op string
	// Path is the entry changed (rename: the old name); To is a rename's
	// new name or a link's target.
	Path, To string
	// Data is what a write wrote.
	Data []byte
}

// NewOverlay returns an overlay over lower, which it never writes.
func NewOverlay(lower *fsview.View) *Overlay {
	return &Overlay{lower: lower, upper: fsview.NewMemRaw(), whiteout: map[string]bool{}, opaque: map[string]bool{}}
}

// Quietly runs fn without reporting its changes (a command's own effects).
func (o *Overlay) Quietly(fn func() error) error {
	o.quiet++
	defer func() { o.quiet-- }()
	return fn()
}

func (o *Overlay) report(c Change) {
	if o.quiet == 0 && o.OnChange != nil {
		o.OnChange(c)
	}
}

// Root implements fsview.Raw.
func (o *Overlay) Root() string { return "plan:" + o.lower.Root() }

// hidden reports whether the lower view's entry at name is not seen: it or
// a parent was removed, or a parent is an opaque upper directory.
func (o *Overlay) hidden(name string) bool {
	for p := name; ; p = path.Dir(p) {
		if o.whiteout[p] || (p != name && o.opaque[p]) {
			return true
		}
		if p == "/" {
			return false
		}
	}
}

func (o *Overlay) inUpper(name string) bool {
	_, err := o.upper.Lstat(name)
	return err == nil
}

// lowerErr unwraps the view's *fs.PathError to the errno, as a Raw returns.
func lowerErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Lstat implements fsview.Raw.
func (o *Overlay) Lstat(name string) (fs.FileInfo, error) {
	if info, err := o.upper.Lstat(name); err == nil {
		return info, nil
	}
	if o.hidden(name) {
		return nil, syscall.ENOENT
	}
	info, err := o.lower.Lstat(name)
	return info, lowerErr(err)
}

// Readlink implements fsview.Raw.
func (o *Overlay) Readlink(name string) (string, error) {
	if o.inUpper(name) {
		return o.upper.Readlink(name)
	}
	if o.hidden(name) {
		return "", syscall.ENOENT
	}
	target, err := o.lower.Readlink(name)
	return target, lowerErr(err)
}

// ReadFile implements fsview.Raw (a link gives ELOOP, a directory EISDIR).
func (o *Overlay) ReadFile(name string) ([]byte, error) {
	if o.inUpper(name) {
		return o.upper.ReadFile(name)
	}
	info, err := o.Lstat(name)
	switch {
	case err != nil:
		return nil, err
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, syscall.ELOOP
	case info.IsDir():
		return nil, syscall.EISDIR
	}
	data, err := o.lower.ReadFile(name)
	return data, lowerErr(err)
}

// ReadDir implements fsview.Raw: the upper entries, then the lower ones
// not removed nor replaced, sorted by name.
func (o *Overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	info, err := o.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, syscall.ENOTDIR
	}
	var entries []fs.DirEntry
	seen := map[string]bool{}
	if o.inUpper(name) {
		up, err := o.upper.ReadDir(name)
		if err != nil {
			return nil, err
		}
		for _, e := range up {
			seen[e.Name()] = true
		}
		entries = append(entries, up...)
	}
	if !o.hidden(name) && !o.opaque[name] {
		if low, err := o.lower.ReadDir(name); err == nil {
			for _, e := range low {
				if !seen[e.Name()] && !o.whiteout[path.Join(name, e.Name())] {
					entries = append(entries, e)
				}
			}
		}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// copyUpParents makes name's parent directories in the upper layer (with
// the modes they have in the overlay), so an entry can be made there.
func (o *Overlay) copyUpParents(name string) error {
	dir := path.Dir(name)
	if dir == "/" || o.inUpper(dir) {
		return nil
	}
	if err := o.copyUpParents(dir); err != nil {
		return err
	}
	info, err := o.Lstat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return syscall.ENOTDIR
	}
	return o.upper.Mkdir(dir, info.Mode().Perm())
}

// copyUp copies a lower entry (a file, a link, or a directory with what is
// below it) into the upper layer, unless it is there already.
func (o *Overlay) copyUp(name string) error {
	if o.inUpper(name) {
		return nil
	}
	info, err := o.Lstat(name)
	if err != nil {
		return err
	}
	if err := o.copyUpParents(name); err != nil {
		return err
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := o.Readlink(name)
		if err != nil {
			return err
		}
		return o.upper.Symlink(target, name)
	case !info.IsDir():
		data, err := o.ReadFile(name)
		if err != nil {
			return err
		}
		return o.upper.WriteFile(name, data, info.Mode().Perm())
	}
	if err := o.upper.Mkdir(name, info.Mode().Perm()); err != nil {
		return err
	}
	entries, err := o.ReadDir(name)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := o.copyUp(path.Join(name, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// made records that name now exists in the upper layer: a whiteout there
// becomes an opaque directory (or goes, for a non-directory).
func (o *Overlay) made(name string, dir bool) {
	if o.whiteout[name] {
		delete(o.whiteout, name)
		o.opaque[name] = dir
	}
}

// Mkdir implements fsview.Raw.
func (o *Overlay) Mkdir(name string, perm fs.FileMode) error {
	if _, err := o.Lstat(name); err == nil {
		return syscall.EEXIST
	}
	if err := o.copyUpParents(name); err != nil {
		return err
	}
	if err := o.upper.Mkdir(name, perm); err != nil {
		return err
	}
	o.made(name, true)
	o.report(Change{Op: "mkdir", Path: name})
	return nil
}

// WriteFile implements fsview.Raw.
func (o *Overlay) WriteFile(name string, data []byte, perm fs.FileMode) error {
	if info, err := o.Lstat(name); err == nil {
		switch {
		case info.IsDir():
			return syscall.EISDIR
		case info.Mode()&fs.ModeSymlink != 0:
			return syscall.ELOOP
		}
	}
	if err := o.copyUpParents(name); err != nil {
		return err
	}
	if err := o.upper.WriteFile(name, data, perm); err != nil {
		return err
	}
	o.made(name, false)
	o.report(Change{Op: "write", Path: name, Data: append([]byte(nil), data...)})
	return nil
}

// Symlink implements fsview.Raw.
func (o *Overlay) Symlink(target, name string) error {
	if _, err := o.Lstat(name); err == nil {
		return syscall.EEXIST
	}
	if err := o.copyUpParents(name); err != nil {
		return err
	}
	if err := o.upper.Symlink(target, name); err != nil {
		return err
	}
	o.made(name, false)
	o.report(Change{Op: "link", Path: name, To: target})
	return nil
}

// Remove implements fsview.Raw: a lower entry is hidden by a whiteout.
func (o *Overlay) Remove(name string) error {
	info, err := o.Lstat(name)
	if err != nil {
		return err
	}
	if info.IsDir() {
		entries, err := o.ReadDir(name)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	if o.inUpper(name) {
		if err := o.upper.Remove(name); err != nil {
			return err
		}
	}
	o.hideLower(name)
	o.report(Change{Op: "remove", Path: name})
	return nil
}

// hideLower whites out name when the lower view has it.
func (o *Overlay) hideLower(name string) {
	if _, err := o.lower.Lstat(name); err == nil && !o.hidden(name) {
		o.whiteout[name] = true
	}
}

// Rename implements fsview.Raw: both names are copied up, so the upper
// layer's rename(2) checks apply to what the overlay shows.
func (o *Overlay) Rename(oldname, newname string) error {
	if err := o.copyUp(oldname); err != nil {
		return err
	}
	if err := o.copyUpParents(newname); err != nil {
		return err
	}
	if _, err := o.Lstat(newname); err == nil {
		if err := o.copyUp(newname); err != nil {
			return err
		}
	}
	info, err := o.upper.Lstat(oldname)
	if err != nil {
		return err
	}
	if err := o.upper.Rename(oldname, newname); err != nil {
		return err
	}
	o.hideLower(oldname)
	o.made(newname, info.IsDir())
	o.report(Change{Op: "rename", Path: oldname, To: newname})
	return nil
}

var _ fsview.Raw = (*Overlay)(nil)
