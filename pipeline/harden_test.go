package pipeline

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/fsview"
)

// tableLock is an AgentLock held by someone else until release.
type tableLock struct{ held bool }

func (l *tableLock) TryLock() (func(), error) {
	if l.held {
		return nil, ErrAgentLockHeld
	}
	l.held = true
	return func() { l.held = false }, nil
}

func TestAgentLockHeldIsSkippedAtOnce(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	lock := &tableLock{held: true}
	release, out := AcquireAgentLock(t.Context(), Deps{Clock: clk, AgentLock: lock}, 0)
	assert.Nil(t, release)
	require.NotNil(t, out)
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, PhaseAgentLock, out.Phase)
	assert.Equal(t, time.Duration(0), clk.Now().Sub(clock.Epoch), "no wait without --wait-lock")
}

func TestAgentLockWaitsUntilReleased(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	lock := &tableLock{held: true}
	clk.Schedule(1500*time.Millisecond, func() { lock.held = false })
	release, out := AcquireAgentLock(t.Context(), Deps{Clock: clk, AgentLock: lock}, 5*time.Second)
	require.Nil(t, out)
	assert.True(t, lock.held)
	assert.Equal(t, 1500*time.Millisecond, clk.Now().Sub(clock.Epoch), "taken at the first retry after the release")
	release()
	assert.False(t, lock.held)
}

func TestAgentLockWaitIsBounded(t *testing.T) {
	clk := clock.NewVirtual(time.Time{})
	_, out := AcquireAgentLock(t.Context(), Deps{Clock: clk, AgentLock: &tableLock{held: true}}, 2*time.Second)
	require.NotNil(t, out)
	assert.Equal(t, Skipped, out.Kind)
	assert.Contains(t, out.Reason, "after waiting 2s")
	assert.Equal(t, 2*time.Second, clk.Now().Sub(clock.Epoch))
}

type brokenLock struct{}

func (brokenLock) TryLock() (func(), error) {
	return nil, errors.New("open /run/x.lock: too many levels of symbolic links")
}

func TestAgentLockThatCannotBeTakenIsABadEnvironment(t *testing.T) {
	_, out := AcquireAgentLock(context.Background(), Deps{Clock: clock.NewVirtual(time.Time{}), AgentLock: brokenLock{}}, time.Minute)
	require.NotNil(t, out)
	assert.Equal(t, BadEnvironment, out.Kind)
	assert.Contains(t, out.Reason, "symbolic links")
}

func TestValidateUnitName(t *testing.T) {
	for _, ok := range []string{"nixfleet-activate-switch", "a", "x@y", "a:b_c.d\\e", strings.Repeat("u", UnitNameMax-len(".service"))} {
		assert.NoError(t, ValidateUnitName(ok), ok)
	}
	for name, why := range map[string]string{
		"":      "empty",
		"-x":    "begins with '-'",
		"a b":   `has ' '`,
		"a/b":   `has '/'`,
		"é":     `has 'é'`,
		"@x":    "empty prefix",
		"x@":    "empty instance",
		"a\xff": `has "\xff"`,
		strings.Repeat("u", UnitNameMax-len(".service")+1): "longer than 247",
	} {
		err := ValidateUnitName(name)
		var bad *InvalidUnitNameError
		require.ErrorAs(t, err, &bad, "%q", name)
		assert.Contains(t, err.Error(), why, "%q", name)
	}
}

func TestBadInputQuotesARuneAndIsBounded(t *testing.T) {
	err := ValidateBasename("0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-système")
	assert.Contains(t, err.Error(), `name has 'è'`)
	long := "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-" + strings.Repeat("é", 5000)
	msg := ValidateBasename(long).Error()
	assert.Less(t, len(msg), 400, "bounded")
	assert.Contains(t, msg, "(10033 bytes)")
}

func TestFileJournalModesAndKeptAsideNamesNeverCollide(t *testing.T) {
	root := t.TempDir()
	j := FileJournal{FS: fsview.NewOS(root), Dir: DefaultStateDir, UID: os.Geteuid(),
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	require.NoError(t, j.Save(Record{Op: OpActivate, Step: StepRealised, Meta: map[string]string{"k": "secret"}}))
	dir, err := os.Stat(root + DefaultStateDir)
	require.NoError(t, err)
	assert.Equal(t, StateDirPerm, dir.Mode().Perm())
	rec, err := os.Stat(root + j.file())
	require.NoError(t, err)
	assert.Equal(t, RecordPerm, rec.Mode().Perm())
	var kept []string
	for range 3 {
		require.NoError(t, os.WriteFile(root+j.file(), []byte("garbage"), 0o600))
		_, err := j.Load()
		var corrupt *CorruptRecordError
		require.ErrorAs(t, err, &corrupt)
		kept = append(kept, corrupt.KeptAt)
	}
	assert.Equal(t, []string{
		"/var/lib/nixfleet-activate/in-flight.json.corrupt-20260102T030405Z",
		"/var/lib/nixfleet-activate/in-flight.json.corrupt-20260102T030405Z.1",
		"/var/lib/nixfleet-activate/in-flight.json.corrupt-20260102T030405Z.2",
	}, kept)
}

func TestFileJournalRefusesAnUnsafeStateDirectory(t *testing.T) {
	v := fsview.NewMem()
	j := FileJournal{FS: v, Dir: DefaultStateDir}
	require.NoError(t, v.MkdirAll(DefaultStateDir, 0o777))
	var bad *BadEnvironmentError
	require.ErrorAs(t, j.Save(Record{Op: OpActivate}), &bad)
	assert.Contains(t, bad.Error(), "writable by group or others (mode 0777)")
	_, err := j.Load()
	require.ErrorAs(t, err, &bad)
	for _, dir := range []string{"", "relative"} {
		require.ErrorAs(t, FileJournal{FS: v, Dir: dir}.CheckDir(true), &bad, "%q", dir)
	}
}

func TestPeekLeavesACorruptRecordInPlace(t *testing.T) {
	v := fsview.NewMem()
	j := FileJournal{FS: v, Dir: DefaultStateDir}
	require.NoError(t, v.MkdirAll(DefaultStateDir, 0o700))
	require.NoError(t, v.WriteFile(j.file(), []byte("{"), 0o600))
	_, err := j.Peek()
	var corrupt *CorruptRecordError
	require.ErrorAs(t, err, &corrupt)
	assert.Contains(t, err.Error(), "left in place")
	_, err = v.Lstat(j.file())
	assert.NoError(t, err)
	_, err = v.Lstat(j.file() + ".corrupt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
