package proc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTool(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho "+dir+"\n"), 0o755))
	return p
}

// The answer is kept per PATH value: the same name on another PATH is
// looked up again, and a missing tool stays an exec.LookPath error (found
// once it is installed).
func TestLookPathIsKeptPerPATH(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	inA := writeTool(t, a, "nixfleet-test-tool")
	inB := writeTool(t, b, "nixfleet-test-tool")
	t.Setenv("PATH", a)
	got, err := LookPath("nixfleet-test-tool")
	require.NoError(t, err)
	assert.Equal(t, inA, got)
	t.Setenv("PATH", b)
	got, err = LookPath("nixfleet-test-tool")
	require.NoError(t, err)
	assert.Equal(t, inB, got)

	_, err = LookPath("nixfleet-test-missing")
	assert.ErrorIs(t, err, exec.ErrNotFound)
	writeTool(t, b, "nixfleet-test-missing")
	_, err = LookPath("nixfleet-test-missing")
	assert.NoError(t, err, "a failed lookup is not kept")
}

// The child sees argv[0] as given, not the path found: Nix's multi-call
// binary dispatches on it.
func TestExecKeepsArgv0AsGiven(t *testing.T) {
	res, err := Exec{}.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", `tr '\0' '\n' </proc/$$/cmdline | head -1`}})
	require.NoError(t, err)
	assert.Equal(t, "sh\n", string(res.Stdout))
}

// Output longer than the copy buffer arrives whole, on both streams.
func TestExecCopiesOutputPastTheBuffer(t *testing.T) {
	res, err := Exec{}.Run(context.Background(), sh("head -c 100000 /dev/zero | tr '\\0' a; head -c 50000 /dev/zero | tr '\\0' b >&2"))
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("a", 100000), string(res.Stdout))
	assert.Equal(t, strings.Repeat("b", 50000), string(res.Stderr))
}
