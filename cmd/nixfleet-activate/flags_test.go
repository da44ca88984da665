package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func TestParseArgsFlagsOnEitherSide(t *testing.T) {
	c, err := parseArgs([]string{"--poll-interval=1s", "activate", "X", "--meta", "rollout=r1", "--dry-run"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "activate", c.command)
	assert.Equal(t, "X", c.closure)
	assert.Equal(t, time.Second, c.opts.PollInterval)
	assert.Equal(t, pipeline.DefaultPollBudget, c.opts.PollBudget)
	assert.True(t, c.dryRun)
	assert.Equal(t, map[string]string{"rollout": "r1"}, c.meta)
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"activate"}, {"activate", "a", "b"}, {"rollback", "x"},
		{"status", "--dry-run"}, {"--meta", "novalue", "status"}, {"--poll-interval", "soon", "status"},
		{"--poll-interval", "0", "status"}, {"--poll-budget", "-1s", "status"}, {"--sim", "nope", "status"},
		{"--on-unhealthy", "ignore", "activate", "x"}, {"--confirm-within", "-1s", "activate", "x"}, {"confirm", "x"},
		{"confirm", "--dry-run"}, {"--metrics-file", "m.prom", "activate", "x"}, {"--metrics-file", "./m.prom", "status"},
	} {
		_, err := parseArgs(args, &bytes.Buffer{})
		assert.Error(t, err, "%q", args)
	}
}

// TestMetricsFileMustBeAbsolute: --metrics-file is refused like every other
// path flag when relative, and is optional (none by default).
func TestMetricsFileMustBeAbsolute(t *testing.T) {
	_, err := parseArgs([]string{"--metrics-file", "m.prom", "status"}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--metrics-file must be an absolute path, got "m.prom"`)
	_, err = parseArgs([]string{"--metrics-file", "/var/lib/node_exporter/m.prom", "status"}, &bytes.Buffer{})
	assert.NoError(t, err)
	_, err = parseArgs([]string{"status"}, &bytes.Buffer{})
	assert.NoError(t, err)
}

func TestExitCodesCoverEveryOutcomeKind(t *testing.T) {
	kinds := []pipeline.Kind{
		pipeline.Settled, pipeline.SettledDegraded, pipeline.Skipped, pipeline.InvalidInput,
		pipeline.RealiseFailed, pipeline.SignatureMismatch, pipeline.SwitchFailed, pipeline.VerifyMismatch,
		pipeline.DeferredPendingReboot, pipeline.RollbackSucceeded, pipeline.RollbackDegraded,
		pipeline.RollbackFailed, pipeline.Interrupted, pipeline.Abandoned, pipeline.AlreadyCurrent, pipeline.BadEnvironment,
		pipeline.InvalidClosure, pipeline.RolledBack,
	}
	require.Len(t, exitCodes, len(kinds))
	for _, k := range kinds {
		_, ok := exitCodes[k]
		assert.True(t, ok, "no exit code for %s", k)
	}
	assert.Equal(t, ExitInternal, exitCode("no-such-kind"))
	assert.Equal(t, ExitSuccess, exitCode(pipeline.AlreadyCurrent), "already-current is a success")
}

func TestParseArgsFailureChoices(t *testing.T) {
	c, err := parseArgs([]string{"activate", "--on-failure=keep", "--force", "x"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, pipeline.OnFailureKeep, c.opts.OnFailure)
	assert.True(t, c.opts.Force)
	c, err = parseArgs([]string{"rollback", "--generation", "16"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 16, c.opts.RollbackGeneration)
	assert.Equal(t, pipeline.OnFailureRestore, c.opts.OnFailure, "restore by default")
	_, err = parseArgs([]string{"activate", "--on-failure=maybe", "x"}, io.Discard)
	assert.ErrorContains(t, err, "--on-failure")
}

func TestDryRunActivatePrintsCommandsAndRunsNothing(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "nix/store/aaaa-nixos-system-web-24.05"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run"), 0o755))
	require.NoError(t, os.Symlink("/nix/store/aaaa-nixos-system-web-24.05", filepath.Join(root, "run/current-system")))
	before := treeOf(t, root)
	var stdout, stderr bytes.Buffer
	closure := "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.11"
	code := run(t.Context(), []string{"--root", root, "--dry-run", "activate", "/nix/store/" + closure}, &stdout, &stderr)
	require.Equal(t, ExitSuccess, code, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, `"expected_outcome":"settled"`)
	assert.Contains(t, out, `"nix-store","--realise","/nix/store/`+closure+`"`)
	assert.Contains(t, out, `"nix-env","--profile","/nix/var/nix/profiles/system","--set","/nix/store/`+closure+`"`)
	assert.Contains(t, out, `"/nix/store/`+closure+`/bin/switch-to-configuration","switch"`)
	assert.Equal(t, before, treeOf(t, root), "nothing under --root changed")
}

func TestDryRunOnAHostWithoutCurrentSystemPlansTheRefusal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	closure := "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.11"
	code := run(t.Context(), []string{"--root", t.TempDir(), "--dry-run", "activate", closure}, &stdout, &stderr)
	require.Equal(t, ExitSuccess, code, stderr.String())
	assert.Contains(t, stdout.String(), `"expected_outcome":"switch-failed","expected_phase":"read-current-system","expected_reason":"nothing changed: current-system unreadable`)
	assert.NotContains(t, stdout.String(), `"nix-store"`, "the run stops before its first command")
	assert.NotContains(t, stdout.String(), `"deferred"`, "a refusal before the components are compared has no deferred branch")
}

// treeOf lists every name under root with its link target, if any.
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		target, _ := os.Readlink(p)
		names = append(names, p+" "+info.Mode().String()+" "+target)
		return nil
	}))
	return names
}

func TestInvalidClosureIsReportedNotRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--root", t.TempDir(), "activate", "../../etc/passwd"}, &stdout, &stderr)
	assert.Equal(t, ExitInvalidInput, code)
	assert.Contains(t, stdout.String(), `"outcome":"invalid-input"`)
}

// TestRecordRefusedWithDryRunAndSim: a transcript of a dry run or of a
// simulated run could never replay, so --record with either is a usage
// error (exit 2) with a one-line reason, and nothing is written.
func TestRecordRefusedWithDryRunAndSim(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "run.txtar")
	for _, args := range [][]string{
		{"--record", file, "--dry-run", "activate", "x"},
		{"rollback", "--dry-run", "--record", file},
		{"--record", file, "--sim", "happy", "activate"},
		{"--sim", "happy", "--record", file, "recover"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), args, &stdout, &stderr)
		assert.Equal(t, ExitUsage, code, "%q: %s", args, stderr.String())
		first, _, _ := bytes.Cut(stderr.Bytes(), []byte("\n"))
		assert.Contains(t, string(first), "--record applies to a real run", "%q", args)
		assert.Empty(t, stdout.String())
	}
	_, err := os.Stat(file)
	assert.ErrorIs(t, err, os.ErrNotExist, "no transcript written")
}

// TestOutcomeJSONIsNotHTMLEscaped: the reason's <32-char hash> is printed
// as is, not as \u003c32-char hash\u003e (the same JSON value).
func TestOutcomeJSONIsNotHTMLEscaped(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--root", t.TempDir(), "activate", "not-a-store-path"}, &stdout, &stderr)
	assert.Equal(t, ExitInvalidInput, code)
	assert.Contains(t, stdout.String(), "<32-char hash>-<name>")
	assert.NotContains(t, stdout.String(), `\u003c`)
}
