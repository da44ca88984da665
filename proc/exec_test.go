package proc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sh(script string) Cmd { return Cmd{Argv: []string{"/bin/sh", "-c", script}} }

func TestExecReportsExitCodeAndOutput(t *testing.T) {
	res, err := Exec{}.Run(context.Background(), sh("echo out; echo err >&2; exit 4"))
	require.NoError(t, err)
	assert.Equal(t, 4, res.ExitCode)
	assert.Equal(t, "out\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
	assert.False(t, res.Truncated)
}

func TestExecReportsSignalAs128PlusSigno(t *testing.T) {
	res, err := Exec{}.Run(context.Background(), sh("kill -9 $$"))
	require.NoError(t, err)
	assert.Equal(t, 128+9, res.ExitCode)
}

func TestExecKeepsTheTailOfStderr(t *testing.T) {
	res, err := Exec{}.Run(context.Background(), sh("head -c 200000 /dev/zero | tr '\\0' a >&2; echo LAST >&2"))
	require.NoError(t, err)
	assert.Len(t, res.Stderr, MaxStderr)
	assert.True(t, strings.HasSuffix(string(res.Stderr), "LAST\n"))
	assert.True(t, res.Truncated)
}

func TestExecCancelKillsTheProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The grandchild keeps the pipe open: only a group kill ends Run.
		_, err := Exec{}.Run(ctx, sh("sleep 60 & sleep 60"))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestExecMissingProgramIsAnError(t *testing.T) {
	_, err := Exec{}.Run(context.Background(), Cmd{Argv: []string{"/nonexistent/nix-store"}})
	assert.Error(t, err)
	_, err = Exec{}.Run(context.Background(), Cmd{})
	assert.Error(t, err)
}

func TestCmdStringQuotes(t *testing.T) {
	c := Cmd{Argv: []string{"systemd-run", "--description=a b", "it's", "/nix/store/x-y_1.0"}}
	assert.Equal(t, `systemd-run '--description=a b' 'it'\''s' /nix/store/x-y_1.0`, c.String())
}
