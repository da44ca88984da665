package fsview

import (
	"io/fs"
	"strings"
)

// resolveIndexed is resolve over a SymlinkIndex for names it can answer
// by whole names; ok is false when it cannot, and resolveWith's walk must
// answer (every error included, so errors keep one source).
//
// It rests on the index's promise: every ancestor of an indexed name is
// an indexed directory (a name is only ever made below a directory, and a
// directory with entries is never removed or replaced). So when a clean
// name is indexed, a walk would pass plain directories up to it; and
// when a clean name is not, the walk passes plain directories up to its
// longest indexed prefix and then meets what that prefix is: a link to
// follow, a directory the next component is missing from, or a file. A
// link's target joins the rest of the name, and the walk goes on from the
// result as long as the text stays clean ("." and repeated slashes never
// change a walk, but ".." after a link is the target's parent, not the
// lexical one, so a name with ".." is left to the walk).
func resolveIndexed(x SymlinkIndex, name string, follow bool) (p string, info fs.FileInfo, ok bool) {
	if !cleanAbs(name) {
		return "", nil, false
	}
	p = name
	for hops := 0; hops <= MaxHops; {
		q, info, target := x.Longest(p)
		if info == nil {
			return "", nil, false
		}
		link := info.Mode()&fs.ModeSymlink != 0
		switch {
		case q == p && (!link || !follow):
			return p, info, true
		case link:
			hops++
			next, clean := joinTarget(q, target, p[len(q):])
			if !clean {
				return "", nil, false
			}
			p = next
		case info.IsDir() && strings.IndexByte(p[len(q)+1:], '/') < 0:
			return p, nil, true // only the last component is missing
		default:
			return "", nil, false // a missing or non-directory middle component
		}
	}
	return "", nil, false // too many links: the walk says ErrLoop
}

// joinTarget is the name a walk continues with after the link at q whose
// target is target, rest being what followed q in the name ("" or
// "/..."): an absolute target restarts at the root, a relative one joins
// q's directory. clean is false when the result is not a clean absolute
// name (an empty target, or "." or ".." in it).
func joinTarget(q, target, rest string) (string, bool) {
	var p string
	switch {
	case target == "":
		return "", false // the walk says ENOENT
	case target[0] == '/':
		p = strings.TrimRight(target, "/") + rest
	default:
		dir := parentOf(q)
		if dir == "/" {
			dir = ""
		}
		p = dir + "/" + strings.TrimRight(target, "/") + rest
	}
	return p, cleanAbs(p)
}

// cleanAbs reports whether p is absolute and clean in the sense of
// path.Clean, with no ".." either: "/" or "/a/b" without empty, "." or
// ".." components and without a trailing slash.
func cleanAbs(p string) bool {
	if p == "/" {
		return true
	}
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; ; {
		j := strings.IndexByte(p[i:], '/')
		c := p[i:]
		if j >= 0 {
			c = p[i : i+j]
		}
		if c == "" || c == "." || c == ".." {
			return false
		}
		if j < 0 {
			return true
		}
		i += j + 1
	}
}
