package pipeline

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var newRoot = DefaultGCRootDir + "/" + newClosure

func TestActivateRefusesAClosureWithoutAnExecutableSwitch(t *testing.T) {
	prog := "/nix/store/" + newClosure + "/" + SwitchProgramRel
	cases := map[string]struct {
		prepare func(h *fakeHost)
		why     string
	}{
		"missing": {func(h *fakeHost) { require.NoError(t, h.fs.Remove(prog)) }, "cannot use " + prog},
		"not executable": {func(h *fakeHost) {
			require.NoError(t, h.fs.Remove(prog))
			require.NoError(t, h.fs.WriteFile(prog, []byte("#!/bin/sh\n"), 0o444))
		}, "is not executable"},
		"a directory": {func(h *fakeHost) {
			require.NoError(t, h.fs.Remove(prog))
			require.NoError(t, h.fs.MkdirAll(prog, 0o555))
		}, "is not a regular file"},
		"a dangling link": {func(h *fakeHost) {
			require.NoError(t, h.fs.Remove(prog))
			require.NoError(t, h.fs.Symlink("/nix/store/gone/bin/x", prog))
		}, "cannot use " + prog},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t)
			c.prepare(h)
			out := h.activate(newClosure)
			assert.Equal(t, InvalidClosure, out.Kind)
			assert.Equal(t, PhaseClosureCheck, out.Phase)
			assert.Contains(t, out.Reason, c.why)
			assert.Equal(t, []string{"lock", "realise " + newClosure}, h.effects, "nothing after the realise")
			assert.Equal(t, oldClosure, h.profile(t))
			assert.Zero(t, out.Generation, "the profile was not touched")
			_, err := h.fs.Lstat(newRoot)
			assert.ErrorIs(t, err, fs.ErrNotExist, "the GC root is removed")
		})
	}
}

func TestActivateAcceptsASwitchReachedThroughALink(t *testing.T) {
	h := newFakeHost(t)
	prog := "/nix/store/" + newClosure + "/" + SwitchProgramRel
	require.NoError(t, h.fs.Remove(prog))
	require.NoError(t, h.fs.MkdirAll("/nix/store/"+thirdClosure+"/libexec", 0o555))
	require.NoError(t, h.fs.WriteFile("/nix/store/"+thirdClosure+"/libexec/stc", []byte("#!/bin/sh\n"), 0o555))
	require.NoError(t, h.fs.Symlink("/nix/store/"+thirdClosure+"/libexec/stc", prog))
	assert.Equal(t, Settled, h.activate(newClosure).Kind)
}

func TestGCRootHeldFromRealiseUntilTheProfileSet(t *testing.T) {
	h := newFakeHost(t)
	h.setErr = &CommandError{Argv: []string{"nix-env", "--set"}, ExitCode: 1, Stderr: "error: No space left on device\n"}
	out := h.activate(newClosure)
	assert.Equal(t, PhaseNixEnvSet, out.Phase)
	_, err := h.fs.Lstat(newRoot)
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed after a failed set too")

	h = newFakeHost(t)
	out = h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind)
	_, err = h.fs.Lstat(newRoot)
	assert.ErrorIs(t, err, fs.ErrNotExist, "removed once the profile holds the closure")
}

func TestCommandReport(t *testing.T) {
	re := &RealiseError{Kind: RealiseUnreachable, ExitCode: 1, Stderr: "warning: x\n"}
	assert.Equal(t, &CommandReport{Name: "nix-store --realise", ExitCode: KnownExit(1), StderrTail: "warning: x\n", Retryable: true},
		commandReport("nix-store --realise", re))
	ce := &CommandError{Argv: []string{"/run/current-system/sw/bin/systemctl", "stop", "u.service"}, ExitCode: 5}
	assert.Equal(t, "systemctl stop", commandReport("systemd-run", ce).Name, "the failing command's own name")
	assert.False(t, commandReport("systemd-run", ce).Retryable)
	timeout := fmtErr("nix-env --set timed out", context.DeadlineExceeded)
	rep := commandReport("nix-env --set", timeout)
	assert.Equal(t, UnknownExit(), rep.ExitCode, "a timed-out command has no exit status")
	assert.True(t, rep.Retryable)
}

func TestRetryableFailures(t *testing.T) {
	for _, f := range []RealiseFailure{RealiseUnreachable, RealiseNotFound} {
		assert.True(t, f.Retryable(), f)
	}
	for _, f := range []RealiseFailure{RealiseUnauthorized, RealiseUntrusted, RealiseHashMismatch, RealiseCorrupt, RealiseInvalidPath, RealiseOther} {
		assert.False(t, f.Retryable(), f)
	}
}

func fmtErr(msg string, err error) error { return errors.Join(errors.New(msg), err) }
