package fsview_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// randomTree makes the same random tree of directories, files and links
// (relative, absolute, with "." and "..", dangling, looping) in every view.
func randomTree(t *testing.T, r *rand.Rand, views ...*fsview.View) {
	parts := []string{"a", "b", "c", "l", "m"}
	name := func(depth int) string {
		var b strings.Builder
		for range depth {
			b.WriteString("/" + parts[r.IntN(len(parts))])
		}
		return b.String()
	}
	target := func() string {
		elems := []string{"a", "b", "c", "l", "m", "..", ".", "", "x"}
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteString("/")
		}
		for i := range 1 + r.IntN(3) {
			if i > 0 {
				b.WriteString("/")
			}
			b.WriteString(elems[r.IntN(len(elems))])
		}
		return b.String()
	}
	for range 40 {
		n := name(1 + r.IntN(3))
		op, data, tgt := r.IntN(3), fmt.Sprint(r.IntN(100)), target()
		for _, v := range views {
			switch op {
			case 0:
				_ = v.MkdirAll(n, 0o755)
			case 1:
				_ = v.WriteFile(n, []byte(data), 0o644)
			default:
				_ = v.Symlink(tgt, n)
			}
		}
	}
}

// describe runs every resolving operation on name and renders what it
// gave, errors by their errno.
func describe(v *fsview.View, name string) string {
	errno := func(err error) string {
		var e syscall.Errno
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, fsview.ErrLoop):
			return "loop"
		case errors.As(err, &e):
			return e.Error()
		}
		return err.Error()
	}
	var b strings.Builder
	if info, err := v.Lstat(name); err == nil {
		fmt.Fprintf(&b, "lstat %s dir=%t; ", info.Mode().Type(), info.IsDir())
	} else {
		fmt.Fprintf(&b, "lstat %s; ", errno(err))
	}
	if info, err := v.Stat(name); err == nil {
		fmt.Fprintf(&b, "stat dir=%t; ", info.IsDir())
	} else {
		fmt.Fprintf(&b, "stat %s; ", errno(err))
	}
	p, err := v.EvalSymlinks(name)
	fmt.Fprintf(&b, "eval %q %s; ", p, errno(err))
	target, err := v.Readlink(name)
	fmt.Fprintf(&b, "readlink %q %s; ", target, errno(err))
	data, err := v.ReadFile(name)
	fmt.Fprintf(&b, "read %q %s", data, errno(err))
	return b.String()
}

// TestMemResolvesAsOS compares the in-memory view (whose resolution takes
// shortcuts through its index), its clone and the in-memory layer seen
// through Raw alone (walked component by component) with the OS view
// (which walks every component) on random trees and names, odd spellings
// included.
func TestMemResolvesAsOS(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	queries := []string{"a", "b", "c", "l", "m", "..", ".", "", "x"}
	for round := range 60 {
		osv, mem, walked := fsview.NewOS(t.TempDir()), fsview.NewMem(), fsview.New(rawOnly{fsview.NewMemRaw()})
		randomTree(t, r, osv, mem, walked)
		clone, err := mem.Clone()
		require.NoError(t, err)
		for range 40 {
			var b strings.Builder
			for range 1 + r.IntN(5) {
				b.WriteString("/" + queries[r.IntN(len(queries))])
			}
			if r.IntN(4) == 0 {
				b.WriteString("/")
			}
			name := b.String()
			want := describe(osv, name)
			assert.Equal(t, want, describe(mem, name), "round %d: %s", round, name)
			assert.Equal(t, want, describe(clone, name), "round %d (clone): %s", round, name)
			assert.Equal(t, want, describe(walked, name), "round %d (Raw alone): %s", round, name)
		}
		if t.Failed() {
			return
		}
	}
}
