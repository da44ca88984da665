package sim

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// TestStateDirFaults pins the journal faults of the state directory (the
// scenario language's `journal`, the explorer's journal=... faults):
// ENOSPC refuses new files and directories but not unlink, EROFS refuses
// every change, and after=N lets N whole record writes through first.
func TestStateDirFaults(t *testing.T) {
	d := NewStateDir(fsview.NewMem(), pipeline.DefaultStateDir)
	j := d.Journal()
	rec := pipeline.Record{Op: pipeline.OpActivate, Step: pipeline.StepRealised}

	d.Fail(syscall.ENOSPC, 0)
	require.ErrorIs(t, j.Save(rec), syscall.ENOSPC, "mkdir of the state directory")
	d.Fail(syscall.ENOSPC, 1)
	require.NoError(t, j.Save(rec))
	require.ErrorIs(t, j.Save(rec), syscall.ENOSPC)
	require.NoError(t, j.Clear(), "unlink works on a full disk")

	d.Fail(syscall.EROFS, 1)
	require.NoError(t, j.Save(rec))
	require.ErrorIs(t, j.Save(rec), syscall.EROFS)
	require.ErrorIs(t, j.Clear(), syscall.EROFS)
	got, err := j.Load()
	require.NoError(t, err, "reads work on a read-only filesystem")
	assert.Equal(t, pipeline.StepRealised, got.Step)

	d.Fail(nil, 0)
	require.NoError(t, j.Clear())
	got, err = j.Load()
	require.NoError(t, err)
	assert.Nil(t, got)
}
