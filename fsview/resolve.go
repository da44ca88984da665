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
func (v *View) resolve(op, name string, follow bool) (string, fs.FileInfo, error) {
	if !path.IsAbs(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: ErrNotAbsolute}
	}
	dirOnly := len(name) > 1 && strings.HasSuffix(name, "/")
	follow = follow || dirOnly
	resolved, pending := "/", components(name)
	var info fs.FileInfo
	missing, hops := false, 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		if c == ".." {
			// The parent of what was reached, i.e. of a link's target.
			resolved, info = path.Dir(resolved), nil
			continue
		}
		next := path.Join(resolved, c)
		last := len(pending) == 0
		fi, err := v.raw.Lstat(next)
		if err != nil {
			if last && errors.Is(err, fs.ErrNotExist) {
				resolved, info, missing = next, nil, true
				break
			}
			return "", nil, pathErr(op, name, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 && (follow || !last) {
			hops++
			if hops > MaxHops {
				return "", nil, &fs.PathError{Op: op, Path: name, Err: ErrLoop}
			}
			target, err := v.raw.Readlink(next)
			if err != nil {
				return "", nil, pathErr(op, name, err)
			}
			if target == "" {
				// GOTCHA: Linux resolves an empty link target to ENOENT.
				return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOENT}
			}
			if path.IsAbs(target) {
				resolved = "/" // absolute targets restart at the view's root
			}
			pending = append(components(target), pending...)
			continue
		}
		if !last && !fi.IsDir() {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		resolved, info = next, fi
	}
	if info == nil && !missing {
		// Reached through ".." or the bare root: a directory known to exist.
		fi, err := v.raw.Lstat(resolved)
		if err != nil {
			return "", nil, pathErr(op, name, err)
		}
		info = fi
	}
	if dirOnly && info != nil && !info.IsDir() {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return resolved, info, nil
}

// components splits a slash path into its elements, dropping empty and "."
// ones (which never change the walk) and keeping "..".
func components(p string) []string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, c := range parts {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
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
