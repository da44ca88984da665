package fsview

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// resolve maps the virtual name to the raw path it designates: every
// component but the last is a directory reached through any links on the
// way; the last is followed too when follow is set (or name ends in "/").
// info is the final component's Lstat, nil when it does not exist (its
// parent then exists and is a directory, so it can be created). Errors are
// *fs.PathError with op and name: ErrNotAbsolute, ErrLoop, syscall.ENOENT
// or syscall.ENOTDIR for a bad middle component, or the raw layer's errno.
// Over a SymlinkIndex most names are answered from whole-name look-ups
// (resolveIndexed), the rest walked with Longest.
func (v *View) resolve(op, name string, follow bool) (string, fs.FileInfo, error) {
	if !path.IsAbs(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: ErrNotAbsolute}
	}
	if x := v.opt.SymlinkIndex; x != nil {
		if p, info, ok := resolveIndexed(x, name, follow); ok {
			return p, info, nil
		}
		return resolveWith(indexLookup{x}, op, name, follow)
	}
	return resolveWith((*rawLookup)(v), op, name, follow)
}

// rawEntry is what resolve needs to know of one raw name.
type rawEntry struct {
	info      fs.FileInfo
	dir, link bool
	// target is a link's target, verbatim.
	target string
}

// lookuper describes raw names for resolveWith.
type lookuper interface {
	lookup(name string) (rawEntry, error)
}

// rawLookup looks names up through the view's Raw layer: Lstat, and
// Readlink for a link.
type rawLookup View

func (l *rawLookup) lookup(name string) (rawEntry, error) {
	info, err := l.raw.Lstat(name)
	if err != nil {
		return rawEntry{}, err
	}
	e := rawEntry{info: info, dir: info.IsDir(), link: info.Mode()&fs.ModeSymlink != 0}
	if e.link {
		e.target, err = l.raw.Readlink(name)
	}
	return e, err
}

// indexLookup looks names up through a SymlinkIndex, one Longest each
// (the walk only looks up names whose parent it has reached).
type indexLookup struct{ x SymlinkIndex }

func (l indexLookup) lookup(name string) (rawEntry, error) {
	p, info, target := l.x.Longest(name)
	if p != name || info == nil {
		return rawEntry{}, syscall.ENOENT
	}
	return rawEntry{info: info, dir: info.IsDir(), link: info.Mode()&fs.ModeSymlink != 0, target: target}, nil
}

// parentOf is the directory holding the clean absolute name ("/" for "/").
func parentOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "/"
	}
	return name[:i]
}

// resolveWith is resolve over the lookups of l.
func resolveWith(l lookuper, op, name string, follow bool) (string, fs.FileInfo, error) {
	dirOnly := len(name) > 1 && strings.HasSuffix(name, "/")
	follow = follow || dirOnly
	w := walk{src: name, resolved: "/"}
	var cur rawEntry // what resolved is, once looked up
	found, missing, hops := false, false, 0
	for {
		c, ok := w.next()
		if !ok {
			break
		}
		if c == ".." {
			// The parent of what was reached, i.e. of a link's target.
			w.resolved, found = parentOf(w.resolved), false
			continue
		}
		next := w.child(c)
		last := !w.more()
		e, err := l.lookup(next)
		if err != nil {
			if last && errors.Is(err, fs.ErrNotExist) {
				w.resolved, found, missing = next, false, true
				break
			}
			return "", nil, pathErr(op, name, err)
		}
		if e.link && (follow || !last) {
			hops++
			if hops > MaxHops {
				return "", nil, &fs.PathError{Op: op, Path: name, Err: ErrLoop}
			}
			if e.target == "" {
				// GOTCHA: Linux resolves an empty link target to ENOENT.
				return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
			}
			w.follow(e.target)
			continue
		}
		if !last && !e.dir {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		w.resolved, cur, found = next, e, true
	}
	if missing {
		return w.resolved, nil, nil
	}
	if !found {
		// Reached through ".." or the bare root: a directory known to exist.
		e, err := l.lookup(w.resolved)
		if err != nil {
			return "", nil, pathErr(op, name, err)
		}
		cur = e
	}
	if dirOnly && !cur.dir {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return w.resolved, cur.info, nil
}

// walk is resolve's position: the text still to walk (src[pos:]) and the
// clean raw path reached so far. It takes components from src in place
// and, while resolved is the part of src already walked, names a child as
// a prefix of src, so a walk without links allocates nothing.
type walk struct {
	src string
	pos int
	// start and end locate the last component taken in src.
	start, end int
	resolved   string
}

// next takes the next component, skipping empty and "." ones (which never
// change the walk) and keeping "..".
func (w *walk) next() (string, bool) {
	for w.pos < len(w.src) {
		i := w.pos
		j := strings.IndexByte(w.src[i:], '/')
		if j < 0 {
			j = len(w.src)
		} else {
			j += i
		}
		w.pos = j + 1
		if c := w.src[i:j]; c != "" && c != "." {
			w.start, w.end = i, j
			return c, true
		}
	}
	return "", false
}

// more reports whether a component remains after the one taken.
func (w *walk) more() bool {
	rest := walk{src: w.src, pos: w.pos}
	_, ok := rest.next()
	return ok
}

// child is the raw path of component c (the one just taken) below
// resolved: a prefix of src when src spells resolved, then "/" and c.
func (w *walk) child(c string) string {
	if w.resolved == "/" {
		if w.start == 1 {
			return w.src[:w.end]
		}
		return "/" + c
	}
	if w.start == len(w.resolved)+1 && w.src[:len(w.resolved)] == w.resolved {
		return w.src[:w.end]
	}
	return w.resolved + "/" + c
}

// follow continues the walk through a link's target: an absolute target
// restarts at the view's root, a relative one from the link's directory
// (resolved, which the link's own name was not added to).
func (w *walk) follow(target string) {
	if rest := w.src[min(w.pos, len(w.src)):]; rest != "" {
		target += "/" + rest
	}
	if path.IsAbs(target) {
		w.resolved = "/"
	}
	w.src, w.pos = target, 0
}

// pathErr rewraps err as *fs.PathError{op, name}, keeping only the inner
// cause so that a raw path never reaches the caller.
func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: cause(err)}
}

// cause returns the errno (or sentinel) inside a *fs.PathError or
// *os.LinkError, else err itself.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
