package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// TestBinaryRealRefusesNonSystemClosure: a signed, cached store path
// without bin/switch-to-configuration (a package, not a system) is realised
// under its GC root, refused as invalid-closure (exit 14), and nothing on
// the host changes: no generation, no unit, no record, and the root is gone.
func TestBinaryRealRefusesNonSystemClosure(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	closure := closureBuilder(t, root)
	a := closure("a", realtest.ClosureOpts{})
	pkg := closure("pkg", realtest.ClosureOpts{NoSwitch: true})
	h := bootHost(t, n, dir, a)
	h.cache.Publish(t, pkg)
	realtest.DeleteFromStore(t, pkg)

	out, exit := h.outcome(t, pipeline.InvalidClosure, h.cache.PublicKey(), "activate", filepath.Base(pkg))
	assert.Equal(t, ExitInvalidClosure, exit)
	assert.Equal(t, pipeline.PhaseClosureCheck, out.Phase)
	assert.Contains(t, out.Reason, "bin/switch-to-configuration")
	assert.Nil(t, out.ExitCode)
	assert.True(t, h.valid(t, pkg), "it was realised")
	assertUntouched(t, h, a, []int{1})
	_, err := os.Lstat(filepath.Join(h.stateDir(), "gcroots", filepath.Base(pkg)))
	assert.ErrorIs(t, err, os.ErrNotExist, "the GC root is removed")
}
