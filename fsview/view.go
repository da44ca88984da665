package fsview

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Lstat describes name without following a link in its final component
// (its parents are resolved). A missing name gives syscall.ENOENT.
func (v *View) Lstat(name string) (fs.FileInfo, error) {
	return v.existing("lstat", name, false)
}

// Stat describes what name designates after following every link. A
// dangling link gives an error satisfying errors.Is(err, fs.ErrNotExist).
func (v *View) Stat(name string) (fs.FileInfo, error) {
	return v.existing("stat", name, true)
}

func (v *View) existing(op, name string, follow bool) (fs.FileInfo, error) {
	_, info, err := v.resolveExisting(op, name, follow)
	return info, err
}

// resolveExisting is resolve for a name that must exist: a missing final
// component gives syscall.ENOENT.
func (v *View) resolveExisting(op, name string, follow bool) (string, fs.FileInfo, error) {
	p, info, err := v.resolve(op, name, follow)
	if err == nil && info == nil {
		err = &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
	}
	return p, info, err
}

// Readlink returns the target of the link name as stored, verbatim
// (relative or absolute). A non-link gives syscall.EINVAL, as readlink(2).
func (v *View) Readlink(name string) (string, error) {
	const op = "readlink"
	p, _, err := v.resolveExisting(op, name, false)
	if err != nil {
		return "", err
	}
	target, err := v.raw.Readlink(p)
	if err != nil {
		return "", pathErr(op, name, err)
	}
	return target, nil
}

// EvalSymlinks returns the canonical absolute virtual path of name: clean,
// with no link in any component. It fails (fs.ErrNotExist) if name or any
// link on the way dangles.
func (v *View) EvalSymlinks(name string) (string, error) {
	const op = "evalsymlinks"
	p, _, err := v.resolveExisting(op, name, true)
	if err != nil {
		return "", err
	}
	return p, nil
}

// ReadFile returns the contents of the file name designates (links
// followed). A directory gives syscall.EISDIR.
func (v *View) ReadFile(name string) ([]byte, error) {
	const op = "readfile"
	p, _, err := v.resolveExisting(op, name, true)
	if err != nil {
		return nil, err
	}
	data, err := v.raw.ReadFile(p)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	return data, nil
}

// WriteFile creates or truncates the file name designates (links followed:
// writing through a dangling link creates its target, as open(2) with
// O_CREAT does). perm applies only on creation. The parent must exist.
func (v *View) WriteFile(name string, data []byte, perm fs.FileMode) error {
	const op = "writefile"
	p, _, err := v.resolve(op, name, true)
	if err != nil {
		return err
	}
	if err := v.raw.WriteFile(p, data, perm); err != nil {
		return pathErr(op, name, err)
	}
	return nil
}

// WriteFileAtomic replaces the file name designates (links followed, so a
// link keeps pointing at the updated file) so that a reader sees either
// the old or the new contents, never a mix or nothing, leaving a new file
// with perm exactly. A FileReplacer layer does it by itself (OSRaw:
// temp+fsync+rename+fsync; MemRaw: one step); over any other Raw it writes
// a temporary file in the same directory, syncs it when the layer is a
// Syncer, renames it over the target and syncs the directory. The
// temporary file is removed on failure.
func (v *View) WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	const op = "writefileatomic"
	p, _, err := v.resolve(op, name, true)
	if err != nil {
		return err
	}
	return v.replaceFileAt(op, name, p, data, perm)
}

// replaceFileAt replaces the raw path p by a new file (FileReplacer, else
// replaceAt); errors name the virtual name.
func (v *View) replaceFileAt(op, name, p string, data []byte, perm fs.FileMode) error {
	if r := v.opt.FileReplacer; r != nil {
		return pathErrOrNil(op, name, r.ReplaceFile(p, data, perm))
	}
	return v.replaceAt(op, name, p, data, perm)
}

// replaceAt writes a temporary file beside the raw path p, syncs it,
// renames it over p (whatever entry p is, a link included) and syncs the
// directory; errors name the virtual name.
func (v *View) replaceAt(op, name, p string, data []byte, perm fs.FileMode) error {
	tmp := tempName(p)
	if err := v.raw.WriteFile(tmp, data, perm); err != nil {
		// GOTCHA: a write that fails half way (ENOSPC) has already created tmp.
		return v.discard(tmp, pathErr(op, name, err))
	}
	syncer := v.opt.Syncer
	durable := syncer != nil
	if durable {
		if err := syncer.Sync(tmp); err != nil {
			return v.discard(tmp, pathErr(op, name, err))
		}
	}
	// LOADBEARING: rename(2) swaps the name in one step; the sync before it
	// keeps a crash from exposing an empty file under the final name.
	if err := v.raw.Rename(tmp, p); err != nil {
		return v.discard(tmp, pathErr(op, name, err))
	}
	if durable {
		if err := syncer.Sync(path.Dir(p)); err != nil {
			return pathErr(op, name, err)
		}
	}
	return nil
}

// discard removes a temporary entry after a failure and returns err.
func (v *View) discard(tmp string, err error) error {
	_ = v.raw.Remove(tmp) // best effort: err is what the caller needs
	return err
}

// tempName returns a fresh hidden name beside p for a temporary entry.
// p is a clean absolute raw path; the name is ".<base>.tmp-<16 hex digits>".
func tempName(p string) string {
	dir, base := parentOf(p), path.Base(p)
	if dir != "/" {
		dir += "/"
	}
	var digits [16]byte
	hex := strconv.AppendUint(digits[:0], rand.Uint64(), 16)
	return dir + "." + base + ".tmp-" + strings.Repeat("0", 16-len(hex)) + string(hex)
}

// ReadDir lists the directory name designates (links followed), sorted by
// name; entries that are links are listed as links (Type() has
// fs.ModeSymlink) and not followed.
func (v *View) ReadDir(name string) ([]fs.DirEntry, error) {
	const op = "readdir"
	p, info, err := v.resolveExisting(op, name, true)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	entries, err := v.raw.ReadDir(p)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

// MkdirAll creates name and any missing parents with perm, as mkdir -p:
// existing directories (also reached through links) are fine, anything
// else in the way fails with syscall.ENOTDIR, and a dangling link in the
// way fails with syscall.EEXIST.
func (v *View) MkdirAll(name string, perm fs.FileMode) error {
	const op = "mkdirall"
	if !path.IsAbs(name) {
		return &fs.PathError{Op: op, Path: name, Err: ErrNotAbsolute}
	}
	if _, info, err := v.resolve(op, name, true); err == nil && info != nil && info.IsDir() {
		return nil // the usual case: every component is there
	}
	w := walk{src: name}
	created := "" // the raw path of the directory this call made last
	for {
		c, ok := w.next()
		if !ok {
			return nil
		}
		if created != "" && c != ".." {
			// Below a directory just made, nothing can be in the way.
			next := created + "/" + c
			if err := v.raw.Mkdir(next, perm); err == nil {
				created = next
				continue
			}
			// Lost a race with another creator: judge this prefix afresh.
		}
		p, made, err := v.mkdirOne(op, name, name[:w.end], perm)
		if err != nil {
			return err
		}
		created = ""
		if made {
			created = p
		}
	}
}

// mkdirOne makes sure prefix (of name) is a directory, creating it if it
// is missing. It returns the raw path prefix resolves to and whether this
// call created it.
func (v *View) mkdirOne(op, name, prefix string, perm fs.FileMode) (string, bool, error) {
	p, info, err := v.resolve(op, prefix, false)
	if err != nil {
		return "", false, pathErr(op, name, err)
	}
	if info != nil && info.IsDir() {
		return p, false, nil
	}
	if info == nil {
		err := v.raw.Mkdir(p, perm)
		if err == nil {
			return p, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", false, pathErr(op, name, err)
		}
		// Lost a race with another creator: judge what is there now.
	}
	target, err := v.Stat(prefix)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, &fs.PathError{Op: op, Path: name, Err: syscall.EEXIST} // dangling link
	case err != nil:
		return "", false, pathErr(op, name, err)
	case !target.IsDir():
		return "", false, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return p, false, nil
}

func pathErrOrNil(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return pathErr(op, name, err)
}

// Symlink creates name as a link to target, stored verbatim. It fails
// with an error satisfying errors.Is(err, fs.ErrExist) if name exists, a
// dangling link included, as symlink(2).
func (v *View) Symlink(target, name string) error {
	const op = "symlink"
	p, info, err := v.resolve(op, name, false)
	if err != nil {
		return err
	}
	if info != nil {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EEXIST}
	}
	return pathErrOrNil(op, name, v.raw.Symlink(target, p))
}

// ReplaceLink points the link name at target atomically, as ln -sfn: it
// creates a temporary link beside name and renames it over name, so a
// concurrent reader sees the old target or the new one, never no link.
// Works when name is missing, a link (dangling or not) or a file; a
// directory gives syscall.EISDIR. The temporary link never remains. A
// LinkReplacer layer (MemRaw) replaces the link in one step by itself.
func (v *View) ReplaceLink(target, name string) error {
	const op = "replacelink"
	p, _, err := v.resolve(op, name, false)
	if err != nil {
		return err
	}
	if r := v.opt.LinkReplacer; r != nil {
		return pathErrOrNil(op, name, r.ReplaceLink(target, p))
	}
	tmp := tempName(p)
	if err := v.raw.Symlink(target, tmp); err != nil {
		return pathErr(op, name, err)
	}
	// LOADBEARING: rename(2) over name, not remove+symlink: removing first
	// opens a window in which name does not exist, and a reader (or a boot
	// after a crash) would find no current system at all.
	if err := v.raw.Rename(tmp, p); err != nil {
		return v.discard(tmp, pathErr(op, name, err))
	}
	return nil
}

// Rename moves oldname to newname, replacing newname atomically as
// rename(2); links in either final component are renamed, not followed.
// Errors are *os.LinkError with the virtual names.
func (v *View) Rename(oldname, newname string) error {
	const op = "rename"
	oldp, _, err := v.resolve(op, oldname, false)
	if err != nil {
		return linkErr(op, oldname, newname, err)
	}
	newp, _, err := v.resolve(op, newname, false)
	if err != nil {
		return linkErr(op, oldname, newname, err)
	}
	if err := v.raw.Rename(oldp, newp); err != nil {
		return linkErr(op, oldname, newname, err)
	}
	return nil
}

func linkErr(op, oldname, newname string, err error) error {
	return &os.LinkError{Op: op, Old: oldname, New: newname, Err: cause(err)}
}

// Remove removes the file, link (not its target) or empty directory name.
func (v *View) Remove(name string) error {
	const op = "remove"
	p, _, err := v.resolveExisting(op, name, false)
	if err != nil {
		return err
	}
	return pathErrOrNil(op, name, v.raw.Remove(p))
}

// RemoveAll removes name and, if it is a directory, everything below it,
// never following links (a link is removed, its target kept). A missing
// name is not an error, as os.RemoveAll. The view's root itself is refused
// with syscall.EBUSY, as rmdir("/") is on Linux.
func (v *View) RemoveAll(name string) error {
	const op = "removeall"
	p, info, err := v.resolve(op, name, false)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && info == nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if p == "/" {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EBUSY}
	}
	return pathErrOrNil(op, name, v.removeTree(p, info))
}

// removeTree removes the raw path p described by info, depth first.
func (v *View) removeTree(p string, info fs.FileInfo) error {
	if info.IsDir() {
		entries, err := v.raw.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			child := path.Join(p, e.Name())
			ci, err := v.raw.Lstat(child)
			if err != nil {
				return err
			}
			if err := v.removeTree(child, ci); err != nil {
				return err
			}
		}
	}
	return v.raw.Remove(p)
}

// Basename returns the last element of a slash path, ignoring trailing
// slashes: "/nix/store/abc-x/" and "/nix/store/abc-x" give "abc-x", "x"
// gives "x", and "/" or "" give "" (unlike path.Base, which returns "/"
// and "."), so a store path's name can be taken from readlink output or
// a directory listing alike.
func Basename(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return ""
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}
